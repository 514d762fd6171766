// test/search.test.ts
import assert from "node:assert/strict";
import { describe, it } from "node:test";

// widget/ansi.ts
var ESCAPE_RE = /\u001b(?:\[([0-?]*)[ -/]*([@-~])|\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|[@-Z\\-_]?)/g;
function stripAnsi(input) {
  return input.indexOf("\x1B") < 0 ? input : input.replace(ESCAPE_RE, "");
}

// widget/search.ts
var MAX_MATCHES = 1e5;
function findMatches(count, lineAt, query, limit = MAX_MATCHES) {
  const matches = [];
  if (!query) {
    return matches;
  }
  const needle = query.toLowerCase();
  for (let i = 0; i < count && matches.length < limit; i++) {
    if (stripAnsi(lineAt(i)).toLowerCase().includes(needle)) {
      matches.push(i);
    }
  }
  return matches;
}
function stepMatch(matches, current, dir) {
  if (matches.length === 0) {
    return -1;
  }
  if (current < 0) {
    return dir === 1 ? 0 : matches.length - 1;
  }
  return (current + dir + matches.length) % matches.length;
}

// widget/virtual.ts
var MAX_SCROLL_PX = 8e6;
function scrollHeightFor(total, rowHeight) {
  return Math.min(total * rowHeight, MAX_SCROLL_PX);
}
function topRow(scrollTop, viewport, rowHeight, total) {
  const content = total * rowHeight;
  if (content <= MAX_SCROLL_PX) {
    return scrollTop / rowHeight;
  }
  const maxScroll = MAX_SCROLL_PX - viewport;
  const maxRow = total - viewport / rowHeight;
  return maxScroll > 0 ? Math.min(1, Math.max(0, scrollTop / maxScroll)) * maxRow : 0;
}
function computeWindow(scrollTop, viewport, rowHeight, total, overscan = 8) {
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
function scrollTopForRow(row, viewport, rowHeight, total) {
  const visible = viewport / rowHeight;
  const top = Math.max(0, Math.min(row - visible / 2 + 0.5, total - visible));
  const content = total * rowHeight;
  if (content <= MAX_SCROLL_PX) {
    return top * rowHeight;
  }
  const maxRow = total - visible;
  return maxRow > 0 ? top / maxRow * (MAX_SCROLL_PX - viewport) : 0;
}

// test/search.test.ts
describe("log search", () => {
  const lines = ["Error: boom", "ok", "\x1B[31merror\x1B[0m again", "ERR", "fine"];
  it("finds case-insensitive matches ignoring ANSI escapes", () => {
    assert.deepEqual(findMatches(lines.length, (i) => lines[i], "error"), [0, 2]);
    assert.deepEqual(findMatches(lines.length, (i) => lines[i], "31m"), [], "escape codes are not text");
    assert.deepEqual(findMatches(lines.length, (i) => lines[i], ""), []);
    assert.deepEqual(findMatches(lines.length, (i) => lines[i], "r", 2), [0, 2], "limit");
  });
  it("steps through matches with wrap-around", () => {
    assert.equal(stepMatch([1, 5, 9], -1, 1), 0);
    assert.equal(stepMatch([1, 5, 9], -1, -1), 2);
    assert.equal(stepMatch([1, 5, 9], 2, 1), 0);
    assert.equal(stepMatch([1, 5, 9], 0, -1), 2);
    assert.equal(stepMatch([], 0, 1), -1);
  });
});
describe("virtual window", () => {
  it("renders only the visible rows plus overscan", () => {
    const w = computeWindow(1800, 360, 18, 1e3, 5);
    assert.equal(w.start, 95);
    assert.equal(w.end, 125);
    assert.equal(w.offsetY, 95 * 18);
    assert.equal(w.scrollHeight, 18e3);
  });
  it("clamps at both ends and handles empty logs", () => {
    assert.deepEqual(computeWindow(0, 360, 18, 0), { start: 0, end: 0, offsetY: 0, scrollHeight: 0 });
    const top = computeWindow(0, 360, 18, 10, 5);
    assert.deepEqual([top.start, top.end], [0, 10]);
  });
  it("scales a million lines into the browser height limit", () => {
    const total = 1e6;
    const viewport = 400;
    const bottom = computeWindow(MAX_SCROLL_PX - viewport, viewport, 18, total, 0);
    assert.equal(bottom.scrollHeight, MAX_SCROLL_PX);
    assert.equal(bottom.end, total);
    assert.ok(bottom.end - bottom.start <= Math.ceil(viewport / 18) + 1);
    const lastRowY = bottom.offsetY + (bottom.end - 1 - bottom.start) * 18;
    assert.ok(Math.abs(lastRowY + 18 - MAX_SCROLL_PX) < 1, String(lastRowY));
    const middle = computeWindow((MAX_SCROLL_PX - viewport) / 2, viewport, 18, total, 0);
    assert.ok(Math.abs(middle.start - total / 2) < 50);
  });
  it("scrollTopForRow centres a row, scaled or not", () => {
    const t = scrollTopForRow(500, 360, 18, 1e3);
    const w = computeWindow(t, 360, 18, 1e3, 0);
    assert.ok(w.start <= 500 && 500 < w.end);
    const big = scrollTopForRow(7e5, 400, 18, 1e6);
    const wb = computeWindow(big, 400, 18, 1e6, 0);
    assert.ok(wb.start <= 7e5 && 7e5 < wb.end, `${wb.start}..${wb.end}`);
  });
});
