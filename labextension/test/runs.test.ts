import './dom';
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { runsOf } from '../widget/ui';
import { mountExecutionView } from '../widget/view';
import { container, FakeModel, frames } from './dom';

const stops: Array<() => void> = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

describe('runs of a cell across reloads', () => {
  it('lists the runs saved with the output and reports every new one', async () => {
    const el = container();
    const model = new FakeModel({ mode: 'embedded', execution_id: 'run-3' });
    const reported: string[][] = [];
    stops.push(mountExecutionView(el, model, { runs: ['run-1', 'run-2'], onRuns: runs => reported.push(runs) }));
    await frames();
    const select = el.querySelector('.af-runs') as HTMLSelectElement;
    assert.equal(select.options.length, 3);
    assert.notEqual(select.style.display, 'none');
    assert.equal(select.value, 'run-3');
    assert.deepEqual(reported.at(-1), ['run-1', 'run-2', 'run-3']);
    model.set('execution_id', 'run-4');
    await frames();
    assert.deepEqual(reported.at(-1), ['run-1', 'run-2', 'run-3', 'run-4']);
    assert.equal((el.querySelector('.af-runs') as HTMLSelectElement).options.length, 4);
  });

  it('reads only string ids from a saved output', () => {
    assert.deepEqual(runsOf({ execution_id: 'x', runs: ['a', 3, '', 'b'] }), ['a', 'b']);
    assert.deepEqual(runsOf({ execution_id: 'x' }), []);
    assert.deepEqual(runsOf(null), []);
  });
});

describe('REST answers typed from openapi.yaml', () => {
  it('takes the new execution from a POST executions answer and refuses one without it', async () => {
    const { parseStarted } = await import('../src/executions');
    assert.deepEqual(parseStarted({ execution_id: 'abc', pipeline_name: 'CI', status: 'pending' }), {
      execution_id: 'abc',
      pipeline_name: 'CI'
    });
    assert.throws(() => parseStarted({ id: 'abc' }), /execution id/);
    assert.throws(() => parseStarted(null), /execution id/);
  });
});
