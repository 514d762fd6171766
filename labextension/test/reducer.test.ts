import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyEvent, applyEvents, createState, progress } from '../widget/reducer';
import { EXEC, env, logs, snapshot } from './helpers';

const lines = (state: ReturnType<typeof createState>, step: string | null): string[] =>
  Array.from({ length: state.logs.count(step) }, (_, i) => state.logs.row(step, i)?.line ?? '?');

describe('applyEvent', () => {
  it('applies a snapshot then updates', () => {
    const state = createState(EXEC);
    applyEvents(state, [
      snapshot(3, [
        { step_id: 'a', name: 'A', status: 'pending' },
        { step_id: 'b', status: 'pending', needs: ['a'] }
      ]),
      env(4, 'step_update', { step_id: 'a', status: 'running', attempt: 1, started_at: 10 }),
      env(5, 'execution_update', { status: 'running', steps_done: 0 })
    ]);
    assert.equal(state.seq, 5);
    assert.deepEqual(state.order, ['a', 'b']);
    assert.equal(state.steps.get('a')?.status, 'running');
    assert.equal(state.steps.get('a')?.name, 'A', 'a step_update merges, it does not replace');
    assert.equal(state.execution.pipeline_name, 'demo');
    assert.deepEqual(progress(state), { done: 0, total: 2 });
  });

  it('ignores events at or below the last seq (duplicates and out-of-order)', () => {
    const state = createState(EXEC);
    applyEvent(state, snapshot(1, [{ step_id: 'a', status: 'pending' }]));
    applyEvent(state, env(3, 'step_update', { step_id: 'a', status: 'success' }));
    applyEvent(state, env(2, 'step_update', { step_id: 'a', status: 'running' }));
    applyEvent(state, env(3, 'step_update', { step_id: 'a', status: 'failed' }));
    assert.equal(state.steps.get('a')?.status, 'success');
    assert.equal(state.seq, 3);
    applyEvent(state, snapshot(2, [{ step_id: 'a', status: 'pending' }]));
    assert.equal(state.steps.get('a')?.status, 'success', 'an older snapshot changes nothing');
  });

  it('ignores heartbeats and events of another execution', () => {
    const state = createState(EXEC);
    applyEvent(state, env(null, 'heartbeat', {}));
    applyEvent(state, env(1, 'step_update', { step_id: 'x', status: 'running' }, 'other'));
    assert.equal(state.steps.size, 0);
    assert.equal(state.seq, 0);
  });

  it('resets on a snapshot of a new execution (re-run)', () => {
    const state = createState(EXEC);
    applyEvents(state, [snapshot(5, [{ step_id: 'a' }]), logs(6, 'a', 0, ['old'])]);
    applyEvent(state, env(2, 'snapshot', { execution: { execution_id: 'ex-2' }, steps: [{ step_id: 'z' }] }, 'ex-2'));
    assert.equal(state.executionId, 'ex-2');
    assert.equal(state.seq, 2);
    assert.deepEqual(state.order, ['z']);
    assert.equal(state.logs.total, 0);
  });

  it('places log lines by offset and never duplicates them', () => {
    const state = createState(EXEC);
    applyEvents(state, [snapshot(1, [{ step_id: 'a' }, { step_id: 'b' }]), logs(2, 'a', 0, ['a0', 'a1']), logs(3, 'b', 0, ['b0'])]);
    applyEvent(state, logs(4, 'a', 1, ['a1', 'a2'])); // overlapping replay
    applyEvent(state, logs(2, 'a', 0, ['a0', 'a1'])); // a replayed old frame
    assert.deepEqual(lines(state, 'a'), ['a0', 'a1', 'a2']);
    assert.deepEqual(lines(state, null), ['a0', 'b0', 'a1', 'a2'], 'all steps are in time order');
    assert.equal(state.seq, 4);
    assert.equal(state.logs.row('a', 2)?.ts, 2002);
  });

  it('marks a gap and back-fills history before the first line held', () => {
    const state = createState(EXEC);
    applyEvents(state, [snapshot(1, [{ step_id: 'a', log_lines: 3 }]), logs(2, 'a', 3, ['l3'])]);
    assert.equal(state.logs.hiddenBefore('a'), 3);
    applyEvent(state, logs(null, 'a', 0, ['l0', 'l1', 'l2']));
    assert.deepEqual(lines(state, 'a'), ['l0', 'l1', 'l2', 'l3']);
    assert.deepEqual(lines(state, null), ['l0', 'l1', 'l2', 'l3']);
    assert.equal(state.logs.hiddenBefore('a'), 0);
    applyEvent(state, logs(3, 'a', 6, ['l6']));
    const all = lines(state, 'a');
    assert.match(all[4], /2 lines not received/);
    assert.equal(all[5], 'l6');
  });

  it('merges a back-fill that overlaps the live tail (prepend and append at once)', () => {
    const state = createState(EXEC);
    applyEvents(state, [snapshot(1, [{ step_id: 'a' }]), logs(2, 'a', 5, ['l5'])]);
    applyEvent(state, logs(null, 'a', 2, ['l2', 'l3', 'l4', 'l5', 'l6', 'l7']));
    assert.deepEqual(lines(state, 'a'), ['l2', 'l3', 'l4', 'l5', 'l6', 'l7']);
    assert.equal(state.logs.hiddenBefore('a'), 2);
    applyEvent(state, logs(3, 'a', 6, ['l6', 'l7', 'l8']));
    assert.deepEqual(lines(state, 'a').slice(-2), ['l7', 'l8']);
    applyEvent(state, logs(null, 'a', 0, ['l0'])); // not contiguous with l2: ignored
    assert.equal(lines(state, 'a')[0], 'l2');
  });

  it('caps memory by dropping the oldest lines across steps', () => {
    const state = createState(EXEC, 10);
    applyEvent(state, snapshot(1, [{ step_id: 'a' }, { step_id: 'b' }]));
    let seq = 2;
    for (let i = 0; i < 8; i++) {
      applyEvent(state, logs(seq++, 'a', i, [`a${i}`]));
      applyEvent(state, logs(seq++, 'b', i, [`b${i}`]));
    }
    assert.ok(state.logs.total <= 10, `total ${state.logs.total}`);
    assert.equal(state.logs.total + state.logs.droppedTotal, 16);
    const all = lines(state, null);
    assert.equal(all[all.length - 1], 'b7');
    assert.equal(all.length, state.logs.total);
    // Per-step views agree with the global one, and know how much is hidden.
    const a = lines(state, 'a');
    assert.equal(a[a.length - 1], 'a7');
    assert.equal(state.logs.hiddenBefore('a') + a.length, 8);
    assert.equal(state.logs.row('a', 0)?.line, `a${8 - a.length}`);
  });

  it('keeps a million lines in bounded arrays quickly', () => {
    const state = createState(EXEC, 200_000);
    applyEvent(state, snapshot(1, [{ step_id: 'a' }]));
    const batch = Array.from({ length: 1000 }, (_, i) => `line ${i}`);
    const t0 = Date.now();
    for (let i = 0; i < 1000; i++) {
      applyEvent(state, logs(i + 2, 'a', i * 1000, batch));
    }
    assert.ok(state.logs.total <= 200_000);
    assert.equal(state.logs.steps.get('a')?.next, 1_000_000);
    assert.ok(Date.now() - t0 < 5000, 'reducer too slow');
  });

  it('merges all steps by time, live and when history is back-filled', () => {
    const state = createState(EXEC);
    applyEvent(state, snapshot(1, [{ step_id: 'a' }, { step_id: 'b' }]));
    const at = (seq: number | null, step: string, offset: number, lines: string[], ts: number[]) =>
      env(seq, 'log_update', { step_id: step, stream: 'stdout', offset, lines, ts });
    // Live: b's batch (sent late) holds a line older than a's last one.
    applyEvent(state, at(2, 'a', 10, ['a10', 'a11'], [10, 12]));
    applyEvent(state, at(3, 'b', 10, ['b10', 'b11'], [11, 13]));
    assert.deepEqual(lines(state, null), ['a10', 'b10', 'a11', 'b11']);
    // Back-fill of the history before the live lines: merged, not concatenated per step.
    applyEvent(
      state,
      at(
        null,
        'b',
        0,
        Array.from({ length: 10 }, (_, i) => `b${i}`),
        Array.from({ length: 10 }, (_, i) => i + 0.5)
      )
    );
    applyEvent(
      state,
      at(
        null,
        'a',
        0,
        Array.from({ length: 10 }, (_, i) => `a${i}`),
        Array.from({ length: 10 }, (_, i) => i)
      )
    );
    const all = lines(state, null);
    assert.deepEqual(all.slice(0, 4), ['a0', 'b0', 'a1', 'b1']);
    assert.deepEqual(all.slice(-4), ['a10', 'b10', 'a11', 'b11']);
    const times = Array.from({ length: state.logs.count(null) }, (_, i) => state.logs.row(null, i)?.ts ?? 0);
    assert.deepEqual(
      times,
      [...times].sort((x, y) => x - y),
      'timestamps never run backwards'
    );
  });
});
