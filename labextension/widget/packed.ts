/**
 * Server frames are parsed off the page's main thread. While a step writes at full speed
 * the page receives ~30 MB of JSON per million lines; parsing it (a string and a timestamp
 * per line) was the biggest cost of the page. A worker parses each frame and packs every
 * log batch's lines into one string plus end offsets, and its times into a typed array:
 * posting that back is a copy of one string, and the log store keeps the string as a page.
 * Without workers (tests, odd embeddings) frames are parsed on the main thread as before.
 */
import type { Envelope } from './types';

/** The lines of a log_update, packed: `text` cut at `ends`; `ts` one time per line. */
export interface PackedLines {
  text: string;
  ends: Uint32Array;
  ts: Float64Array | null;
}

/**
 * Parse one frame (a JSON list of envelopes, or one) and pack its log batches of a single
 * stream: `data.lines`/`data.ts` become `data.packed`. Self-contained (no imports, no
 * helpers): the worker runs its source text.
 */
export function packFrame(text: string): { events: unknown[]; transfer: ArrayBuffer[] } {
  const parsed = JSON.parse(text);
  const events: unknown[] = Array.isArray(parsed) ? parsed : [parsed];
  const transfer: ArrayBuffer[] = [];
  for (const event of events as Array<{ type?: unknown; data?: Record<string, unknown> } | null>) {
    const data = event && event.type === 'log_update' ? event.data : undefined;
    const lines = data?.lines;
    if (!data || !Array.isArray(lines) || lines.length < 64 || (data.stream !== undefined && typeof data.stream !== 'string')) {
      continue; // small batches and per-line streams stay as they are
    }
    const n = lines.length;
    const ends = new Uint32Array(n);
    let end = 0;
    let ok = true;
    for (let i = 0; i < n; i++) {
      const line = lines[i];
      if (typeof line !== 'string') {
        ok = false;
        break;
      }
      end += line.length;
      ends[i] = end;
    }
    const times = data.ts;
    let ts: Float64Array | null = null;
    if (ok && Array.isArray(times)) {
      ts = new Float64Array(n);
      for (let i = 0; i < n && ok; i++) {
        ok = typeof times[i] === 'number';
        ts[i] = times[i] as number;
      }
    }
    if (!ok) continue;
    data.packed = { text: lines.join(''), ends, ts };
    delete data.lines;
    delete data.ts;
    transfer.push(ends.buffer as ArrayBuffer);
    if (ts) transfer.push(ts.buffer as ArrayBuffer);
  }
  return { events, transfer };
}

/** The lines of a packed batch, one string each (for the rare batch the fast path refuses). */
export function unpackLines(packed: PackedLines): string[] {
  const out = new Array<string>(packed.ends.length);
  let start = 0;
  for (let i = 0; i < packed.ends.length; i++) {
    out[i] = packed.text.slice(start, packed.ends[i]);
    start = packed.ends[i];
  }
  return out;
}

const WORKER_SOURCE = `const packFrame = ${packFrame.toString()};
self.onmessage = ev => {
  const [id, text] = ev.data;
  try {
    const { events, transfer } = packFrame(text);
    self.postMessage([id, events, null], transfer);
  } catch (err) {
    self.postMessage([id, null, String(err)]);
  }
};`;

type Reply = [number, Envelope[] | null, string | null];

/** Smaller frames are parsed here when none is in the worker: a trickle of lines gets no extra hop. */
const WORKER_MIN_CHARS = 32 * 1024;

/** One worker for every parser of the page (a notebook may show many views). */
let shared: Worker | null | undefined;
const parsers = new Map<number, FrameParser>();
let nextId = 0;

function sharedWorker(): Worker | null {
  if (shared !== undefined) return shared;
  shared = null;
  try {
    if (typeof Worker !== 'undefined' && typeof Blob !== 'undefined' && typeof URL.createObjectURL === 'function') {
      const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
      const worker = new Worker(url);
      worker.onmessage = (ev: MessageEvent<Reply>) => parsers.get(ev.data[0])?.answered(ev.data[1], ev.data[2]);
      // A page whose policy refuses the worker: parse on the main thread, what it held too.
      worker.onerror = ev => {
        ev.preventDefault();
        worker.terminate();
        shared = null;
        for (const parser of parsers.values()) parser.fallBack();
      };
      shared = worker;
    }
  } catch {
    shared = null;
  }
  return shared;
}

/** Parses frames in order, in the page's worker when it can start one; events go to `onEvents`. */
export class FrameParser {
  private readonly id = nextId++;
  /** Frames the worker has not answered yet, oldest first. */
  private inflight: string[] = [];
  /** Called once every frame parsed so far has been handed on. */
  private waiting: Array<() => void> = [];
  private disposed = false;

  constructor(private readonly onEvents: (events: Envelope[]) => void) {
    parsers.set(this.id, this);
  }

  /** Parse one frame's text; its events arrive after those of every earlier frame. */
  parse(text: string): void {
    const worker = this.inflight.length > 0 || text.length >= WORKER_MIN_CHARS ? sharedWorker() : null;
    if (worker && !this.disposed) {
      this.inflight.push(text);
      worker.postMessage([this.id, text]);
      return;
    }
    this.parseHere(text);
  }

  /** Run `then` once the events of every frame passed to `parse` so far were handed on. */
  whenParsed(then: () => void): void {
    if (this.inflight.length === 0) then();
    else this.waiting.push(then);
  }

  dispose(): void {
    this.disposed = true;
    this.inflight = [];
    this.waiting = [];
    parsers.delete(this.id);
  }

  /** The worker's answer to the oldest frame in flight. */
  answered(events: Envelope[] | null, error: string | null): void {
    this.inflight.shift();
    if (events) this.onEvents(events);
    else console.warn('ansflow: bad frame', error);
    if (this.inflight.length === 0) this.settled();
  }

  /** The worker is gone: parse what it held here, in order. */
  fallBack(): void {
    const held = this.inflight;
    this.inflight = [];
    for (const text of held) this.parseHere(text);
    this.settled();
  }

  private settled(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const then of waiting) then();
  }

  private parseHere(text: string): void {
    try {
      this.onEvents(packFrame(text).events as Envelope[]);
    } catch (err) {
      console.warn('ansflow: bad frame', err);
    }
  }
}
