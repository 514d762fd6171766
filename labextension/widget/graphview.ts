/**
 * The Graph tab: the DAG in a pan and zoom viewport with − / + / Fit buttons, matrix groups
 * that open and fold (click, Enter or Space), and arrow keys between the nodes.
 */
import { renderGraph } from './graph';
import type { Annotation, StepInfo } from './types';
import { ZoomView } from './zoom';

const NODES = '[data-step], [data-group]';

export class GraphView {
  readonly node = document.createElement('div');
  readonly zoom: ZoomView;
  /** The − / % / + / Fit / ↔ buttons: the steps pane puts them in its tab row. */
  readonly tools = document.createElement('div');
  private readonly level = document.createElement('span');
  /** Groups the user opened, and groups they folded while a leg of it was selected. */
  private readonly expanded = new Set<string>();
  private readonly folded = new Set<string>();

  constructor(private readonly onToggle: () => void) {
    this.node.className = 'af-gwrap';
    this.zoom = new ZoomView(
      () => this.room(),
      () => {
        this.level.textContent = `${Math.round(this.zoom.scale * 100)}%`;
      }
    );
    const tools = this.tools;
    tools.className = 'af-gtools';
    const button = (text: string, label: string, act: () => void): HTMLButtonElement => {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = text;
      b.title = label;
      b.setAttribute('aria-label', label);
      b.onclick = ev => {
        ev.stopPropagation();
        act();
      };
      return b;
    };
    this.level.className = 'af-gzoom';
    this.level.setAttribute('aria-live', 'polite');
    tools.append(
      button('−', 'Zoom out (-)', () => this.zoom.zoomBy(0.8)),
      this.level,
      button('+', 'Zoom in (+)', () => this.zoom.zoomBy(1.25)),
      button('Fit', 'Fit the whole graph (0)', () => this.zoom.fit()),
      button('↔', 'Automatic size: fit, never below 60 %', () => this.zoom.autoFit())
    );
    this.node.append(this.zoom.node);
    this.zoom.node.addEventListener('click', ev => {
      const group = (ev.target as Element).closest?.('[data-group]');
      if (group) {
        ev.stopPropagation();
        this.toggle(group.getAttribute('data-group') ?? '', group.getAttribute('aria-expanded') === 'true');
      }
    });
    this.zoom.node.addEventListener('keydown', ev => this.onKey(ev));
  }

  /** Draw the steps; keeps the zoom, the pan and the focused node. */
  render(
    steps: readonly StepInfo[],
    selected: string | null,
    now: number,
    notes: ReadonlyMap<string, readonly Annotation[]> = new Map()
  ): void {
    const doc = this.node.ownerDocument;
    const focused = (doc.activeElement as Element | null)?.closest?.(NODES);
    const focusKey = focused && this.node.contains(focused) ? attrKey(focused) : null;
    const graph = renderGraph(steps, selected, now, this.expanded, this.folded, notes);
    this.zoom.canvas.innerHTML = graph.svg;
    this.zoom.setSize(graph.width, graph.height);
    if (focusKey) {
      const again = Array.from(this.zoom.canvas.querySelectorAll<SVGElement>(NODES)).find(n => attrKey(n) === focusKey);
      again?.focus({ preventScroll: true });
    }
  }

  dispose(): void {
    this.zoom.dispose();
  }

  private toggle(id: string, open: boolean): void {
    if (open) {
      this.expanded.delete(id);
      this.folded.add(id);
    } else {
      this.expanded.add(id);
      this.folded.delete(id);
    }
    this.onToggle();
  }

  private onKey(ev: KeyboardEvent): void {
    const target = (ev.target as Element).closest?.(NODES);
    if (!target) return;
    if ((ev.key === 'Enter' || ev.key === ' ') && target.hasAttribute('data-group')) {
      ev.preventDefault();
      ev.stopPropagation();
      this.toggle(target.getAttribute('data-group') ?? '', target.getAttribute('aria-expanded') === 'true');
    } else if (['ArrowDown', 'ArrowUp', 'ArrowRight', 'ArrowLeft'].includes(ev.key)) {
      ev.preventDefault();
      ev.stopPropagation();
      const all = Array.from(this.zoom.canvas.querySelectorAll<SVGElement>(NODES));
      const i = all.indexOf(target as SVGElement);
      all[i + (ev.key === 'ArrowDown' || ev.key === 'ArrowRight' ? 1 : -1)]?.focus({ preventScroll: true });
    }
  }

  /** The height the viewport may take: the top pane's limit less the tabs above it. */
  private room(): number {
    const left = this.node.closest<HTMLElement>('.af-left');
    if (!left) return Number.POSITIVE_INFINITY;
    const max = getComputedStyle(left).maxHeight;
    let limit = Number.parseFloat(max);
    if (!Number.isFinite(limit)) return Number.POSITIVE_INFINITY;
    // A main-area tab gives the top pane a share (`40%`) of the view's body, which the
    // computed style keeps as a percentage: read as pixels it left the graph a 60 px strip.
    if (max.endsWith('%')) limit = (limit / 100) * (left.parentElement?.getBoundingClientRect().height ?? 0);
    const above = this.zoom.node.getBoundingClientRect().top - left.getBoundingClientRect().top;
    return Math.max(60, limit - above - 1);
  }
}

function attrKey(el: Element): string {
  return el.hasAttribute('data-group') ? `g:${el.getAttribute('data-group')}` : `s:${el.getAttribute('data-step')}`;
}
