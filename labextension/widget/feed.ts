/**
 * Live events are applied in order within a time budget per task: a frame of thousands of
 * lines (a backlog after a pause, a step writing at full speed) never blocks the page for
 * long. What is left waits for the next task, and the page draws frames in between.
 */
import type { Envelope, LogUpdate } from './types';

/** Milliseconds of applying events per task before the page gets to draw. */
export const APPLY_BUDGET_MS = 6;
/** A big log_update is applied in parts of this many lines (the budget is checked between). */
export const APPLY_SLICE_LINES = 2_000;

/**
 * A log_update cut into parts of at most `max` lines, in order (the event itself when it
 * fits). Only the last part carries the seq: a resume after a reconnect then starts from
 * the seq before it, and the lines already held are skipped by their offsets.
 */
export function sliceLogEvent(event: Envelope, max: number): Envelope[] {
  const data = event.data as unknown as LogUpdate | undefined;
  if (event.type !== 'log_update' || !data || !Array.isArray(data.lines) || data.lines.length <= max) {
    return [event];
  }
  const { lines, ts, stream } = data;
  const offset = Number(data.offset) || 0;
  const parts: Envelope[] = [];
  for (let from = 0; from < lines.length; from += max) {
    const to = Math.min(lines.length, from + max);
    const part: LogUpdate = {
      ...data,
      offset: offset + from,
      lines: lines.slice(from, to),
      ts: Array.isArray(ts) ? ts.slice(from, to) : ts,
      stream: Array.isArray(stream) ? stream.slice(from, to) : stream
    };
    parts.push({ ...event, seq: to === lines.length ? event.seq : null, data: part as unknown as Envelope['data'] });
  }
  return parts;
}

/** Applies pushed events in arrival order, at most `budgetMs` per task (at least one part). */
export class EventFeed {
  private queue: Envelope[] = [];
  private head = 0;
  private scheduled = false;
  private readonly channel = new MessageChannel();

  constructor(
    private readonly apply: (event: Envelope) => void,
    private readonly budgetMs = APPLY_BUDGET_MS,
    private readonly sliceLines = APPLY_SLICE_LINES
  ) {
    // A message task, not setTimeout: nested timeouts are clamped to 4 ms each.
    this.channel.port1.onmessage = () => {
      this.scheduled = false;
      this.run();
    };
  }

  /** Events not applied yet (parts of a sliced event count one each). */
  get pending(): number {
    return this.queue.length - this.head;
  }

  /** Queue events and apply what the budget allows now. */
  push(events: readonly Envelope[]): void {
    for (const event of events) {
      this.queue.push(event);
    }
    this.run();
  }

  /** Forget what was not applied (the view switched to another execution). */
  clear(): void {
    this.queue = [];
    this.head = 0;
  }

  dispose(): void {
    this.clear();
    this.channel.port1.onmessage = null;
    this.channel.port1.close();
    this.channel.port2.close();
  }

  private run(): void {
    const until = performance.now() + this.budgetMs;
    while (this.head < this.queue.length) {
      const event = this.queue[this.head];
      const parts = sliceLogEvent(event, this.sliceLines);
      if (parts.length > 1) {
        this.queue.splice(this.head, 1, ...parts);
      }
      this.head++;
      this.apply(parts[0]);
      if (performance.now() >= until) {
        break;
      }
    }
    if (this.head >= this.queue.length) {
      this.clear();
    } else {
      if (this.head > 1024) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      if (!this.scheduled) {
        this.scheduled = true;
        this.channel.port2.postMessage(0);
      }
    }
  }
}
