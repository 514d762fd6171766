/** A happy-dom window as the global DOM, and a fake widget model, for component tests. */
import { Window } from 'happy-dom';
import type { ModelLike } from '../widget/adapters';
import type { Envelope } from '../widget/types';

const win = new Window({ url: 'http://localhost:8888/lab' });
const g = globalThis as Record<string, unknown>;
for (const name of [
  'window',
  'document',
  'requestAnimationFrame',
  'cancelAnimationFrame',
  'location',
  'ResizeObserver',
  'HTMLElement',
  'Element',
  'Node',
  'getComputedStyle'
]) {
  const value = (win as unknown as Record<string, unknown>)[name];
  g[name] = typeof value === 'function' && /^[a-z]/.test(name) ? (value as (...a: unknown[]) => unknown).bind(win) : value;
}
g.window = win;

/** The next animation frames have run. */
export function frames(): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, 30));
}

/** An embedded-mode model: the test pushes envelopes as the kernel would. */
export class FakeModel implements ModelLike {
  private readonly handlers = new Map<string, Array<(...args: any[]) => void>>();
  readonly sent: unknown[] = [];
  constructor(private readonly values: Record<string, unknown> = { mode: 'embedded', execution_id: 'ex-1' }) {}
  get(name: string): unknown {
    return this.values[name];
  }
  set(name: string, value: unknown): void {
    this.values[name] = value;
    for (const cb of this.handlers.get(`change:${name}`) ?? []) cb(value);
  }
  save_changes(): void {}
  on(event: string, cb: (...args: any[]) => void): void {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), cb]);
  }
  off(): void {}
  send(content: unknown): void {
    this.sent.push(content);
  }
  push(events: Envelope[]): void {
    for (const cb of this.handlers.get('msg:custom') ?? []) cb({ type: 'events', events });
  }
}

/** A fresh container attached to the document. */
export function container(): HTMLElement {
  const el = document.createElement('div');
  document.body.append(el);
  return el;
}

/**
 * The page config JupyterLab writes, with a token (`sekrit`): it must travel in a header,
 * never in a URL. Returns the element, to remove after the test.
 */
export function pageToken(token = 'sekrit'): HTMLElement {
  const el = document.createElement('script');
  el.id = 'jupyter-config-data';
  el.textContent = JSON.stringify({ token });
  document.body.append(el);
  return el;
}
