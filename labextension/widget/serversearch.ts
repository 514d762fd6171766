/**
 * The log panel's search when not every line is in the browser: the server searches the
 * whole stored log, counts every match exactly and hands out the hits page by page.
 */
import type { LogLine } from './history';
import type { LogHistory, RemoteSearch } from './paging';

export class ServerSearch {
  /** `view + query` of the search shown; '' while searching the held lines instead. */
  private key = '';
  private found: RemoteSearch | null = null;
  private error = '';
  /** Index of the current hit (-1 before the first step). */
  current = -1;
  /** Row of the current hit once its line is loaded (-1 otherwise). */
  row = -1;

  constructor(private readonly changed: () => void) {}

  /** True while the counts and hits come from the server. */
  get active(): boolean {
    return this.key !== '';
  }

  /** True when this search (view and query) is the one shown. */
  shows(view: string | null, query: string): boolean {
    return this.key !== '' && this.key === `${view}\u0000${query}`;
  }

  clear(): void {
    this.key = '';
    this.found = null;
    this.error = '';
    this.current = -1;
    this.row = -1;
  }

  /** Ask the server for the exact count and the first hits of `query` in `view`. */
  start(history: LogHistory, view: string | null, query: string): void {
    this.clear();
    const key = `${view}\u0000${query}`;
    this.key = key;
    history.search(view, query).then(
      found => {
        if (this.key === key) {
          this.found = found;
          this.changed();
        }
      },
      err => {
        if (this.key === key) {
          this.error = err instanceof Error ? err.message : String(err);
          this.changed();
        }
      }
    );
  }

  /** The next (1) or previous (-1) hit, wrapping; fetches more hits when needed. */
  async step(history: LogHistory, dir: 1 | -1): Promise<LogLine | null> {
    const found = this.found;
    if (!found || found.total === 0 || found.hits.length === 0) {
      return null;
    }
    let next = this.current < 0 ? (dir === 1 ? 0 : found.hits.length - 1) : this.current + dir;
    if (next >= found.hits.length && found.next !== null) {
      await history.moreHits(found);
    }
    if (next >= found.hits.length) next = 0;
    if (next < 0) next = found.hits.length - 1;
    if (found !== this.found) {
      return null; // another search started meanwhile
    }
    this.current = next;
    this.row = -1;
    return found.hits[next];
  }

  /** The counter ("12 of 3,417 matches") and its tooltip. */
  label(): [string, string] {
    const found = this.found;
    if (this.error) {
      return ['search failed', this.error];
    }
    if (!found) {
      return ['searching…', 'Searching the whole log on the server'];
    }
    const at = this.current >= 0 ? this.current + 1 : 0;
    const capped =
      found.next === null && found.hits.length < found.total
        ? `; the first ${found.hits.length.toLocaleString()} can be stepped through`
        : '';
    return [
      `${at.toLocaleString()} of ${found.total.toLocaleString()} matches`,
      `${found.total.toLocaleString()} matching lines in the whole log (searched on the server)${capped}`
    ];
  }
}
