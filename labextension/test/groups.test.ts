import './dom';
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { GroupLayout, GroupState, rowOfOffset } from '../widget/groups';
import { LogStore, type LogRow } from '../widget/logs';
import { lineOffset } from '../widget/logrows';
import { applyEvents, createState } from '../widget/reducer';
import { progressText } from '../widget/stepstrip';
import type { Envelope, LogGroup } from '../widget/types';
import { mountExecutionView } from '../widget/view';
import { container, FakeModel, frames } from './dom';
import { env, logs, snapshot } from './helpers';

const mounted: Array<() => void> = [];
afterEach(() => {
  for (const stop of mounted.splice(0)) stop();
});

function mount(): { el: HTMLElement; model: FakeModel } {
  const el = container();
  const model = new FakeModel();
  mounted.push(mountExecutionView(el, model));
  return { el, model };
}

const text = (el: Element | null | undefined): string => (el?.textContent ?? '').replace(/\s+/g, ' ').trim();
const rows = (el: HTMLElement): string[] => Array.from(el.querySelectorAll('.af-row')).map(text);

function group(
  step: string,
  index: number,
  from: number,
  to: number | null,
  status = 'success',
  kind = 'group',
  title = `G${index}`
): LogGroup {
  return {
    step_id: step,
    index,
    kind,
    title,
    status,
    start_offset: from,
    end_offset: to,
    started_at: 100 + index,
    finished_at: to === null ? null : 101 + index
  };
}

describe('group layout', () => {
  it('maps 200k lines under 1000 groups with a segment per group', () => {
    const store = new LogStore();
    const lines = Array.from({ length: 200_000 }, (_, i) => `line ${i}`);
    store.add('s', 0, lines, undefined, 1);
    const log = store.step('s');
    // 1000 groups of 200 lines; every 10th failed (open), the rest succeeded (closed).
    const groups = Array.from({ length: 1000 }, (_, i) => group('s', i, i * 200, (i + 1) * 200, i % 10 === 0 ? 'failed' : 'success'));
    const state = new GroupState(
      () => new Map([['s', groups]]),
      () => 1
    );
    const t0 = performance.now();
    const layout = state.layout(log, store.version);
    assert.ok(layout);
    console.log(`layout of 200k lines / 1000 groups: ${(performance.now() - t0).toFixed(1)} ms`);
    assert.equal(layout.count, 1000 + 100 * 200, 'a header per group plus the lines of the open ones');
    assert.deepEqual(layout.at(0), { kind: 'header', group: groups[0], depth: 0, open: true, lines: 200 });
    assert.deepEqual(layout.at(1), { kind: 'line', row: 0, depth: 1 });
    assert.equal(layout.at(201)?.kind, 'header', 'group 1 is closed: its header follows group 0');
    assert.equal(layout.displayOf(250), -1, 'a line of a closed group is hidden');
    assert.deepEqual(
      layout.hiding(250).map(g => g.index),
      [1]
    );
    state.expandTo(log, 250);
    const opened = state.layout(log, store.version);
    assert.equal(opened?.at(opened.displayOf(250))?.kind, 'line');
    assert.equal(opened?.count, layout.count + 200);
    state.toggle('s', 0);
    assert.equal(state.layout(log, store.version)?.count, layout.count, 'group 0 closed, group 1 open');
  });

  it('nests groups inside job steps and keeps a view separator outside the group before it', () => {
    const store = new LogStore();
    store.add('job', 0, ['a', 'b', 'c'], undefined, 1);
    store.note('job', '── attempt 1 failed ──', 2);
    store.add('job', 3, ['d', 'e'], undefined, 3);
    const log = store.step('job');
    assert.equal(rowOfOffset(log, 3), 4, 'the separator shifts the rows after it');
    const groups = [
      group('job', 0, 0, 3, 'success', 'job-step', 'Set up'),
      group('job', 1, 1, 2, 'success'),
      group('job', 2, 3, null, 'running', 'job-step', 'Test')
    ];
    const layout = new GroupLayout(log, groups, g => g.index !== 0);
    const shown = Array.from({ length: layout.count }, (_, d) => layout.at(d));
    assert.deepEqual(
      shown.map(i => (i?.kind === 'header' ? `H${i.group.index}@${i.depth}` : `L${i?.row}@${i?.depth}`)),
      ['H0@0', 'L3@0', 'H2@0', 'L4@1', 'L5@1'],
      'a closed job step hides its inner group; the separator (row 3) is outside both'
    );
  });

  it('shows no header for groups that ended before the first line held', () => {
    const store = new LogStore();
    store.add('s', 500, ['x', 'y'], undefined, 1); // a history tail: lines 500 and 501
    const log = store.step('s');
    const groups = [group('s', 0, 0, 400), group('s', 1, 400, 501, 'failed'), group('s', 2, 501, null, 'running')];
    const layout = new GroupLayout(log, groups, () => true);
    const shown = Array.from({ length: layout.count }, (_, d) => layout.at(d));
    assert.deepEqual(
      shown.map(i => (i?.kind === 'header' ? `H${i.group.index}` : `L${i?.row}`)),
      ['H1', 'L0', 'H2', 'L1']
    );
    assert.ok(layout.running);
  });

  it('says which cell runs', () => {
    assert.equal(progressText({ done: 1, total: 4, label: 'time.sleep(0.5)' }), 'cell 2/4 · time.sleep(0.5)');
    assert.equal(progressText({ done: 4, total: 4, label: '' }, 'success'), '4/4 cells');
    assert.equal(progressText(null), '');
  });
});

describe('reducer: groups and retries', () => {
  it('keeps groups by index from snapshots and updates', () => {
    const state = createState('ex-1');
    applyEvents(state, [
      snapshot(1, [{ step_id: 'nb', status: 'running', groups: [group('nb', 0, 0, 2)], annotations: [] }]),
      env(2, 'group_update', { ...group('nb', 1, 2, null, 'running') }),
      env(3, 'group_update', { ...group('nb', 1, 2, 5, 'failed') })
    ]);
    assert.deepEqual(
      state.groups.get('nb')?.map(g => [g.index, g.status, g.end_offset]),
      [
        [0, 'success', 2],
        [1, 'failed', 5]
      ]
    );
    assert.equal((state.steps.get('nb') as unknown as Record<string, unknown>).groups, undefined, 'groups are not copied into the step');
  });

  it('says the exit code and the delay when an attempt fails and another follows', () => {
    const state = createState('ex-1');
    applyEvents(state, retriedLive());
    const lines = Array.from({ length: state.logs.count('flaky') }, (_, i) => state.logs.row('flaky', i)?.line);
    assert.deepEqual(lines, ['try one', '── attempt 1 failed (exit 1), retrying in 2s ──', 'try two']);
    assert.deepEqual(
      state.attempts.get('flaky')?.map(a => [a.attempt, a.start, a.end]),
      [
        [1, 100, 102],
        [2, 104, null]
      ]
    );
  });
});

/** A step whose first attempt fails (exit 1) and is retried 2 s later, seen live. */
function retriedLive(): Envelope[] {
  return [
    snapshot(1, [{ step_id: 'flaky', status: 'pending' }]),
    env(2, 'step_update', { step_id: 'flaky', status: 'running', attempt: 1, started_at: 100 }),
    logs(3, 'flaky', 0, ['try one']),
    { ...env(4, 'step_update', { step_id: 'flaky', status: 'running', attempt: 1, exit_code: 1, retry_in: 2, started_at: 100 }), ts: 102 },
    {
      ...env(5, 'step_update', { step_id: 'flaky', status: 'running', attempt: 2, exit_code: null, retry_in: null, started_at: 100 }),
      ts: 104
    },
    logs(6, 'flaky', 1, ['try two'])
  ];
}

describe('a stored run reopened: the attempts of a retried step', () => {
  it('puts a separator where each next attempt begins, loaded from the end and then paged back', () => {
    const state = createState('ex-1');
    const step = {
      step_id: 'flaky',
      status: 'success',
      attempt: 3,
      started_at: 100,
      finished_at: 120,
      log_lines: 6,
      attempts: [
        { attempt: 1, exit_code: 5, finished_at: 104, log_lines: 2 },
        { attempt: 2, exit_code: 6, finished_at: 110, log_lines: 4 }
      ]
    };
    applyEvents(state, [snapshot(1, [step], { status: 'success', started_at: 100, finished_at: 120 })]);
    assert.equal((state.steps.get('flaky') as unknown as Record<string, unknown>).attempts, undefined);
    // The tail first (as a view attaching to a stored run loads it), then the lines before.
    state.logs.add('flaky', 3, ['more 2', 'try 3', 'more 3'], [108, 112, 113], 0);
    state.logs.add('flaky', 0, ['try 1', 'more 1', 'try 2'], [101, 102, 106], 0);
    const rows = Array.from({ length: state.logs.count('flaky') }, (_, i) => state.logs.row('flaky', i));
    const text = rows.map(r => r?.line ?? '');
    assert.equal(text.length, 8);
    assert.deepEqual([text[0], text[1], text[3], text[4], text[6], text[7]], ['try 1', 'more 1', 'try 2', 'more 2', 'try 3', 'more 3']);
    assert.match(text[2], /^── attempt 1 failed \(exit 5\) at [\d:.]+; attempt 2 follows ──$/);
    assert.match(text[5], /^── attempt 2 failed \(exit 6\) at .*; attempt 3 follows ──$/);
    // Separators take no line number: "try 3" is still line 4 (0-based) of the step.
    assert.deepEqual(
      rows.filter(r => r && !r.step.info.has(r.local)).map(r => lineOffset(r as LogRow)),
      [0, 1, 2, 3, 4, 5]
    );
    assert.deepEqual(
      state.attempts.get('flaky')?.map(a => [a.attempt, a.start, a.end]),
      [
        [1, 100, 104],
        [2, 104, 110],
        [3, 110, null]
      ]
    );
  });

  it('keeps what it saw live when a snapshot with attempts arrives again (a reconnect)', () => {
    const state = createState('ex-1');
    applyEvents(state, [
      ...retriedLive(),
      snapshot(7, [
        {
          step_id: 'flaky',
          status: 'running',
          attempt: 2,
          started_at: 100,
          log_lines: 2,
          attempts: [{ attempt: 1, exit_code: 1, finished_at: 102, log_lines: 1 }]
        }
      ])
    ]);
    const lines = Array.from({ length: state.logs.count('flaky') }, (_, i) => state.logs.row('flaky', i)?.line);
    assert.deepEqual(lines, ['try one', '── attempt 1 failed (exit 1), retrying in 2s ──', 'try two'], 'one separator');
  });
});

describe('views: groups, annotations, progress', () => {
  const cell = (index: number, from: number, to: number | null, status: string): LogGroup =>
    group('nb', index, from, to, status, 'cell', `Cell ${index + 1} · print(${index})`);

  it('opens the closed group that holds a search match', async () => {
    const { el, model } = mount();
    model.push([
      snapshot(1, [{ step_id: 'g', status: 'success' }], { status: 'success' }),
      logs(2, 'g', 0, ['start', 'inside one', 'needle here', 'after']),
      env(3, 'group_update', { ...group('g', 0, 1, 3, 'success', 'group', 'Install') })
    ]);
    await frames();
    const select = el.querySelector('.af-logbar select') as HTMLSelectElement;
    select.value = 'g';
    select.dispatchEvent(new window.Event('change') as unknown as Event);
    await frames();
    assert.equal(el.querySelector('.af-ghead')?.getAttribute('aria-expanded'), 'false');
    assert.ok(!rows(el).some(r => r.includes('needle')));
    const search = el.querySelector('.af-logbar input[type=search]') as HTMLInputElement;
    search.value = 'needle';
    search.dispatchEvent(new window.KeyboardEvent('keydown', { key: 'Enter' }) as unknown as Event);
    await frames();
    assert.equal(el.querySelector('.af-ghead')?.getAttribute('aria-expanded'), 'true');
    assert.equal(text(el.querySelector('.af-row.af-cur')), '3needle here');
  });

  it('draws no empty strip above a log without progress, job steps or annotations', async () => {
    const { el, model } = mount();
    model.push([snapshot(1, [{ step_id: 'a', status: 'running' }]), logs(2, 'a', 0, ['x'])]);
    await frames();
    assert.ok(el.querySelector('.af-stepstrip')?.classList.contains('af-hidden'));
    assert.ok(el.querySelector('.af-annotations')?.classList.contains('af-hidden'));
  });

  it('draws cell groups, progress, annotations and job steps, and jumps to an annotated line', async () => {
    const { el, model } = mount();
    model.push([
      snapshot(1, [
        { step_id: 'nb', name: 'nb', status: 'running', attempt: 1, started_at: 100 },
        { step_id: 'job', name: 'job', status: 'pending' }
      ]),
      env(2, 'step_update', {
        step_id: 'nb',
        status: 'running',
        attempt: 1,
        started_at: 100,
        progress: { done: 1, total: 4, label: 'print(1)' }
      }),
      logs(3, 'nb', 0, ['zero', 'one']),
      env(4, 'group_update', { ...cell(0, 0, 1, 'success') }),
      env(5, 'group_update', { ...cell(1, 1, null, 'running') })
    ]);
    await frames();
    assert.ok(el.querySelector('.af-annotations')?.classList.contains('af-hidden'), 'no empty annotation list');
    (el.querySelector('.af-logbar select') as HTMLSelectElement).value = 'nb';
    (el.querySelector('.af-logbar select') as HTMLSelectElement).dispatchEvent(new window.Event('change') as unknown as Event);
    await frames();
    assert.match(text(el.querySelector('.af-stepstrip')), /cell 2\/4 · print\(1\)/);
    assert.deepEqual(
      rows(el).map(r => r.replace(/(\d+(\.\d)?s|\d+h \d+m) · /, '')),
      ['▸✓Cell 1 · print(0)1 line', '▾◐Cell 2 · print(1)1 line', '2one'],
      'the finished cell is closed, the running one open'
    );
    const head = el.querySelector('.af-ghead[data-group="0"]') as HTMLElement;
    assert.equal(head.getAttribute('aria-expanded'), 'false');
    head.click();
    await frames();
    assert.equal(el.querySelector('.af-ghead[data-group="0"]')?.getAttribute('aria-expanded'), 'true');
    assert.deepEqual(rows(el).slice(1, 2), ['1zero'], 'opened by a click');
    const again = el.querySelector('.af-ghead[data-group="0"]') as HTMLElement;
    again.dispatchEvent(new window.KeyboardEvent('keydown', { key: 'Enter', bubbles: true }) as unknown as Event);
    await frames();
    assert.equal(el.querySelector('.af-ghead[data-group="0"]')?.getAttribute('aria-expanded'), 'false', 'closed by Enter');

    // A workflow job: three job steps, the second failed with an error annotation.
    model.push([
      env(6, 'step_update', { step_id: 'job', status: 'running', attempt: 1, started_at: 101 }),
      logs(7, 'job', 0, ['setting up', 'ok', 'Error: boom', 'done']),
      env(8, 'group_update', { ...group('job', 0, 0, 2, 'success', 'job-step', 'Set up') }),
      env(9, 'group_update', { ...group('job', 1, 2, 3, 'failed', 'job-step', 'Build') }),
      env(10, 'annotation', { step_id: 'job', offset: 2, level: 'error', message: 'boom', file: 'a.py', line: 3 }),
      env(11, 'annotation', { step_id: 'job', offset: 3, level: 'warning', message: 'slow', file: null, line: null }),
      env(12, 'group_update', { ...group('job', 2, 3, 4, 'success', 'job-step', 'Report') }),
      env(13, 'step_update', { step_id: 'job', status: 'failed', attempt: 1, exit_code: 1, started_at: 101, finished_at: 104 })
    ]);
    await frames();
    (el.querySelector('.af-logbar select') as HTMLSelectElement).value = '';
    (el.querySelector('.af-logbar select') as HTMLSelectElement).dispatchEvent(new window.Event('change') as unknown as Event);
    await frames();
    assert.match(text(el.querySelector('.af-annotations')), /✕ 1.*⚠ 1/, 'count badges');
    assert.match(text(el.querySelector('.af-annotations li')), /boom.*a\.py:3/, 'errors first');
    (el.querySelector('.af-aitem.af-a-warning') as HTMLElement).click();
    await frames();
    assert.equal((el.querySelector('.af-logbar select') as HTMLSelectElement).value, 'job');
    assert.equal(text(el.querySelector('.af-row.af-focus')), '4done', 'the annotated line, its closed group opened');
    assert.equal(text(el.querySelector('.af-row.af-ann.af-a-error')), '3Error: boom', 'annotated lines are styled by level');
    assert.ok(el.querySelector('.af-row.af-focus')?.classList.contains('af-a-warning'));
    assert.equal(el.querySelector('.af-ghead[data-group="2"]')?.getAttribute('aria-expanded'), 'true');
    assert.equal(el.querySelector('.af-ghead[data-group="0"]')?.getAttribute('aria-expanded'), 'false');
    const chips = Array.from(el.querySelectorAll('.af-stepstrip .af-jstep')).map(text);
    assert.deepEqual(
      chips.map(c => c.replace(/\d+\.\ds$/, '')),
      ['✓Set up', '✕Build', '✓Report']
    );
    // The timeline row: annotation badges, and the job steps under the failed job.
    (el.querySelectorAll('.af-tabs button')[1] as HTMLElement).click();
    await frames();
    assert.match(text(el.querySelector('tr[data-step="job"] .af-sname')), /job✕ 1⚠ 1/);
    assert.equal(el.querySelectorAll('tr.af-subrow .af-jstep.af-g-failed').length, 1);
    assert.equal(text(el.querySelector('tr[data-step="nb"] .af-why')), 'cell 2/4');
    assert.equal(el.querySelector('tr[data-step="nb"] .af-ptext')?.getAttribute('title'), 'cell 2/4 · print(1)');
  });
});
