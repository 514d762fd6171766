import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventFeed, sliceLogEvent } from '../widget/feed';
import { applyEvent, applyEvents, createState } from '../widget/reducer';
import type { Envelope } from '../widget/types';
import { env, EXEC, logs, snapshot } from './helpers';

const lines = (state: ReturnType<typeof createState>, step: string | null): string[] =>
  Array.from({ length: state.logs.count(step) }, (_, i) => state.logs.row(step, i)?.line ?? '?');
const numbered = (n: number, prefix: string): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const tasks = (): Promise<void> => new Promise(resolve => setTimeout(resolve, 20));

describe('sliceLogEvent', () => {
  it('cuts a big log_update into ordered parts; only the last carries the seq', () => {
    const big = env(7, 'log_update', {
      step_id: 's',
      offset: 10,
      lines: numbered(5, 'l'),
      ts: [1, 2, 3, 4, 5],
      stream: ['stdout', 'stderr', 'stdout', 'stdout', 'stderr']
    });
    const parts = sliceLogEvent(big, 2);
    assert.deepEqual(
      parts.map(p => [p.seq, p.data.offset, p.data.lines, p.data.ts, p.data.stream]),
      [
        [null, 10, ['l0', 'l1'], [1, 2], ['stdout', 'stderr']],
        [null, 12, ['l2', 'l3'], [3, 4], ['stdout', 'stdout']],
        [7, 14, ['l4'], [5], ['stderr']]
      ]
    );
    assert.deepEqual(sliceLogEvent(big, 5), [big]);
    const step = env(8, 'step_update', { step_id: 's', status: 'success' });
    assert.deepEqual(sliceLogEvent(step, 1), [step]);
  });
});

describe('EventFeed', () => {
  it('applies a big backlog over several tasks, in order, with the result of applying it whole', async () => {
    const backlog: Envelope[] = [
      snapshot(1, [{ step_id: 's', status: 'running' }]),
      logs(2, 's', 0, numbered(10, 'a')),
      logs(3, 't', 0, numbered(7, 'b')),
      env(4, 'step_update', { step_id: 's', status: 'success' }),
      logs(5, 't', 7, numbered(3, 'c'))
    ];
    const whole = createState(EXEC);
    applyEvents(whole, backlog);

    const fed = createState(EXEC);
    const applied: Array<[string, number | null]> = [];
    // No time budget: one part per task, the most a task can be cut.
    const feed = new EventFeed(
      event => {
        applied.push([event.type, event.seq]);
        applyEvent(fed, event);
      },
      0,
      4
    );
    try {
      feed.push(backlog.slice(0, 3));
      assert.equal(applied.length, 1, 'one part per task: the page may draw in between');
      feed.push(backlog.slice(3));
      await tasks();
      assert.equal(feed.pending, 0);
      assert.deepEqual(applied, [
        ['snapshot', 1],
        ['log_update', null],
        ['log_update', null],
        ['log_update', 2],
        ['log_update', null],
        ['log_update', 3],
        ['step_update', 4],
        ['log_update', 5]
      ]);
      assert.deepEqual(lines(fed, 's'), lines(whole, 's'));
      assert.deepEqual(lines(fed, 't'), lines(whole, 't'));
      assert.deepEqual(lines(fed, null), lines(whole, null));
      assert.equal(fed.seq, whole.seq);
      assert.equal(fed.steps.get('s')?.status, 'success');
    } finally {
      feed.dispose();
    }
  });

  it('forgets what it did not apply when cleared (the view switched executions)', async () => {
    const seen: Array<number | null> = [];
    const feed = new EventFeed(event => seen.push(event.seq), 0, 2);
    try {
      feed.push([logs(2, 's', 0, numbered(6, 'x')), logs(3, 's', 6, ['y'])]);
      feed.clear();
      await tasks();
      assert.deepEqual(seen, [null]);
      feed.push([snapshot(1, [])]);
      await tasks();
      assert.deepEqual(seen, [null, 1]);
    } finally {
      feed.dispose();
    }
  });
});
