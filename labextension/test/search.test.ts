import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findMatches, stepMatch } from '../widget/search';
import { computeWindow, MAX_SCROLL_PX, scrollTopForRow } from '../widget/virtual';

describe('log search', () => {
  const lines = ['Error: boom', 'ok', '\u001b[31merror\u001b[0m again', 'ERR', 'fine'];
  it('finds case-insensitive matches ignoring ANSI escapes', () => {
    assert.deepEqual(
      findMatches(lines.length, i => lines[i], 'error'),
      [0, 2]
    );
    assert.deepEqual(
      findMatches(lines.length, i => lines[i], '31m'),
      [],
      'escape codes are not text'
    );
    assert.deepEqual(
      findMatches(lines.length, i => lines[i], ''),
      []
    );
    assert.deepEqual(
      findMatches(lines.length, i => lines[i], 'r', 2),
      [0, 2],
      'limit'
    );
  });
  it('steps through matches with wrap-around', () => {
    assert.equal(stepMatch([1, 5, 9], -1, 1), 0);
    assert.equal(stepMatch([1, 5, 9], -1, -1), 2);
    assert.equal(stepMatch([1, 5, 9], 2, 1), 0);
    assert.equal(stepMatch([1, 5, 9], 0, -1), 2);
    assert.equal(stepMatch([], 0, 1), -1);
  });
});

describe('virtual window', () => {
  it('renders only the visible rows plus overscan', () => {
    const w = computeWindow(1800, 360, 18, 1000, 5);
    assert.equal(w.start, 95);
    assert.equal(w.end, 125);
    assert.equal(w.offsetY, 95 * 18);
    assert.equal(w.scrollHeight, 18_000);
  });
  it('clamps at both ends and handles empty logs', () => {
    assert.deepEqual(computeWindow(0, 360, 18, 0), { start: 0, end: 0, offsetY: 0, scrollHeight: 0 });
    const top = computeWindow(0, 360, 18, 10, 5);
    assert.deepEqual([top.start, top.end], [0, 10]);
  });
  it('scales a million lines into the browser height limit', () => {
    const total = 1_000_000;
    const viewport = 400;
    const bottom = computeWindow(MAX_SCROLL_PX - viewport, viewport, 18, total, 0);
    assert.equal(bottom.scrollHeight, MAX_SCROLL_PX);
    assert.equal(bottom.end, total);
    assert.ok(bottom.end - bottom.start <= Math.ceil(viewport / 18) + 1);
    // The last row sits at the bottom of the viewport.
    const lastRowY = bottom.offsetY + (bottom.end - 1 - bottom.start) * 18;
    assert.ok(Math.abs(lastRowY + 18 - MAX_SCROLL_PX) < 1, String(lastRowY));
    const middle = computeWindow((MAX_SCROLL_PX - viewport) / 2, viewport, 18, total, 0);
    assert.ok(Math.abs(middle.start - total / 2) < 50);
  });
  it('scrollTopForRow centres a row, scaled or not', () => {
    const t = scrollTopForRow(500, 360, 18, 1000);
    const w = computeWindow(t, 360, 18, 1000, 0);
    assert.ok(w.start <= 500 && 500 < w.end);
    const big = scrollTopForRow(700_000, 400, 18, 1_000_000);
    const wb = computeWindow(big, 400, 18, 1_000_000, 0);
    assert.ok(wb.start <= 700_000 && 700_000 < wb.end, `${wb.start}..${wb.end}`);
  });
});
