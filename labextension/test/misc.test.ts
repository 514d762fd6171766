import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDuration } from '../widget/format';
import { parseLogPage, toChunk } from '../widget/history';
import { layoutDag } from '../widget/layout';
import { backoffDelay, parseFrame } from '../widget/transport';
import { toSeconds } from '../widget/types';

describe('layoutDag', () => {
  it('layers by longest path from the roots', () => {
    const layout = layoutDag([
      { step_id: 'env' },
      { step_id: 'checkout' },
      { step_id: 'test', needs: ['env', 'checkout'] },
      { step_id: 'build', needs: ['env'] },
      { step_id: 'deploy', needs: ['test', 'build', 'env'] }
    ]);
    const layers = Object.fromEntries([...layout.positions].map(([id, [l]]) => [id, l]));
    assert.deepEqual(layers, { env: 0, checkout: 0, test: 1, build: 1, deploy: 2 });
    assert.equal(layout.layers, 3);
    assert.equal(layout.edges.length, 6);
  });
  it('wraps steps into a grid when no dependencies are known', () => {
    const layout = layoutDag(['a', 'b', 'c', 'd', 'e', 'f'].map(step_id => ({ step_id })));
    assert.deepEqual(layout.positions.get('e'), [0, 1]);
    assert.deepEqual([layout.layers, layout.rows, layout.edges.length], [4, 2, 0]);
  });
  it('survives unknown needs and cycles', () => {
    const layout = layoutDag([
      { step_id: 'a', needs: ['b', 'ghost'] },
      { step_id: 'b', needs: ['a'] }
    ]);
    assert.equal(layout.positions.size, 2);
  });
});

describe('transport helpers', () => {
  it('parses a frame with one envelope or a list', () => {
    assert.equal(parseFrame('{"seq":1,"type":"heartbeat","execution_id":"x","data":{}}').length, 1);
    assert.equal(parseFrame('[{"seq":1},{"seq":2}]').length, 2);
  });
  it('backs off from 0.5 s to 10 s', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 50].map(backoffDelay), [500, 1000, 2000, 4000, 8000, 10000, 10000, 10000]);
  });
});

describe('log history answers', () => {
  it('parses the one documented page shape and refuses others loudly', () => {
    const page = parseLogPage(
      '{"execution_id":"x","lines":[{"step_id":"a","offset":5,"stream":"stderr","line":"boom","ts":3}],"next_offset":6}'
    );
    assert.deepEqual(toChunk(page, 0), { offset: 5, lines: ['boom'], ts: [3], streams: ['stderr'] });
    assert.equal(page.next_offset, 6);
    assert.equal(toChunk(parseLogPage('{"lines":[],"next_offset":null}'), 9).offset, 9);
    assert.throws(() => parseLogPage('["u"]'), /lines/);
    assert.throws(() => parseLogPage('{"lines":[{"text":"x"}]}'), /offset/);
  });
});

describe('formatting', () => {
  it('formats durations and timestamps', () => {
    assert.deepEqual([0.25, 12.7, 125, 7322].map(formatDuration), ['0.3s', '12s', '2m 05s', '2h 02m']);
    assert.equal(formatDuration(null), '');
    // The CLI's and the kernel's words (ansflow_jupyter/format.py).
    assert.deepEqual([9.94, 9.97, 59.9, 3600].map(formatDuration), ['9.9s', '10s', '59s', '1h 00m']);
    assert.equal(toSeconds('1970-01-01T00:00:10Z'), 10);
    assert.equal(toSeconds(null), null);
  });
});

describe('step labels and reasons', () => {
  it('keeps the matrix values of long names', async () => {
    const { stepLabel, reasonWords, exitWords } = await import('../widget/status');
    assert.equal(stepLabel({ step_id: 'integration-tests-with-a-long-name[python=3.12,os=linux]' }, 26), 'integration… [3.12, linux]');
    const label = stepLabel({ step_id: 'x', name: 'Run the whole test suite (3.11, ubuntu)' }, 26);
    assert.ok(label.endsWith('(3.11, ubuntu)') && label.length <= 26, label);
    assert.equal(stepLabel({ step_id: 'short[a=1]' }, 26), 'short [1]');
    assert.equal(stepLabel({ step_id: 'plain-but-very-long-step-name-here' }, 14), 'plain-but-ver…');
    assert.equal(stepLabel({ step_id: 't', name: 'tests', matrix: { py: '3.13' } }), 'tests [3.13]');
    // A plain step (no matrix) whose name ends in parentheses is cut at its end like any name.
    const flaky = { step_id: 'flaky', name: 'Flaky download (fails once, then succeeds)', matrix: {} };
    assert.equal(stepLabel(flaky, 26), 'Flaky download (fails onc…');
    assert.equal(stepLabel({ step_id: 'p', name: 'Publish (skipped: a test failed)', matrix: {} }, 26), 'Publish (skipped: a test…');
    // A leg whose name already says its values does not repeat them, unless it must be cut.
    const leg = { step_id: 'test[python=3.11,os=linux]', name: 'Test on Python 3.11 / linux', matrix: { python: '3.11', os: 'linux' } };
    assert.equal(stepLabel(leg, 36), 'Test on Python 3.11 / linux');
    assert.equal(stepLabel(leg, 24), 'Test on P… [3.11, linux]');
    assert.equal(stepLabel({ step_id: 't[py=3.12]', name: 'Tests on 3.12', matrix: { py: '3.12' } }), 'Tests on 3.12');
    assert.equal(exitWords(-15), 'killed by SIGTERM');
    assert.equal(exitWords(137), 'exit 137');
    assert.equal(reasonWords({ step_id: 'a', status: 'failed', reason: 'timeout', timeout: 300 }), 'killed after the 5m timeout');
    assert.equal(reasonWords({ step_id: 'a', status: 'skipped', reason: 'needs-failed' }), 'skipped: a step it needs failed');
    assert.equal(reasonWords({ step_id: 'a', status: 'failed', reason: 'exit', message: 'said by the server' }), 'said by the server');
    assert.equal(reasonWords({ step_id: 'a', status: 'success', reason: 'exit', exit_code: 0 }), '');
  });
});

describe('search counter', () => {
  it('counts every match exactly beyond the navigable limit', async () => {
    const { searchLines } = await import('../widget/search');
    const found = searchLines(250_000, i => (i % 2 ? 'hit' : 'miss'), 'hit', 100_000);
    assert.equal(found.rows.length, 100_000);
    assert.equal(found.total, 125_000);
  });
});

describe('sidebar helpers', () => {
  it('lists pipelines by name, dates other days, filters executions', async () => {
    const { parsePipelines, formatWhen, filterExecutions } = await import('../src/executions');
    const workflow = { path: '.github/workflows/t.yml', name: 'Tests', steps: ['test'], kind: 'workflow' };
    assert.deepEqual(parsePipelines([{ path: 'ci/a.yml', name: 'CI', steps: 3 }, { path: 'b.yml' }, workflow]), [
      { path: 'ci/a.yml', name: 'CI', kind: 'pipeline' },
      { path: 'b.yml', name: 'b.yml', kind: 'pipeline' },
      { path: '.github/workflows/t.yml', name: 'Tests', kind: 'workflow' }
    ]);
    assert.throws(() => parsePipelines({ pipelines: [] }), /list/);
    const now = new Date(2026, 10, 30, 15, 0);
    assert.doesNotMatch(formatWhen(new Date(2026, 10, 30, 9, 5).getTime() / 1000, now), /Nov|30/);
    assert.match(formatWhen(new Date(2026, 10, 29, 9, 5).getTime() / 1000, now), /29/);
    const list = [
      { execution_id: '1', pipeline_name: 'Nightly CI', status: 'failed' },
      { execution_id: '2', pipeline_name: 'Docs', status: 'success' },
      { execution_id: '3', pipeline_name: 'nightly deploy', status: 'success' }
    ];
    assert.deepEqual(
      filterExecutions(list, 'success', 'NIGHTLY').map(e => e.execution_id),
      ['3']
    );
    assert.equal(filterExecutions(list, '', '').length, 3);
  });
});
