/** A tiny in-memory stand-in for the anywidget model, so the lab panel reuses the widget view. */
import type { ModelLike } from '../widget/view';

type Handler = (...args: unknown[]) => void;

export class LocalModel implements ModelLike {
  private readonly handlers = new Map<string, Set<Handler>>();

  constructor(private readonly values: Record<string, unknown>) {}

  get(name: string): unknown {
    return this.values[name];
  }

  set(name: string, value: unknown): void {
    if (this.values[name] !== value) {
      this.values[name] = value;
      this.emit(`change:${name}`, value);
    }
  }

  save_changes(): void {
    this.emit('saved');
  }

  on(event: string, cb: Handler): void {
    let set = this.handlers.get(event);
    if (!set) {
      set = new Set();
      this.handlers.set(event, set);
    }
    set.add(cb);
  }

  off(event?: string | null, cb?: Handler | null): void {
    if (!event) {
      this.handlers.clear();
    } else if (!cb) {
      this.handlers.delete(event);
    } else {
      this.handlers.get(event)?.delete(cb);
    }
  }

  /** The server transport never sends kernel messages; kept for the interface. */
  send(): void {}

  private emit(event: string, ...args: unknown[]): void {
    for (const cb of this.handlers.get(event) ?? []) {
      cb(...args);
    }
  }
}
