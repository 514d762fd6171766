/**
 * Virtual scrolling with a fixed row height. Browsers cap an element's height (about
 * 16.7 M px in Firefox, 33 M px in Chrome), so beyond MAX_SCROLL_PX the scroll range is
 * scaled: the scrollbar maps proportionally onto the rows.
 */

export const MAX_SCROLL_PX = 8_000_000;

export interface VirtualWindow {
  /** First and one-past-last row to put in the DOM. */
  start: number;
  end: number;
  /** Where row `start` goes, in px from the top of the scroll content. */
  offsetY: number;
  /** Height of the spacer that gives the scrollbar its range. */
  scrollHeight: number;
}

export function scrollHeightFor(total: number, rowHeight: number): number {
  return Math.min(total * rowHeight, MAX_SCROLL_PX);
}

/** The (fractional) row at the top of the viewport for a scroll position. */
function topRow(scrollTop: number, viewport: number, rowHeight: number, total: number): number {
  const content = total * rowHeight;
  if (content <= MAX_SCROLL_PX) {
    return scrollTop / rowHeight;
  }
  const maxScroll = MAX_SCROLL_PX - viewport;
  const maxRow = total - viewport / rowHeight;
  return maxScroll > 0 ? Math.min(1, Math.max(0, scrollTop / maxScroll)) * maxRow : 0;
}

export function computeWindow(scrollTop: number, viewport: number, rowHeight: number, total: number, overscan = 8): VirtualWindow {
  const scrollHeight = scrollHeightFor(total, rowHeight);
  if (total <= 0 || rowHeight <= 0) {
    return { start: 0, end: 0, offsetY: 0, scrollHeight };
  }
  const exact = topRow(Math.max(0, scrollTop), viewport, rowHeight, total);
  const start = Math.max(0, Math.floor(exact) - overscan);
  const end = Math.min(total, Math.ceil(exact + viewport / rowHeight) + overscan);
  const offsetY = Math.max(0, scrollTop) - (exact - start) * rowHeight;
  return { start, end, offsetY, scrollHeight };
}

/** The scrollTop that shows `row` in the middle of the viewport. */
export function scrollTopForRow(row: number, viewport: number, rowHeight: number, total: number): number {
  const visible = viewport / rowHeight;
  const top = Math.max(0, Math.min(row - visible / 2 + 0.5, total - visible));
  const content = total * rowHeight;
  if (content <= MAX_SCROLL_PX) {
    return top * rowHeight;
  }
  const maxRow = total - visible;
  return maxRow > 0 ? (top / maxRow) * (MAX_SCROLL_PX - viewport) : 0;
}

/** The (fractional) row at the top of the viewport for a scroll position. */
export function rowAtTop(scrollTop: number, viewport: number, rowHeight: number, total: number): number {
  return total > 0 && rowHeight > 0 ? topRow(Math.max(0, scrollTop), viewport, rowHeight, total) : 0;
}

/** The scrollTop that puts the (fractional) `row` at the top of the viewport. */
export function scrollTopAtRow(row: number, viewport: number, rowHeight: number, total: number): number {
  const content = total * rowHeight;
  if (content <= MAX_SCROLL_PX) {
    return Math.max(0, row * rowHeight);
  }
  const maxRow = total - viewport / rowHeight;
  return maxRow > 0 ? Math.min(1, Math.max(0, row / maxRow)) * (MAX_SCROLL_PX - viewport) : 0;
}
