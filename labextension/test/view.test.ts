import './dom';
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { mountExecutionView } from '../widget/view';
import { container, FakeModel, frames } from './dom';
import { env, EXEC, logs, snapshot } from './helpers';

const mounted: Array<() => void> = [];
// A failed assertion must not leave the view's timer running (the runner would hang).
afterEach(() => {
  for (const stop of mounted.splice(0)) stop();
});

function mount(): { el: HTMLElement; model: FakeModel; stop: () => void } {
  const el = container();
  const model = new FakeModel();
  const stop = mountExecutionView(el, model);
  mounted.push(stop);
  return { el, model, stop: () => undefined };
}

const text = (el: Element | null | undefined): string => (el?.textContent ?? '').replace(/\s+/g, ' ').trim();
const width = (el: HTMLElement, cat: string): string => (el.querySelector(`.af-fill.af-k-${cat}`) as HTMLElement | null)?.style.width ?? '';

describe('header counts', () => {
  it('never counts skipped or cancelled steps as passed', async () => {
    const { el, model, stop } = mount();
    model.push([
      snapshot(
        9,
        [
          { step_id: 'a', status: 'success' },
          { step_id: 'b', status: 'success' },
          { step_id: 'c', status: 'cancelled', reason: 'cancelled', started_at: 5 },
          { step_id: 'd', status: 'skipped', reason: 'needs-failed' }
        ],
        { status: 'cancelled', steps_done: 4 }
      )
    ]);
    await frames();
    const count = text(el.querySelector('.af-count'));
    assert.equal(count, '2 passed · 1 skipped · 1 cancelled of 4');
    assert.equal(width(el, 'success'), '50%', 'the green part is the two passed steps only');
    assert.equal(width(el, 'cancelled'), '25%');
    assert.equal(width(el, 'skipped'), '25%');
    stop();
  });

  it('does not repeat the badge in a message line ("cancelled" under CANCELLED)', async () => {
    const { el, model, stop } = mount();
    model.push([
      snapshot(3, [{ step_id: 'nap', status: 'cancelled', reason: 'cancelled' }], { status: 'cancelled', message: 'cancelled' })
    ]);
    await frames();
    assert.ok(el.querySelector('.af-message')?.classList.contains('af-hidden'), text(el.querySelector('.af-message')));
    stop();
  });

  it('shows a continue-on-error failure as an allowed failure, not red', async () => {
    const { el, model, stop } = mount();
    model.push([
      snapshot(
        5,
        [
          { step_id: 'lint', status: 'failed', exit_code: 1, reason: 'exit', continue_on_error: true },
          { step_id: 'test', status: 'success' },
          { step_id: 'old', status: 'success', reason: 'reused', reused_from: 'abcdef0123456789' }
        ],
        { status: 'success' }
      )
    ]);
    await frames();
    assert.equal(text(el.querySelector('.af-count')), '1 passed · 1 allowed failure · 1 reused of 3');
    assert.equal(width(el, 'failed'), '0%');
    assert.equal(width(el, 'allowed-failure'), '33.33333333333333%');
    assert.equal(el.querySelectorAll('.af-failures .af-link').length, 0, 'no failed-step links in a success');
    const node = el.querySelector('[data-step="lint"]');
    assert.ok(node?.getAttribute('class')?.includes('af-k-allowed-failure'));
    assert.match(node?.getAttribute('aria-label') ?? '', /exit 1, allowed to fail/);
    // A reused step says why it has no log, and names its source run.
    (el.querySelector('[data-step="old"]') as HTMLElement).dispatchEvent(
      new window.MouseEvent('click', { bubbles: true }) as unknown as Event
    );
    await frames();
    assert.match(text(el.querySelector('.af-rows')), /Reused from run abcdef012345: it did not run again/);
    stop();
  });
});

describe('failure triage', () => {
  it('opens the failed step at its first error and links failed steps in the header', async () => {
    const { el, model, stop } = mount();
    const lines = ['collecting', 'running tests', 'Traceback (most recent call last):', '  File "x.py"', 'ValueError: boom', 'done'];
    model.push([
      snapshot(1, [
        { step_id: 'build', status: 'running', attempt: 1 },
        { step_id: 'deploy', status: 'pending', needs: ['build'] },
        { step_id: 'slow', status: 'running' }
      ]),
      env(2, 'log_update', { step_id: 'build', stream: 'stdout', offset: 0, lines: lines.slice(0, 2), ts: [1, 2] }),
      env(3, 'log_update', { step_id: 'build', stream: 'stderr', offset: 2, lines: lines.slice(2), ts: [3, 4, 5, 6] }),
      env(4, 'step_update', { step_id: 'build', status: 'failed', exit_code: 1, reason: 'exit' }),
      env(5, 'step_update', { step_id: 'deploy', status: 'skipped', reason: 'needs-failed' }),
      env(6, 'step_update', { step_id: 'slow', status: 'failed', exit_code: -15, reason: 'timeout', timeout: 300 }),
      env(7, 'execution_update', { status: 'failed', message: '2 steps failed' })
    ]);
    await frames();
    await frames();
    const select = el.querySelector('.af-logbar select') as HTMLSelectElement;
    assert.equal(select.value, 'build', 'the first failed step is open');
    const focus = el.querySelector('.af-row.af-focus');
    assert.ok(focus, 'a row is marked as the first error');
    assert.match(text(focus), /Traceback/);
    assert.ok(focus?.className.includes('af-stderr') && focus.className.includes('af-errline'));
    assert.ok(el.querySelector('.af-row.af-errline')?.textContent?.includes('Traceback'));
    // Reasons in words, never codes.
    const links = Array.from(el.querySelectorAll('.af-failures .af-link')).map(a => a.getAttribute('data-step'));
    assert.deepEqual(links, ['build', 'slow']);
    const failures = text(el.querySelector('.af-failures'));
    assert.match(failures, /exit 1/);
    assert.match(failures, /killed after the 5m timeout/);
    assert.doesNotMatch(failures, /exit -15|needs-failed/);
    assert.match(el.querySelector('[data-step="deploy"]')?.getAttribute('aria-label') ?? '', /skipped: a step it needs failed/);
    // A link opens that step.
    (el.querySelector('.af-failures [data-step="slow"]') as HTMLElement).click();
    await frames();
    assert.equal(select.value, 'slow');
    // A skipped step says why it has no log.
    (el.querySelector('.af-pane [data-step="deploy"]') as HTMLElement).dispatchEvent(
      new window.MouseEvent('click', { bubbles: true }) as unknown as Event
    );
    await frames();
    assert.equal(text(el.querySelector('.af-rows')), 'Skipped: a step it needs failed. It never ran, so it has no log.');
    stop();
  });
});

describe('log pane and keyboard', () => {
  it('says a run that ended without output has none, not that lines are still to come', async () => {
    const { el, model, stop } = mount();
    model.push([snapshot(1, [{ step_id: 'nap', status: 'running', started_at: 1 }])]);
    await frames();
    assert.equal(text(el.querySelector('.af-empty')), 'No log lines yet.');
    model.push([
      env(2, 'step_update', { step_id: 'nap', status: 'cancelled', reason: 'cancelled', started_at: 1 }),
      env(3, 'execution_update', { execution_id: EXEC, status: 'cancelled', steps_done: 1 })
    ]);
    await frames();
    assert.equal(text(el.querySelector('.af-empty')), 'No step wrote any output.');
    stop();
  });

  it('sizes the log pane to its content within bounds', async () => {
    const { el, model, stop } = mount();
    model.push([snapshot(1, [{ step_id: 'a', status: 'running' }]), logs(2, 'a', 0, ['one', 'two', 'three'])]);
    await frames();
    const right = el.querySelector('.af-right') as HTMLElement;
    assert.equal(right.style.getPropertyValue('--af-log-rows'), '4');
    model.push([
      logs(
        3,
        'a',
        3,
        Array.from({ length: 100 }, (_, i) => `l${i}`)
      )
    ]);
    await frames();
    assert.equal(right.style.getPropertyValue('--af-log-rows'), '24');
    stop();
  });

  it('makes graph nodes and timeline rows focusable with names; Enter opens a step', async () => {
    const { el, model, stop } = mount();
    model.push([
      snapshot(1, [
        { step_id: 'a', name: 'Build it', status: 'success' },
        { step_id: 'b', status: 'running', needs: ['a'] }
      ])
    ]);
    await frames();
    const node = el.querySelector('.af-pane [data-step="a"]') as HTMLElement;
    assert.equal(node.getAttribute('tabindex'), '0');
    assert.equal(node.getAttribute('aria-label'), 'Build it: success');
    node.dispatchEvent(new window.KeyboardEvent('keydown', { key: 'Enter', bubbles: true }) as unknown as Event);
    await frames();
    assert.equal((el.querySelector('.af-logbar select') as HTMLSelectElement).value, 'a');
    (el.querySelectorAll('.af-tabs button')[1] as HTMLElement).click();
    await frames();
    const row = el.querySelector('.af-pane tr[data-step="b"]');
    assert.equal(row?.getAttribute('tabindex'), '0');
    assert.equal(row?.getAttribute('aria-label'), 'b: running');
    stop();
  });

  it('separates retry attempts in the log and draws one bar per attempt', async () => {
    const { el, model, stop } = mount();
    model.push([
      snapshot(1, [{ step_id: 'flaky', status: 'pending' }], { started_at: 100 }),
      env(2, 'step_update', { step_id: 'flaky', status: 'running', attempt: 1, started_at: 100 }),
      env(3, 'log_update', { step_id: 'flaky', stream: 'stdout', offset: 0, lines: ['try one'], ts: [101] }),
      { ...env(4, 'step_update', { step_id: 'flaky', status: 'running', attempt: 2, started_at: 100 }), ts: 104 },
      env(5, 'log_update', { step_id: 'flaky', stream: 'stdout', offset: 1, lines: ['try two'], ts: [105] }),
      {
        ...env(6, 'step_update', { step_id: 'flaky', status: 'success', attempt: 2, started_at: 100, finished_at: 108, duration: 8 }),
        ts: 108
      },
      env(7, 'execution_update', { status: 'success', finished_at: 108 })
    ]);
    (el.querySelectorAll('.af-tabs button')[1] as HTMLElement).click();
    await frames();
    (el.querySelector('.af-pane [data-step="flaky"]') as HTMLElement).click();
    await frames();
    const rows = Array.from(el.querySelectorAll('.af-row')).map(text);
    assert.equal(rows.length, 3);
    assert.match(rows[1], /attempt 1 failed; attempt 2 started/);
    assert.equal(rows[2], '2try two', 'the separator takes no line number');
    const bars = el.querySelectorAll('tr[data-step="flaky"] .af-gbar');
    assert.equal(bars.length, 2, 'one bar per attempt');
    assert.ok(bars[0].className.includes('af-s-failed'));
    assert.ok(bars[1].className.includes('af-s-success'));
    assert.equal((bars[0] as HTMLElement).style.width, '50.00%');
    stop();
  });

  it('ignores event types it does not know', async () => {
    const { el, model, stop } = mount();
    model.push([
      snapshot(1, [{ step_id: 'a', status: 'running' }]),
      env(2, 'group_update', { step_id: 'a', index: 0, kind: 'group', title: 'Install', start_offset: 0 }),
      env(3, 'something_new', { whatever: true }),
      env(4, 'step_update', { step_id: 'a', status: 'success' })
    ]);
    await frames();
    assert.match(el.querySelector('[data-step="a"]')?.getAttribute('aria-label') ?? '', /success/);
    assert.equal(EXEC, 'ex-1');
    stop();
  });

  it('keeps the earlier runs of the view reachable in a selector', async () => {
    const { el, model } = mount();
    model.push([snapshot(3, [{ step_id: 'a', status: 'failed' }], { status: 'failed' })]);
    await frames();
    const runs = el.querySelector('.af-runs') as HTMLSelectElement;
    assert.equal(runs.style.display, 'none', 'one run: no selector');
    model.set('execution_id', 'ex-2'); // a re-run switched the view
    model.push([env(1, 'snapshot', { execution: { execution_id: 'ex-2', status: 'running' }, steps: [{ step_id: 'a' }] }, 'ex-2')]);
    await frames();
    assert.equal(runs.style.display, '');
    assert.deepEqual(
      Array.from(runs.options).map(o => o.value),
      [EXEC, 'ex-2']
    );
    assert.equal(runs.value, 'ex-2');
    runs.value = EXEC;
    runs.dispatchEvent(new window.Event('change') as unknown as Event);
    await frames();
    assert.equal(text(el.querySelector('.af-id')), EXEC.slice(0, 8));
  });
});
