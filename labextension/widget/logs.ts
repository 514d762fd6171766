/**
 * Bounded in-browser log storage: per-step line arrays plus one time-ordered index
 * for the "All steps" view (merged by timestamp, live and after a reload alike). Memory stays bounded: past `maxLines` the oldest lines (in
 * time order, across steps) are dropped in chunks and counted, so the view can say so.
 */

/** Packs (step index, local line number) into one double: cheaper than 2M small objects. */
import { LineList } from './linelist';
import { type PackedLines, unpackLines } from './packed';

const REF_SHIFT = 2 ** 32;
const LOCAL_BIAS = 2 ** 31;

export interface StepLog {
  readonly id: string;
  readonly index: number;
  lines: LineList;
  ts: number[];
  /** Local number of lines[0]; goes negative when older history is prepended. */
  base: number;
  /** Step line number (offset) of lines[0] (earlier lines were dropped or never loaded). */
  first: number;
  /** Step line number (offset) expected next; -1 until the first line arrives. */
  next: number;
  dropped: number;
  /** Local numbers of the lines written to stderr. */
  stderr: Set<number>;
  /** Local numbers of the lines the view added (gaps, attempt separators). */
  info: Set<number>;
  /** Separators to put before a step line number when it arrives (a stored run's attempts). */
  marks: Map<number, string>;
}

/** One row of a log view, resolved. */
export interface LogRow {
  step: StepLog;
  line: string;
  ts: number;
  /** The line's local number in its step (to look up stderr/info). */
  local: number;
}

export const DEFAULT_MAX_LINES = 2_000_000;

/** Every step's lines plus their time order across steps, within `maxLines`. */
export class LogStore {
  readonly steps = new Map<string, StepLog>();
  private readonly byIndex: StepLog[] = [];
  private refs: number[] = [];
  private head = 0;
  total = 0;
  droppedTotal = 0;
  /** Bumped on every change so renderers know when to redraw. */
  version = 0;

  constructor(readonly maxLines = DEFAULT_MAX_LINES) {}

  /** The log of a step, created on first use. */
  step(id: string): StepLog {
    let log = this.steps.get(id);
    if (!log) {
      log = {
        id,
        index: this.byIndex.length,
        lines: new LineList(),
        ts: [],
        base: 0,
        first: 0,
        next: -1,
        dropped: 0,
        stderr: new Set(),
        info: new Set(),
        marks: new Map()
      };
      this.steps.set(id, log);
      this.byIndex.push(log);
    }
    return log;
  }

  /**
   * Add lines at a step line number (offset). Idempotent: lines already held are skipped, so a replay
   * after a reconnect or a re-sent snapshot never duplicates. Older contiguous lines
   * (a history back-fill) are prepended; a gap gets one marker line.
   */
  add(
    stepId: string,
    offset: number,
    lines: readonly string[],
    ts: readonly number[] | undefined,
    fallbackTs: number,
    stream: string | readonly string[] = 'stdout'
  ): void {
    if (lines.length === 0) {
      return;
    }
    const log = this.step(stepId);
    const end = offset + lines.length;
    const isErr = (i: number): boolean => (typeof stream === 'string' ? stream : stream[i]) === 'stderr';
    if (log.next < 0) {
      log.first = offset;
      log.next = offset;
    }
    if (offset < log.first) {
      // History from before the first line held (a back-fill racing the live stream).
      if (end < log.first) {
        return; // not contiguous: keeping it would misplace it
      }
      const count = log.first - offset;
      this.prepend(log, offset, lines.slice(0, count), ts?.slice(0, count), fallbackTs, isErr);
    }
    if (end <= log.next) {
      this.version++;
      return;
    }
    let skip = 0;
    if (offset < log.next) {
      skip = log.next - offset;
    } else if (offset > log.next) {
      log.info.add(log.base + log.lines.length);
      this.push(log, `⋯ ${offset - log.next} lines not received`, ts?.[0] ?? fallbackTs);
    }
    const marked = log.marks.size > 0;
    for (let i = skip; i < lines.length; i++) {
      const lineTs = ts?.[i] ?? fallbackTs;
      if (marked) this.placeMark(log, offset + i, lineTs);
      if (isErr(i)) log.stderr.add(log.base + log.lines.length);
      this.push(log, lines[i], lineTs);
    }
    log.next = end;
    this.enforceCap();
    this.version++;
  }

  /**
   * Add a packed batch (packed.ts). The usual live case, the step's next lines in time
   * order, takes the batch's string as one page with no per-line strings; anything else
   * (a replay, a gap, history, late times) goes through `add`.
   */
  addPacked(stepId: string, offset: number, packed: PackedLines, fallbackTs: number, stream: string | readonly string[] = 'stdout'): void {
    const log = this.step(stepId);
    const n = packed.ends.length;
    const ts = packed.ts;
    let inOrder = n > 0 && typeof stream === 'string' && (log.next < 0 || log.next === offset);
    for (const at of log.marks.keys()) if (at >= offset && at < offset + n) inOrder = false; // a separator goes in between
    let last = this.refs.length === this.head ? Number.NEGATIVE_INFINITY : this.refTs(this.refs[this.refs.length - 1]);
    for (let i = 0; inOrder && i < n; i++) {
      const t = ts ? ts[i] : fallbackTs;
      inOrder = !(t < last);
      last = t;
    }
    if (!inOrder) {
      this.add(stepId, offset, unpackLines(packed), ts ? Array.from(ts) : undefined, fallbackTs, stream);
      return;
    }
    if (log.next < 0) {
      log.first = offset;
      log.next = offset;
    }
    const local0 = log.base + log.lines.length;
    const ref0 = log.index * REF_SHIFT + LOCAL_BIAS + local0;
    log.lines.pushPage(packed.text, packed.ends);
    for (let i = 0; i < n; i++) {
      log.ts.push(ts ? ts[i] : fallbackTs);
      this.refs.push(ref0 + i);
      if (stream === 'stderr') log.stderr.add(local0 + i);
    }
    this.total += n;
    log.next = offset + n;
    this.enforceCap();
    this.version++;
  }

  /** Add a line of the view's own (an attempt separator) after what the step holds. */
  note(stepId: string, text: string, ts: number): void {
    const log = this.step(stepId);
    log.info.add(log.base + log.lines.length);
    this.push(log, text, ts);
    this.enforceCap();
    this.version++;
  }

  /**
   * A separator of the view's own before step line `offset`, drawn when that line is added
   * (live or loaded later, by paging back or forward); dropped if the line is already held.
   */
  mark(stepId: string, offset: number, text: string): void {
    const log = this.step(stepId);
    if (log.next < 0 || offset >= log.next || offset < log.first) log.marks.set(offset, text);
  }

  private placeMark(log: StepLog, offset: number, ts: number): void {
    const text = log.marks.get(offset);
    if (text === undefined) return;
    log.marks.delete(offset);
    log.info.add(log.base + log.lines.length);
    this.push(log, text, ts);
  }

  private push(log: StepLog, line: string, ts: number): void {
    const local = log.base + log.lines.length;
    log.lines.push(line);
    log.ts.push(ts);
    this.insertRef(log.index * REF_SHIFT + local + LOCAL_BIAS, ts);
    this.total++;
  }

  private refTs(ref: number): number {
    const step = this.byIndex[Math.floor(ref / REF_SHIFT)];
    return step.ts[(ref % REF_SHIFT) - LOCAL_BIAS - step.base] ?? Number.NEGATIVE_INFINITY;
  }

  /**
   * Keep the all-steps index in time order. Lines mostly arrive in order, so this is a
   * push; a batch of another step that was sent late lands near the end (a short splice).
   */
  private insertRef(ref: number, ts: number): void {
    const refs = this.refs;
    if (refs.length === this.head || !(ts < this.refTs(refs[refs.length - 1]))) {
      refs.push(ref);
      return;
    }
    let lo = this.head;
    let hi = refs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.refTs(refs[mid]) <= ts) lo = mid + 1;
      else hi = mid;
    }
    refs.splice(lo, 0, ref);
  }

  /** Put `lines` (ending exactly at log.first) before what the step holds. */
  private prepend(
    log: StepLog,
    offset: number,
    lines: readonly string[],
    ts: readonly number[] | undefined,
    fallbackTs: number,
    isErr: (i: number) => boolean
  ): void {
    if (log.dropped > 0 || lines.length === 0) {
      return; // never re-grow what the cap dropped
    }
    // Separators due inside (or at the end of) this history go in with it.
    const added: string[] = [];
    const addedTs: number[] = [];
    const errs: number[] = [];
    const infos: number[] = [];
    for (let i = 0; i <= lines.length; i++) {
      const text = log.marks.get(offset + i);
      const at = ts?.[Math.min(i, lines.length - 1)] ?? fallbackTs;
      if (text !== undefined) {
        log.marks.delete(offset + i);
        infos.push(added.length);
        added.push(text);
        addedTs.push(at);
      }
      if (i === lines.length) break;
      if (isErr(i)) errs.push(added.length);
      added.push(lines[i]);
      addedTs.push(at);
    }
    const count = added.length;
    log.base -= count;
    log.first = offset;
    log.lines.prepend(added);
    log.ts = addedTs.concat(log.ts);
    for (const i of errs) log.stderr.add(log.base + i);
    for (const i of infos) log.info.add(log.base + i);
    // Merge the (older) history into the time-ordered index: both sides are sorted.
    const newRefs = added.map((_, i) => log.index * REF_SHIFT + log.base + i + LOCAL_BIAS);
    const old = this.refs;
    const merged: number[] = [];
    let a = 0;
    let b = this.head;
    while (a < newRefs.length || b < old.length) {
      if (b >= old.length || (a < newRefs.length && !(this.refTs(old[b]) < this.refTs(newRefs[a])))) {
        merged.push(newRefs[a++]);
      } else {
        merged.push(old[b++]);
      }
    }
    this.refs = merged;
    this.head = 0;
    this.total += count;
    this.enforceCap();
  }

  private enforceCap(): void {
    if (this.total <= this.maxLines) {
      return;
    }
    // Drop in chunks (10% of the cap) so the O(n) splices are amortised.
    const drop = Math.min(this.total, this.total - this.maxLines + Math.max(1, Math.floor(this.maxLines / 10)));
    const perStep = new Map<StepLog, number>();
    for (let i = 0; i < drop; i++) {
      const log = this.byIndex[Math.floor(this.refs[this.head + i] / REF_SHIFT)];
      perStep.set(log, (perStep.get(log) ?? 0) + 1);
    }
    this.head += drop;
    for (const [log, n] of perStep) {
      log.lines.dropFirst(n);
      log.ts.splice(0, n);
      log.base += n;
      log.first += n;
      log.dropped += n;
    }
    this.total -= drop;
    this.droppedTotal += drop;
    if (this.head > 65536 && this.head * 2 > this.refs.length) {
      this.refs = this.refs.slice(this.head);
      this.head = 0;
    }
  }

  /** Number of rows of a view: one step, or every step (null) in time order. */
  count(stepId: string | null): number {
    if (stepId === null) {
      return this.refs.length - this.head;
    }
    return this.steps.get(stepId)?.lines.length ?? 0;
  }

  /** Row `i` of a view (null = all steps), or null past the end. */
  row(stepId: string | null, i: number): LogRow | null {
    if (stepId === null) {
      const ref = this.refs[this.head + i];
      if (ref === undefined) {
        return null;
      }
      const step = this.byIndex[Math.floor(ref / REF_SHIFT)];
      const at = (ref % REF_SHIFT) - LOCAL_BIAS - step.base;
      return { step, line: step.lines.get(at) ?? '', ts: step.ts[at] ?? NaN, local: at + step.base };
    }
    const step = this.steps.get(stepId);
    if (!step || i < 0 || i >= step.lines.length) {
      return null;
    }
    return { step, line: step.lines.get(i) ?? '', ts: step.ts[i], local: i + step.base };
  }

  /** Lines before the first one held for a view (dropped by the cap or never loaded). */
  hiddenBefore(stepId: string | null): number {
    if (stepId === null) {
      let n = 0;
      for (const log of this.byIndex) {
        n += Math.max(0, log.first);
      }
      return n;
    }
    return Math.max(0, this.steps.get(stepId)?.first ?? 0);
  }

  /** Forget every line (the view switched to another execution). */
  clear(): void {
    this.steps.clear();
    this.byIndex.length = 0;
    this.refs = [];
    this.head = 0;
    this.total = 0;
    this.droppedTotal = 0;
    this.version++;
  }
}
