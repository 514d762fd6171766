/**
 * The lines of one step. A million separate short strings keep the garbage collector busy
 * while they stream in (every young collection copies them, then promotes them: pauses of
 * tens of ms). So lines are kept in pages: one string per page plus the end offset of each
 * line, and a line is cut out of its page when it is read (the rows on screen, a search).
 * A page comes whole from a packed log batch, or is sealed from PAGE single lines.
 */

/** Single lines gathered before they are sealed into a page. */
export const PAGE = 4096;

interface Page {
  text: string;
  /** ends[k]: the end of line k in `text` (line k starts at ends[k - 1], or 0). */
  ends: Uint32Array;
  /** Number of its first line, counted from the list's creation (never renumbered). */
  start: number;
}

/** An append-mostly list of lines: push at the end, prepend history, drop from the front. */
export class LineList {
  /** Prepended lines (history before the first line held), in order, from `frontHead`. */
  private front: string[] = [];
  private frontHead = 0;
  private pages: Page[] = [];
  /** Lines not sealed yet, numbered from `tailStart`. */
  private tail: string[] = [];
  private tailStart = 0;
  /** Number of the first line held after the front (earlier ones were dropped). */
  private first = 0;

  get length(): number {
    return this.front.length - this.frontHead + this.tailStart + this.tail.length - this.first;
  }

  /** Line `i` (0 = the first held), or undefined past the end. */
  get(i: number): string | undefined {
    if (i < 0) return undefined;
    const inFront = this.front.length - this.frontHead;
    if (i < inFront) return this.front[this.frontHead + i];
    const at = this.first + i - inFront;
    if (at >= this.tailStart) return this.tail[at - this.tailStart];
    // The last page that starts at or before `at`.
    let lo = 0;
    let hi = this.pages.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.pages[mid].start <= at) lo = mid;
      else hi = mid - 1;
    }
    const page = this.pages[lo];
    const k = at - page.start;
    return page.text.slice(k > 0 ? page.ends[k - 1] : 0, page.ends[k]);
  }

  push(line: string): void {
    this.tail.push(line);
    if (this.tail.length >= PAGE) {
      this.seal();
    }
  }

  /** Append the lines of a packed batch (`text` cut at `ends`) as one page. */
  pushPage(text: string, ends: Uint32Array): void {
    if (ends.length === 0) return;
    this.seal();
    this.pages.push({ text, ends, start: this.tailStart });
    this.tailStart += ends.length;
  }

  /** Put `lines` before the first line held. */
  prepend(lines: readonly string[]): void {
    this.front = lines.concat(this.front.slice(this.frontHead));
    this.frontHead = 0;
  }

  /** Forget the first `n` lines. */
  dropFirst(n: number): void {
    const fromFront = Math.min(n, this.front.length - this.frontHead);
    this.frontHead += fromFront;
    if (this.frontHead === this.front.length) {
      this.front = [];
      this.frontHead = 0;
    }
    this.first += Math.min(n - fromFront, this.tailStart + this.tail.length - this.first);
    let whole = 0;
    while (whole < this.pages.length && this.pages[whole].start + this.pages[whole].ends.length <= this.first) {
      whole++;
    }
    if (whole > 0) this.pages.splice(0, whole);
    if (this.first > this.tailStart) {
      this.tail.splice(0, this.first - this.tailStart);
      this.tailStart = this.first;
    }
  }

  private seal(): void {
    const count = this.tail.length;
    if (count === 0) return;
    const ends = new Uint32Array(count);
    let end = 0;
    for (let k = 0; k < count; k++) {
      end += this.tail[k].length;
      ends[k] = end;
    }
    this.pages.push({ text: this.tail.join(''), ends, start: this.tailStart });
    this.tailStart += count;
    this.tail = [];
  }
}
