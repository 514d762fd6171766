import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrameParser, packFrame, unpackLines } from '../widget/packed';
import { applyEvents, createState } from '../widget/reducer';
import type { Envelope } from '../widget/types';
import { env, EXEC, logs, snapshot } from './helpers';

const lines = (state: ReturnType<typeof createState>, step: string | null): string[] =>
  Array.from({ length: state.logs.count(step) }, (_, i) => state.logs.row(step, i)?.line ?? '?');
const times = (state: ReturnType<typeof createState>, step: string | null): number[] =>
  Array.from({ length: state.logs.count(step) }, (_, i) => state.logs.row(step, i)?.ts ?? -1);
const numbered = (n: number, prefix: string): string[] => Array.from({ length: n }, (_, i) => (i % 30 === 0 ? '' : `${prefix}${i} ✓`));

/** A frame as the server sends it: big batches of two steps, out of order in time, a gap, a replayed batch, stderr. */
function frames(): Envelope[][] {
  const err = env(9, 'log_update', {
    step_id: 'b',
    stream: 'stderr',
    offset: 300,
    lines: numbered(100, 'e'),
    ts: numbered(100, '').map((_, i) => 2300 + i)
  });
  return [
    [
      snapshot(1, [
        { step_id: 'a', status: 'running' },
        { step_id: 'b', status: 'running' }
      ])
    ],
    [logs(2, 'a', 0, numbered(500, 'a')), logs(3, 'b', 0, numbered(200, 'b'))],
    // b's next batch carries times before a's last ones: merged by time, not appended.
    [logs(4, 'a', 500, numbered(300, 'c')), logs(5, 'b', 200, numbered(100, 'd'))],
    [logs(6, 'a', 500, numbered(300, 'c'))], // replayed after a reconnect
    [logs(7, 'a', 900, numbered(80, 'g'))], // 100 lines never received
    [err]
  ];
}

describe('packFrame', () => {
  it('packs big single-stream batches and leaves the rest as they are', () => {
    const { events, transfer } = packFrame(JSON.stringify([logs(2, 'a', 0, numbered(100, 'x')), logs(3, 'a', 100, ['small'])]));
    const [big, small] = events as Envelope[];
    const packed = big.data.packed as Parameters<typeof unpackLines>[0];
    assert.deepEqual(unpackLines(packed), numbered(100, 'x'));
    assert.deepEqual(
      Array.from(packed.ts ?? []),
      numbered(100, '').map((_, i) => 2000 + i)
    );
    assert.equal(big.data.lines, undefined);
    assert.deepEqual(small.data.lines, ['small']);
    assert.equal(transfer.length, 2);
    const mixed = env(4, 'log_update', { step_id: 'a', stream: numbered(70, '').map(() => 'stdout'), offset: 0, lines: numbered(70, 'm') });
    assert.ok(Array.isArray((packFrame(JSON.stringify(mixed)).events[0] as Envelope).data.lines), 'per-line streams stay');
  });

  it('gives the view the same lines, times, order and stderr marks as the plain frames', async () => {
    const plain = createState(EXEC);
    for (const frame of frames()) applyEvents(plain, frame);
    const packed = createState(EXEC);
    // No Worker in node: the parser packs on this thread, through the same code.
    const parser = new FrameParser(events => applyEvents(packed, events));
    for (const frame of frames()) parser.parse(JSON.stringify(frame));
    parser.dispose();
    for (const step of ['a', 'b', null]) {
      assert.deepEqual(lines(packed, step), lines(plain, step), `lines of ${step}`);
      assert.deepEqual(times(packed, step), times(plain, step), `times of ${step}`);
    }
    assert.ok(lines(plain, 'a').includes('⋯ 100 lines not received'));
    assert.deepEqual([...(packed.logs.steps.get('b')?.stderr ?? [])], [...(plain.logs.steps.get('b')?.stderr ?? [])]);
    assert.equal(packed.logs.steps.get('b')?.stderr.size, 100);
    assert.equal(packed.seq, plain.seq);
  });
});
