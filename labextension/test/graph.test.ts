import './dom';
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { renderGraph } from '../widget/graph';
import { graphNodes, groupNodeId, groupStatus } from '../widget/graphmodel';
import { GraphView } from '../widget/graphview';
import { layoutDag } from '../widget/layout';
import { Splitter } from '../widget/split';
import type { Annotation, StepInfo } from '../widget/types';
import { container } from './dom';

// happy-dom's event classes (dom.ts installs only what the views use as globals).
const { KeyboardEvent, MouseEvent } = (
  globalThis as unknown as { window: { KeyboardEvent: typeof globalThis.KeyboardEvent; MouseEvent: typeof globalThis.MouseEvent } }
).window;

/** Height of a node's box in row units (40 px of a 52 px row). */
const BOX = 40 / 52;

/** A 40-step pipeline: checkout, a lint fan-out, an 8-leg matrix, packaging, deploy. */
function forty(): StepInfo[] {
  const steps: StepInfo[] = [{ step_id: 'checkout', status: 'success' }];
  for (let i = 0; i < 10; i++) steps.push({ step_id: `lint-${i}`, status: 'success', needs: ['checkout'] });
  const legs: string[] = [];
  for (const py of ['3.10', '3.11', '3.12', '3.13']) {
    for (const os of ['linux', 'mac']) {
      const id = `tests[python=${py},os=${os}]`;
      legs.push(id);
      const failed = py === '3.13' && os === 'mac';
      steps.push({
        step_id: id,
        status: failed ? 'failed' : 'success',
        exit_code: failed ? 1 : 0,
        needs: ['checkout'],
        template_id: 'tests',
        matrix: { python: py, os }
      });
    }
  }
  for (let i = 0; i < 16; i++)
    steps.push({ step_id: `package-${i}`, status: 'skipped', reason: 'needs-failed', needs: [...legs.slice(0, 2), `lint-${i % 10}`] });
  for (let i = 0; i < 4; i++) steps.push({ step_id: `docs-${i}`, status: 'success', needs: ['checkout'] });
  steps.push({ step_id: 'deploy', status: 'skipped', needs: ['package-0', 'docs-0', 'checkout'] });
  return steps;
}

describe('DAG layout', () => {
  it('routes every edge around the nodes, through free slots of the layers it passes', () => {
    const steps = [
      { step_id: 'a' },
      { step_id: 'b', needs: ['a'] },
      { step_id: 'c', needs: ['b'] },
      { step_id: 'x', needs: ['a'] },
      { step_id: 'y', needs: ['x'] },
      { step_id: 'd', needs: ['c', 'a', 'y'] }
    ];
    const layout = layoutDag(steps);
    const byLayer = new Map<number, number[]>();
    for (const [l, y] of layout.positions.values()) byLayer.set(l, [...(byLayer.get(l) ?? []), y]);
    let passes = 0;
    for (const route of layout.routes) {
      for (const [l, c] of route.points.slice(1, -1)) {
        passes++;
        for (const top of byLayer.get(l) ?? []) {
          assert.ok(c < top - 0.1 || c > top + BOX + 0.1, `edge ${route.from}->${route.to} passes under a node in layer ${l}`);
        }
      }
    }
    assert.equal(passes, 2, 'a->d passes layers 1 and 2');
  });

  it('centres a fan-out on its source instead of hanging it from the top (no comb)', () => {
    const steps = [{ step_id: 'src' }, ...Array.from({ length: 9 }, (_, i) => ({ step_id: `t${i}`, needs: ['src'] }))];
    const layout = layoutDag(steps);
    const ys = steps.slice(1).map(s => layout.positions.get(s.step_id)?.[1] ?? 0);
    const src = layout.positions.get('src')?.[1] ?? 0;
    const mid = (Math.min(...ys) + Math.max(...ys)) / 2;
    assert.ok(Math.abs(src - mid) < 0.6, `source at ${src}, fan-out centred at ${mid}`);
  });

  it('orders layers so that edges do not cross when they need not', () => {
    // File order would cross: a1->b2, a2->b1.
    const layout = layoutDag([{ step_id: 'a1' }, { step_id: 'a2' }, { step_id: 'b1', needs: ['a2'] }, { step_id: 'b2', needs: ['a1'] }]);
    const y = (id: string): number => layout.positions.get(id)?.[1] ?? 0;
    assert.equal(y('a1') < y('a2'), y('b2') < y('b1'));
  });

  it('lays out 200 steps with many long edges, every step placed', () => {
    const steps = Array.from({ length: 200 }, (_, i) => ({
      step_id: `s${i}`,
      needs: i < 10 ? [] : [`s${i - 10}`, `s${(i * 7) % Math.max(1, i - 10)}`]
    }));
    const layout = layoutDag(steps);
    assert.equal(layout.positions.size, 200);
  });
});

describe('matrix groups', () => {
  it('folds legs under one node with their count and aggregated status', () => {
    const steps = forty();
    assert.equal(steps.length, 40);
    const nodes = graphNodes(steps, new Set(), new Set(), null);
    const group = nodes.find(n => n.kind === 'group');
    assert.ok(group && group.kind === 'group');
    assert.equal(group.group.legs.length, 8);
    assert.equal(group.group.status, 'failed');
    assert.match(group.group.summary, /^8 legs · 7 passed · 1 failed$/);
    assert.match(group.group.values, /python=3\.13 os=mac/);
    assert.equal(nodes.length, 40 - 8 + 1);
    // Edges of the legs now go to the group.
    const pkg = nodes.find(n => n.id === 'package-0');
    assert.deepEqual(pkg?.needs.sort(), [groupNodeId('tests'), 'lint-0'].sort());
  });

  it('expands to the legs, with their matrix values, under a header', () => {
    const svg = renderGraph(forty(), null, 0, new Set(['tests'])).svg;
    assert.match(svg, /data-group="tests"[^>]*aria-expanded="true"/);
    assert.match(svg, /data-step="tests\[python=3\.13,os=mac\]"/);
    assert.match(svg, />[^<]*\[3\.13, mac\]</, 'the leg shows its matrix values');
    const folded = renderGraph(forty(), null, 0).svg;
    assert.doesNotMatch(folded, /data-step="tests\[/);
    assert.match(folded, /×8/);
  });

  it('says a timed-out step allowed to fail timed out, not exit -15', () => {
    const slow: StepInfo = {
      step_id: 'slow',
      status: 'failed',
      reason: 'timeout',
      exit_code: -15,
      timeout: 1,
      continue_on_error: true,
      started_at: 0,
      finished_at: 2
    };
    const sub = (step: StepInfo): string => /class="af-sub"[^>]*>([^<]*)</.exec(renderGraph([step], null, 0).svg)?.[1] ?? '';
    assert.equal(sub(slow), '2.0s · timed out, allowed');
    assert.equal(sub({ ...slow, reason: 'exit', exit_code: 1 }), '2.0s · exit 1, allowed');
  });

  it('names a group by its step id when the legs are named by their matrix values', () => {
    const leg = (python: string): StepInfo => ({
      step_id: `test[python=${python}]`,
      name: `Tests on ${python}`,
      template_id: 'test',
      matrix: { python },
      status: 'success'
    });
    const group = graphNodes([leg('3.11'), leg('3.12')], new Set(), new Set(), null).find(n => n.kind === 'group');
    assert.equal(group?.kind === 'group' ? group.group.label : '', 'test', 'not "Tests on 3.11", the first leg');
    const same = graphNodes(forty(), new Set(), new Set(), null).find(n => n.kind === 'group');
    assert.equal(same?.kind === 'group' ? same.group.label : '', 'tests');
  });

  it('opens the group of the selected leg unless the user folded it', () => {
    const leg = 'tests[python=3.13,os=mac]';
    assert.ok(graphNodes(forty(), new Set(), new Set(), leg).some(n => n.id === leg));
    assert.ok(!graphNodes(forty(), new Set(), new Set(['tests']), leg).some(n => n.id === leg));
  });

  it('says running while some legs still wait, and allowed failure when that is all', () => {
    assert.equal(groupStatus([{ step_id: 'a', status: 'success' }, { step_id: 'b' }]).status, 'running');
    assert.equal(
      groupStatus([
        { step_id: 'a', status: 'success' },
        { step_id: 'b', status: 'failed', continue_on_error: true }
      ]).category,
      'allowed-failure'
    );
  });
});

describe('what a node carries besides its status', () => {
  const notes = (step_id: string, ...levels: string[]): Annotation[] =>
    levels.map((level, offset) => ({ step_id, offset, level, message: `${level} ${offset}` }));

  it("shows a running notebook step's cells and its error and warning counts", () => {
    const steps: StepInfo[] = [
      { step_id: 'train', status: 'running', started_at: 100, progress: { done: 1, total: 4, label: 'fit' } },
      { step_id: 'lint', status: 'failed', exit_code: 1 }
    ];
    const byStep = new Map([
      ['train', notes('train', 'warning')],
      ['lint', notes('lint', 'error', 'error', 'notice')]
    ]);
    const host = container();
    host.innerHTML = `<svg>${renderGraph(steps, null, 112, new Set(), new Set(), byStep).svg}</svg>`;
    const train = host.querySelector('[data-step="train"]');
    assert.equal(train?.getAttribute('aria-label'), 'train: running, cell 2/4 · fit, 1 warning');
    assert.equal(train?.querySelector('.af-gmark')?.textContent, '⚠ 1');
    assert.match(train?.querySelector('.af-sub')?.textContent ?? '', /^12s · cell 2\/4 · fit$/);
    const track = Number(train?.querySelector('.af-gptrack')?.getAttribute('width'));
    const bar = Number(train?.querySelector('.af-gpbar')?.getAttribute('width'));
    assert.ok(Math.abs(bar / track - 0.25) < 0.01, `one cell of four done: ${bar} of ${track}`);
    const lint = host.querySelector('[data-step="lint"]');
    assert.equal(lint?.querySelector('.af-gmark')?.textContent, '✕ 2', 'notices are no problem: not counted');
    assert.match(lint?.getAttribute('aria-label') ?? '', /2 errors, 1 notice$/);
    assert.equal(lint?.querySelector('.af-gptrack'), null, 'no bar without progress');
  });

  it("sums the legs' errors on a folded matrix group", () => {
    const leg = 'tests[python=3.13,os=mac]';
    const svg = renderGraph(forty(), null, 0, new Set(), new Set(), new Map([[leg, notes(leg, 'error')]])).svg;
    const host = container();
    host.innerHTML = `<svg>${svg}</svg>`;
    const group = host.querySelector('[data-group="tests"]');
    assert.equal(group?.querySelector('.af-gmark')?.textContent, '✕ 1');
    assert.match(group?.getAttribute('aria-label') ?? '', /failed, 1 error; collapsed/);
  });
});

const views: GraphView[] = [];
afterEach(() => {
  for (const v of views.splice(0)) v.dispose();
});

describe('graph view', () => {
  it('zooms with the buttons and keys, fits, and expands a group with Enter', async () => {
    const el = container();
    let toggles = 0;
    const view = new GraphView(() => toggles++);
    views.push(view);
    el.append(view.node);
    view.render(forty(), null, 0);
    const zoom = (): number => view.zoom.scale;
    const before = zoom();
    (view.tools.querySelector('button[aria-label^="Zoom in"]') as HTMLButtonElement).click();
    assert.ok(zoom() > before);
    view.zoom.node.dispatchEvent(new KeyboardEvent('keydown', { key: '-', bubbles: true }));
    assert.ok(Math.abs(zoom() - before) < 1e-9, 'minus undoes plus');
    const group = view.node.querySelector('[data-group="tests"]') as unknown as HTMLElement;
    assert.equal(group.getAttribute('aria-expanded'), 'false');
    assert.match(group.getAttribute('aria-label') ?? '', /8 legs/);
    group.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
    assert.equal(toggles, 1);
    view.render(forty(), null, 0);
    assert.equal(view.node.querySelector('[data-group="tests"]')?.getAttribute('aria-expanded'), 'true');
    assert.ok(view.node.querySelector('[data-step="tests[python=3.10,os=linux]"]'));
  });
});

describe('split between graph and log', () => {
  it('resizes with the keyboard and remembers the height per kind of view', () => {
    const top = container();
    const split = new Splitter(top, 'ansflow.split.test');
    top.after(split.node);
    assert.equal(split.node.getAttribute('role'), 'separator');
    split.set(200, true);
    split.node.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowDown', bubbles: true }));
    assert.equal(top.style.height, '216px');
    assert.equal(split.node.getAttribute('aria-valuenow'), '216');
    const again = new Splitter(container(), 'ansflow.split.test');
    assert.equal(again.value, 216);
    again.node.dispatchEvent(new MouseEvent('dblclick', { bubbles: true }));
    assert.equal(new Splitter(container(), 'ansflow.split.test').value, null);
  });
});

describe('matrix legs from a server without template_id', () => {
  it('groups legs by their expanded ids', () => {
    const steps: StepInfo[] = [
      { step_id: 'build' },
      { step_id: 'test[python=3.11,os=linux]', needs: ['build'] },
      { step_id: 'test[python=3.12,os=linux]', needs: ['build'] },
      { step_id: 'odd[name]' }
    ];
    const nodes = graphNodes(steps, new Set(), new Set(), null);
    assert.deepEqual(
      nodes.map(n => n.id),
      ['build', groupNodeId('test'), 'odd[name]']
    );
    const group = nodes[1];
    assert.ok(group.kind === 'group');
    assert.equal(group.group.values, 'python=3.11 os=linux, python=3.12 os=linux');
  });
});
