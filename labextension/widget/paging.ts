/**
 * Server-mode history of an attached view: "load earlier" pages prepended when the user
 * scrolls to the top, loading down to one line (a search hit, a permalink), and the
 * whole-log search that runs on the server when not every line is in the browser.
 */
import type { LogLine, LogPage } from './history';
import type { LogStore } from './logs';

/** Lines fetched per step each time the top of a log is reached. */
export const EARLIER_PAGE = 5_000;
/** Lines per request when loading down to a far-away line (the endpoint's most is 100,000). */
export const SEEK_PAGE = 50_000;
/** Search hits fetched per request. */
export const HIT_PAGE = 1_000;
/** Hits of an all-steps search that can be stepped through (the first ones). */
export const ALL_STEPS_HITS = 10_000;
/** A failed load of earlier lines is tried again after this long (ms), not every frame. */
const RETRY_MS = 5_000;

export interface HistoryHost {
  logs: LogStore;
  executionId(): string;
  /** True when the transport has the REST log endpoint (server mode). */
  paged(): boolean;
  /** A page of the REST log endpoint (null: the transport has none, e.g. embedded mode). */
  lines(executionId: string, query: Record<string, string | number | undefined>): Promise<LogPage> | null;
  /** Put a page's lines (of one step, starting at `from`) into the store. */
  apply(executionId: string, stepId: string, page: LogPage, from: number): void;
  changed(): void;
}

/** A server search: the exact number of matching lines and the hits fetched so far. */
export interface RemoteSearch {
  query: string;
  view: string | null;
  total: number;
  hits: LogLine[];
  /** `offset` of the next page of hits (one step only), null when there is none. */
  next: number | null;
}

const ALL = '\u0000all';
const key = (view: string | null): string => view ?? ALL;

/** `/re/` goes to the server as typed (RE2); plain text as a case-insensitive literal. */
export function serverQuery(query: string): string {
  if (query.length >= 2 && query.startsWith('/') && query.endsWith('/')) {
    return query;
  }
  return `/(?i)${query.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&')}/`;
}

export class LogHistory {
  private readonly loading = new Set<string>();
  private readonly reached = new Set<string>();
  /** When a load of a view last failed: not retried on every frame. */
  private readonly failedAt = new Map<string, number>();
  private generation = 0;

  constructor(private readonly host: HistoryHost) {}

  /** True when this transport can page through stored lines. */
  get available(): boolean {
    return this.host.paged();
  }

  isLoading(view: string | null): boolean {
    return this.loading.has(key(view));
  }

  /** A load-earlier reached the first line of this view. */
  reachedStart(view: string | null): boolean {
    return this.reached.has(key(view));
  }

  /** Forget what was loaded (the view switched to another execution). */
  reset(): void {
    this.generation++;
    this.loading.clear();
    this.reached.clear();
    this.failedAt.clear();
  }

  /** True when a step of the view has earlier lines on the server that can be prepended. */
  canLoadEarlier(view: string | null): boolean {
    const steps = view === null ? [...this.host.logs.steps.values()] : [this.host.logs.steps.get(view)];
    return steps.some(log => log !== undefined && log.dropped === 0 && log.next >= 0 && log.first > 0);
  }

  /** Fetch the next page of earlier lines of a step, or of every step (null). */
  loadEarlier(view: string | null): void {
    const k = key(view);
    if (this.loading.has(k) || !this.canLoadEarlier(view) || Date.now() - (this.failedAt.get(k) ?? 0) < RETRY_MS) {
      return;
    }
    const steps = view === null ? [...this.host.logs.steps.keys()] : [view];
    this.loading.add(k);
    this.host.changed();
    const before = this.host.logs.hiddenBefore(view);
    void this.run(async () => {
      for (const stepId of steps) {
        const log = this.host.logs.steps.get(stepId);
        if (log && log.dropped === 0 && log.next >= 0 && log.first > 0) {
          await this.fetch(stepId, Math.max(0, log.first - EARLIER_PAGE), log.first);
        }
      }
      this.markReached(view);
      if (this.host.logs.hiddenBefore(view) >= before) {
        throw new Error('no earlier lines came'); // the execution switched, or the server had none
      }
    }, k);
  }

  /** Remember that a view now holds its first line (it shows "beginning of log"). */
  private markReached(view: string | null): void {
    const logs = this.host.logs;
    if (view === null ? logs.hiddenBefore(null) === 0 : (logs.steps.get(view)?.first ?? 1) === 0) {
      this.reached.add(key(view));
    }
    if (view !== null) this.markReached(null);
  }

  /** Load a step's earlier lines until `offset` is held (pages of SEEK_PAGE). */
  async loadUntil(stepId: string, offset: number): Promise<void> {
    const k = `seek\u0000${stepId}`;
    this.loading.add(k);
    await this.run(async () => {
      for (;;) {
        const log = this.host.logs.steps.get(stepId);
        if (!log || log.next < 0 || log.dropped > 0 || log.first <= Math.max(0, offset)) {
          return;
        }
        const before = log.first;
        await this.fetch(stepId, Math.max(0, offset, log.first - SEEK_PAGE), log.first);
        if ((this.host.logs.steps.get(stepId)?.first ?? before) >= before) {
          return; // nothing came (execution switched, or an error): do not spin
        }
        this.markReached(stepId);
      }
    }, k);
  }

  /** The exact number of lines of the whole stored log that match, and the first hits. */
  async search(view: string | null, query: string): Promise<RemoteSearch> {
    const page = await this.host.lines(this.host.executionId(), {
      step: view ?? undefined,
      q: serverQuery(query),
      // All steps cannot page on through hits (`offset` counts every line there): more at once.
      limit: view === null ? ALL_STEPS_HITS : HIT_PAGE,
      count: 1
    });
    if (!page) {
      throw new Error('this view has no server to search');
    }
    if (typeof page.total !== 'number') {
      throw new Error('ansflow: the logs endpoint answered a count=1 request without "total"');
    }
    return { query, view, total: page.total, hits: page.lines, next: this.nextHits(view, page) };
  }

  /** Append the next page of hits to `found` (one step's search only). */
  async moreHits(found: RemoteSearch): Promise<void> {
    if (found.next === null) {
      return;
    }
    const page = await this.host.lines(this.host.executionId(), {
      step: found.view ?? undefined,
      q: serverQuery(found.query),
      offset: found.next,
      limit: HIT_PAGE
    });
    if (!page) return;
    found.hits.push(...page.lines);
    found.next = this.nextHits(found.view, page);
  }

  private nextHits(view: string | null, page: LogPage): number | null {
    // In the all-steps stream `offset` counts every line, not hits: only a step pages on.
    return view !== null && page.lines.length === HIT_PAGE ? page.next_offset : null;
  }

  private async fetch(stepId: string, from: number, to: number): Promise<void> {
    const id = this.host.executionId();
    const page = await this.host.lines(id, { step: stepId, offset: from, limit: to - from });
    if (page && id === this.host.executionId()) {
      this.host.apply(id, stepId, page, from);
    }
  }

  private async run(work: () => Promise<void>, k: string): Promise<void> {
    const generation = this.generation;
    try {
      await work();
    } catch (err) {
      this.failedAt.set(k, Date.now());
      console.warn('ansflow: log history', err);
    } finally {
      if (generation === this.generation) {
        this.loading.delete(k);
      }
      this.host.changed();
    }
  }
}

/** The row of a step's line (0-based offset) in a view, or -1 while it is not loaded. */
export function rowOfLine(logs: LogStore, view: string | null, stepId: string, offset: number): number {
  const log = logs.steps.get(stepId);
  if (!log || log.next < 0 || offset < log.first || offset >= log.next) {
    return -1;
  }
  // Lines the view added (attempt separators, gaps) take rows but no line number.
  let i = offset - log.first;
  for (const at of [...log.info].map(l => l - log.base).sort((a, b) => a - b)) {
    if (at <= i) i++;
  }
  if (view !== null) {
    return view === stepId ? i : -1;
  }
  const local = log.base + i;
  const n = logs.count(null);
  for (let r = 0; r < n; r++) {
    const row = logs.row(null, r);
    if (row && row.step === log && row.local === local) return r;
  }
  return -1;
}

/** The row above the first one held: how many earlier lines, or the beginning of the log. */
export function earlierText(logs: LogStore, view: string | null, hidden: number, history: LogHistory | null | undefined): string {
  if (hidden === 0) {
    return '— beginning of log —';
  }
  const dropped = view === null ? logs.droppedTotal : (logs.steps.get(view)?.dropped ?? 0);
  if (!history?.available || dropped > 0) {
    return `⋯ ${hidden.toLocaleString()} earlier lines not shown here — use Download for the full log`;
  }
  return `⋯ ${hidden.toLocaleString()} earlier lines · ${history.isLoading(view) ? 'loading…' : 'scroll up to load'}`;
}
