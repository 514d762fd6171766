/**
 * The left pane: Graph / Timeline tabs over the DAG or the step rows. Nodes and rows are
 * focusable, have accessible names, and open their step with a click, Enter or Space;
 * the arrow keys move between them.
 */
import { badgesHtml, notesByStep } from './annotations';
import { GraphView } from './graphview';
import type { ViewState } from './reducer';
import { renderTimeline } from './timeline';
import { jobStepsHtml, progressHtml } from './stepstrip';
import type { StepInfo } from './types';
import type { UiState } from './ui';

/** Above this many steps even a zoomable graph is no help: the step list is shown instead. */
export const GRAPH_MAX_STEPS = 400;

export class StepsPane {
  readonly node = document.createElement('div');
  private readonly graphTab = document.createElement('button');
  private readonly stepsTab = document.createElement('button');
  private readonly pane = document.createElement('div');
  private readonly graph: GraphView;

  constructor(
    private readonly ui: UiState,
    onSelect: (stepId: string) => void,
    onTab: () => void,
    /** Open a step's log at a line (a job step of a workflow job). */
    onGo: (stepId: string, offset: number) => void = id => onSelect(id)
  ) {
    this.node.className = 'af-left';
    const tabs = document.createElement('div');
    tabs.className = 'af-tabs';
    tabs.setAttribute('role', 'tablist');
    this.graphTab.textContent = 'Graph';
    this.stepsTab.textContent = 'Timeline';
    for (const [button, tab] of [
      [this.graphTab, 'graph'],
      [this.stepsTab, 'steps']
    ] as const) {
      button.setAttribute('role', 'tab');
      button.onclick = () => {
        ui.tab = tab;
        onTab();
      };
    }
    this.pane.className = 'af-pane';
    this.graph = new GraphView(onTab);
    tabs.append(this.graphTab, this.stepsTab, this.graph.tools);
    this.node.append(tabs, this.pane);
    this.pane.onclick = ev => {
      const jobStep = (ev.target as Element).closest('[data-jstep]');
      if (jobStep) {
        onGo(jobStep.getAttribute('data-jstep') ?? '', Number(jobStep.getAttribute('data-offset')));
        return;
      }
      const id = (ev.target as Element).closest('[data-step]')?.getAttribute('data-step');
      if (id) onSelect(id);
    };
    this.pane.onkeydown = ev => {
      const target = (ev.target as Element).closest('[data-step]');
      if (!target) return;
      if (ev.key === 'Enter' || ev.key === ' ') {
        ev.preventDefault();
        onSelect(target.getAttribute('data-step') ?? '');
      } else if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp' || ev.key === 'ArrowRight' || ev.key === 'ArrowLeft') {
        ev.preventDefault();
        const all = Array.from(this.pane.querySelectorAll<HTMLElement | SVGElement>('[data-step]'));
        const i = all.indexOf(target as HTMLElement);
        const next = all[i + (ev.key === 'ArrowDown' || ev.key === 'ArrowRight' ? 1 : -1)];
        next?.focus();
      }
    };
  }

  render(state: ViewState, selected: string | null, now: number): void {
    const steps = state.order.map(id => state.steps.get(id)).filter((s): s is StepInfo => !!s);
    const graphable = steps.length <= GRAPH_MAX_STEPS;
    this.graphTab.style.display = graphable ? '' : 'none';
    const showGraph = graphable && this.ui.tab === 'graph';
    this.graph.tools.hidden = !showGraph || steps.length === 0;
    this.graphTab.className = showGraph ? 'af-on' : '';
    this.stepsTab.className = showGraph ? '' : 'af-on';
    this.graphTab.setAttribute('aria-selected', String(showGraph));
    this.stepsTab.setAttribute('aria-selected', String(!showGraph));
    this.pane.className = `af-pane ${showGraph ? 'af-graph' : 'af-timeline'}`;
    // Keep keyboard focus on the same step across a redraw.
    const focused = (this.pane.ownerDocument.activeElement as Element | null)?.closest?.('[data-step]');
    const focusedId = focused && this.pane.contains(focused) ? focused.getAttribute('data-step') : null;
    if (steps.length > 0 && showGraph) {
      // The graph view stays mounted: its zoom, pan and open groups survive redraws.
      if (this.graph.node.parentNode !== this.pane) this.pane.replaceChildren(this.graph.node);
      this.graph.render(steps, selected, now, notesByStep(state.annotations));
      return;
    }
    this.pane.innerHTML =
      steps.length === 0
        ? '<div class="af-empty">Waiting for the pipeline…</div>'
        : renderTimeline(state.execution, steps, selected, now, state.attempts);
    decorateRows(this.pane, state, selected, now);
    if (focusedId) {
      const again = Array.from(this.pane.querySelectorAll<HTMLElement>('[data-step]')).find(n => n.getAttribute('data-step') === focusedId);
      again?.focus();
    }
  }
}

/**
 * What the step rows add to the timeline: annotation count badges by the name, a notebook
 * step's cell progress while it runs, and a workflow job's steps under the selected or a
 * failed job (so one sees which job step failed).
 */
function decorateRows(pane: HTMLElement, state: ViewState, selected: string | null, now: number): void {
  const notes = notesByStep(state.annotations);
  for (const row of Array.from(pane.querySelectorAll<HTMLTableRowElement>('tr[data-step]'))) {
    const id = row.getAttribute('data-step') ?? '';
    const step = state.steps.get(id);
    const badges = badgesHtml(notes.get(id) ?? []);
    if (badges) row.querySelector('.af-sname')?.insertAdjacentHTML('beforeend', badges);
    const progress = step?.status === 'running' ? progressHtml(step, true) : '';
    const why = row.querySelector('.af-why');
    if (progress && why) {
      why.innerHTML = progress;
      why.classList.add('af-whyprog');
    }
    const groups = state.groups.get(id);
    if (groups && (id === selected || step?.status === 'failed')) {
      const list = jobStepsHtml(id, groups, Math.floor(now));
      if (list) {
        const sub = document.createElement('tr');
        sub.className = 'af-subrow';
        const cell = document.createElement('td');
        cell.colSpan = 5;
        cell.innerHTML = list;
        sub.append(document.createElement('td'), cell);
        row.after(sub);
      }
    }
  }
}
