/** The DAG as inline SVG markup (rebuilt only when a step changes, never per log line). */
import { countMarks, countWords } from './annotations';
import { escapeHtml } from './ansi';
import { formatDuration, STATUS_ICONS } from './format';
import { type GraphNode, type GroupInfo, graphNodes } from './graphmodel';
import { layoutDag } from './layout';
import { categoryOf, exitWords, reasonWords, stepLabel } from './status';
import { stepDuration } from './timeline';
import { progressText } from './stepstrip';
import type { Annotation, StepInfo } from './types';

const W = 206;
const H = 40;
const GAP_X = 56;
const GAP_Y = 12;
const ROW = H + GAP_Y;
const PAD = 14;

/** Characters of a node's name line: 206 px at ~6.6 px per character. */
const NAME_CHARS = 26;
const SUB_CHARS = 29;

export interface GraphMarkup {
  svg: string;
  /** Natural size in CSS pixels (zoom 1). */
  width: number;
  height: number;
}

const cut = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

type Notes = ReadonlyMap<string, readonly Annotation[]>;

/**
 * A node's marks at its top right: error and warning counts (the timeline's badges).
 * Returns the markup and how many characters of the name line it takes.
 */
function marks(notes: readonly Annotation[], x: number, y: number): [string, number] {
  const text = countMarks(notes);
  if (!text) return ['', 0];
  const level = notes.some(n => n.level === 'error') ? 'error' : 'warning';
  return [`<text class="af-gmark af-a-${level}" x="${x + W - 8}" y="${y + 17}" text-anchor="end">${text}</text>`, text.length + 1];
}

/** A thin bar along the bottom of a running notebook step: cells done of all cells. */
function progressBar(step: StepInfo, x: number, y: number): string {
  const p = step.progress;
  if (step.status !== 'running' || !p || typeof p.total !== 'number' || p.total <= 0) return '';
  const track = W - 44;
  const done = (Math.min(Math.max(0, p.done ?? 0), p.total) / p.total) * track;
  return (
    `<rect class="af-gptrack" x="${x + 36}" y="${y + H - 6}" width="${track}" height="2.5" rx="1.25"/>` +
    `<rect class="af-gpbar" x="${x + 36}" y="${y + H - 6}" width="${done.toFixed(1)}" height="2.5" rx="1.25"/>`
  );
}

function stepNode(step: StepInfo, x: number, y: number, selected: string | null, now: number, notes: Notes): string {
  const status = step.status ?? 'pending';
  const category = categoryOf(step);
  const own = notes.get(step.step_id) ?? [];
  const [mark, markChars] = marks(own, x, y);
  const name = escapeHtml(stepLabel(step, NAME_CHARS - markChars));
  const progress = status === 'running' ? progressText(step.progress, status) : '';
  const parts = [formatDuration(stepDuration(step, now))];
  if (progress) parts.push(progress);
  if ((step.attempt ?? 1) > 1) {
    parts.push(`try ${step.attempt}`);
  }
  const why = reasonWords(step);
  if (category === 'allowed-failure') {
    // A timeout kills with a signal: its exit code (-15) would hide why it failed.
    const code = step.exit_code;
    const what =
      step.reason === 'timeout' ? 'timed out' : (step.reason ?? 'exit') === 'exit' && typeof code === 'number' ? exitWords(code) : 'failed';
    parts.push(`${what}, allowed`);
  } else if (why && category !== 'success') {
    parts.push(why);
  }
  const sub = escapeHtml(cut(parts.filter(Boolean).join(' · ') || status, SUB_CHARS));
  const counted = countWords(own);
  const extras = [why, progress, counted].filter(Boolean);
  const spoken = escapeHtml([`${stepLabel(step)}: ${status}`, ...extras].join(', '));
  const sel = step.step_id === selected ? ' af-sel' : '';
  return (
    `<g class="af-node af-s-${escapeHtml(status)} af-k-${category}${sel}" data-step="${escapeHtml(step.step_id)}" tabindex="0" role="button" aria-label="${spoken}">` +
    `<title>${escapeHtml([step.step_id, status, ...extras].join(' — '))}</title>` +
    box(x, y, status, STATUS_ICONS[status] ?? '?') +
    `<text x="${x + 36}" y="${y + 17}">${name}</text>${mark}` +
    `<text class="af-sub" x="${x + 36}" y="${y + 31}">${sub}</text>${progressBar(step, x, y)}</g>`
  );
}

function box(x: number, y: number, status: string, icon: string): string {
  const cy = y + H / 2;
  const spin =
    status === 'running'
      ? `<circle cx="${x + 19}" cy="${cy}" r="5.5" fill="none" stroke="#fff" stroke-width="2" stroke-linecap="round" stroke-dasharray="22 13"><animateTransform attributeName="transform" type="rotate" from="0 ${x + 19} ${cy}" to="360 ${x + 19} ${cy}" dur="1s" repeatCount="indefinite"/></circle>`
      : `<text class="af-icon" x="${x + 19}" y="${cy + 3.5}" text-anchor="middle">${icon}</text>`;
  return `<rect class="af-box" x="${x + 0.5}" y="${y + 0.5}" width="${W - 1}" height="${H - 1}" rx="6"/><circle cx="${x + 19}" cy="${cy}" r="10"/>${spin}`;
}

function groupNode(group: GroupInfo, expanded: boolean, x: number, y: number, notes: Notes): string {
  const n = group.legs.length;
  const count = ` ×${n}`;
  // The legs' errors and warnings, summed: a folded group must not hide them.
  const own = group.legs.flatMap(leg => notes.get(leg.step_id) ?? []);
  const [mark, markChars] = marks(own, x, y);
  const label = escapeHtml(`${expanded ? '▾' : '▸'} ${cut(group.label, NAME_CHARS - 2 - count.length - markChars)}${count}`);
  const counted = countWords(own);
  const sub = escapeHtml(cut(group.summary.replace(/^\d+ legs · /, ''), SUB_CHARS));
  const spoken = escapeHtml(
    `${group.label}: matrix of ${group.summary}, ${group.status}${counted ? `, ${counted}` : ''}; ${expanded ? 'expanded' : 'collapsed'}: ${group.values}`
  );
  // A folded group looks like a stack of cards: the legs are behind it.
  const stack = expanded
    ? ''
    : `<rect class="af-card" x="${x + 6.5}" y="${y - 5.5}" width="${W - 1}" height="${H - 1}" rx="6"/><rect class="af-card" x="${x + 3.5}" y="${y - 2.5}" width="${W - 1}" height="${H - 1}" rx="6"/>`;
  return (
    `<g class="af-node af-group af-s-${escapeHtml(group.status)} af-k-${group.category}" data-group="${escapeHtml(group.id)}" tabindex="0" role="button" aria-expanded="${expanded}" aria-label="${spoken}">` +
    `<title>${escapeHtml(group.label)} — ${escapeHtml(group.summary)}\n${escapeHtml(group.values)}</title>` +
    stack +
    box(x, y, group.status, STATUS_ICONS[group.status] ?? '?') +
    `<text x="${x + 36}" y="${y + 17}">${label}</text>${mark}` +
    `<text class="af-sub" x="${x + 36}" y="${y + 31}">${sub}</text></g>`
  );
}

/**
 * SVG markup of the DAG and its natural size. Step nodes carry data-step (click selects),
 * matrix groups data-group (click expands or folds them).
 */
export function renderGraph(
  steps: readonly StepInfo[],
  selected: string | null,
  now: number,
  expanded: ReadonlySet<string> = new Set(),
  folded: ReadonlySet<string> = new Set(),
  notes: Notes = new Map()
): GraphMarkup {
  const nodes = graphNodes(steps, expanded, folded, selected);
  const layout = layoutDag(
    nodes.map(n => ({
      step_id: n.id,
      needs: n.needs,
      group: n.kind === 'step' ? n.group : n.expanded ? n.group.id : undefined,
      sameLayerAs: n.kind === 'group' ? n.layerOf : undefined
    }))
  );
  const width = PAD * 2 + layout.layers * W + Math.max(0, layout.layers - 1) * GAP_X;
  const height = Math.ceil(PAD * 2 + Math.max(layout.rows * ROW - GAP_Y, H));
  const xOf = (layer: number): number => PAD + layer * (W + GAP_X);
  const pos = (id: string): [number, number] => {
    const [l, r] = layout.positions.get(id) ?? [0, 0];
    return [xOf(l), PAD + r * ROW];
  };
  const done = new Set(nodes.filter(n => (n.kind === 'step' ? n.step.status : n.group.status) === 'success').map(n => n.id));
  let edges = '';
  for (const route of layout.routes) {
    const [x1, y1] = pos(route.from);
    const [x2, y2] = pos(route.to);
    let d = `M${x1 + W},${y1 + H / 2}`;
    let px = x1 + W;
    let py = y1 + H / 2;
    const hops = route.points.slice(1);
    hops.forEach(([l, c], i) => {
      const last = i === hops.length - 1;
      const tx = last ? x2 - 4 : xOf(l);
      const ty = last ? y2 + H / 2 : PAD + c * ROW;
      const mid = (px + tx) / 2;
      d += ` C${mid},${py} ${mid},${ty} ${tx},${ty}`;
      if (!last) {
        // Through a layer, in the free slot the layout kept for this edge.
        d += ` L${tx + W},${ty}`;
        px = tx + W;
      }
      py = ty;
    });
    const cls = done.has(route.from) ? ' af-done' : '';
    edges += `<path class="af-edge${cls}" d="${d}" marker-end="url(#af-arrow)"/>`;
  }
  let frames = '';
  let body = '';
  for (const node of nodes) {
    const [x, y] = pos(node.id);
    if (node.kind === 'step') {
      body += stepNode(node.step, x, y, selected, now, notes);
    } else {
      body += groupNode(node.group, node.expanded, x, y, notes);
      if (node.expanded) frames += groupFrame(node, nodes, layout.positions, x, y);
    }
  }
  return {
    width,
    height,
    svg:
      `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">` +
      `<defs><marker id="af-arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" orient="auto">` +
      `<path d="M0,0 L8,4 L0,8 z" fill="var(--af-fg3)"/></marker></defs>${frames}${edges}${body}</svg>`
  };
}

/** A frame around an expanded group's header and legs, when they stand together. */
function groupFrame(
  header: Extract<GraphNode, { kind: 'group' }>,
  nodes: readonly GraphNode[],
  positions: Map<string, [number, number]>,
  x: number,
  y: number
): string {
  const layer = positions.get(header.id)?.[0];
  let bottom = y;
  for (const n of nodes) {
    if (n.kind !== 'step' || n.group !== header.group.id) continue;
    const [l, r] = positions.get(n.id) ?? [-1, 0];
    if (l !== layer) return '';
    bottom = Math.max(bottom, PAD + r * ROW);
  }
  return `<rect class="af-gframe" x="${x - 5}" y="${y - 5}" width="${W + 10}" height="${bottom - y + H + 10}" rx="9"/>`;
}
