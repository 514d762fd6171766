/**
 * The lines of one step. A million separate short strings keep the garbage collector busy
 * while they stream in (every young collection copies them, then promotes them: pauses of
 * tens of ms). So every PAGE lines are sealed into one string plus their end offsets, and
 * a line is cut out of its page when it is read (only the rows on screen, or a search).
 */

/** Lines per sealed page. */
export const PAGE = 4096;

interface Page {
  text: string;
  /** ends[k]: the end of line k in `text` (line k starts at ends[k - 1], or 0). */
  ends: Uint32Array;
}

/** An append-mostly list of lines: push at the end, prepend history, drop from the front. */
export class LineList {
  /** Prepended lines (history before the first line held), in order, from `frontHead`. */
  private front: string[] = [];
  private frontHead = 0;
  /** Full pages, then the page being filled; `head` lines of the first one are dropped. */
  private pages: Page[] = [];
  private tail: string[] = [];
  private head = 0;

  get length(): number {
    return this.front.length - this.frontHead + this.pages.length * PAGE + this.tail.length - this.head;
  }

  /** Line `i` (0 = the first held), or undefined past the end. */
  get(i: number): string | undefined {
    if (i < 0) return undefined;
    const inFront = this.front.length - this.frontHead;
    if (i < inFront) return this.front[this.frontHead + i];
    const at = i - inFront + this.head;
    const p = Math.floor(at / PAGE);
    if (p < this.pages.length) {
      const page = this.pages[p];
      const k = at - p * PAGE;
      return page.text.slice(k > 0 ? page.ends[k - 1] : 0, page.ends[k]);
    }
    return this.tail[at - this.pages.length * PAGE];
  }

  push(line: string): void {
    this.tail.push(line);
    if (this.tail.length === PAGE) {
      this.seal();
    }
  }

  /** Put `lines` before the first line held. */
  prepend(lines: readonly string[]): void {
    this.front = lines.concat(this.front.slice(this.frontHead));
    this.frontHead = 0;
  }

  /** Forget the first `n` lines. */
  dropFirst(n: number): void {
    const inFront = this.front.length - this.frontHead;
    const fromFront = Math.min(n, inFront);
    this.frontHead += fromFront;
    if (this.frontHead === this.front.length) {
      this.front = [];
      this.frontHead = 0;
    }
    this.head += Math.min(n - fromFront, this.length);
    const whole = Math.min(Math.floor(this.head / PAGE), this.pages.length);
    if (whole > 0) {
      this.pages.splice(0, whole);
      this.head -= whole * PAGE;
    }
  }

  private seal(): void {
    const ends = new Uint32Array(PAGE);
    let end = 0;
    for (let k = 0; k < PAGE; k++) {
      end += this.tail[k].length;
      ends[k] = end;
    }
    this.pages.push({ text: this.tail.join(''), ends });
    this.tail = [];
  }
}
