/** The DAG as inline SVG markup (rebuilt only when a step changes, never per log line). */
import { escapeHtml } from './ansi';
import { formatDuration, STATUS_ICONS } from './format';
import { layoutDag } from './layout';
import { categoryOf, reasonWords, stepLabel } from './status';
import { stepDuration } from './timeline';
import type { StepInfo } from './types';

const W = 206;
const H = 40;
const GAP_X = 44;
const GAP_Y = 12;
const PAD = 14;

/** Characters of a node's name line: 206 px at ~6.6 px per character. */
const NAME_CHARS = 26;
const SUB_CHARS = 29;

/** SVG markup of the DAG; nodes carry data-step for click selection. */
export function renderGraph(steps: readonly StepInfo[], selected: string | null, now: number): string {
  const layout = layoutDag(steps);
  const width = PAD * 2 + layout.layers * W + Math.max(0, layout.layers - 1) * GAP_X;
  const height = PAD * 2 + layout.rows * H + Math.max(0, layout.rows - 1) * GAP_Y;
  const pos = (id: string): [number, number] => {
    const [l, r] = layout.positions.get(id) ?? [0, 0];
    return [PAD + l * (W + GAP_X), PAD + r * (H + GAP_Y)];
  };
  const statusOf = new Map(steps.map(s => [s.step_id, s.status ?? 'pending']));
  let edges = '';
  for (const [from, to] of layout.edges) {
    const [x1, y1] = pos(from);
    const [x2, y2] = pos(to);
    const sx = x1 + W;
    const sy = y1 + H / 2;
    const ty = y2 + H / 2;
    const mid = (sx + x2) / 2;
    const done = statusOf.get(from) === 'success' ? ' af-done' : '';
    edges += `<path class="af-edge${done}" d="M${sx},${sy} C${mid},${sy} ${mid},${ty} ${x2 - 4},${ty}" marker-end="url(#af-arrow)"/>`;
  }
  let nodes = '';
  for (const step of steps) {
    const [x, y] = pos(step.step_id);
    const status = step.status ?? 'pending';
    const icon = STATUS_ICONS[status] ?? '?';
    const category = categoryOf(step);
    const label = stepLabel(step, NAME_CHARS);
    const name = escapeHtml(label);
    const parts = [formatDuration(stepDuration(step, now))];
    if ((step.attempt ?? 1) > 1) {
      parts.push(`try ${step.attempt}`);
    }
    const why = reasonWords(step);
    if (category === 'allowed-failure') {
      parts.push(typeof step.exit_code === 'number' ? `exit ${step.exit_code}, allowed` : 'failed, allowed');
    } else if (why && category !== 'success') {
      parts.push(why);
    }
    let subText = parts.filter(Boolean).join(' · ') || status;
    if (subText.length > SUB_CHARS) subText = `${subText.slice(0, SUB_CHARS - 1)}…`;
    const sub = escapeHtml(subText);
    const spoken = escapeHtml(`${stepLabel(step)}: ${status}${why ? `, ${why}` : ''}`);
    const sel = step.step_id === selected ? ' af-sel' : '';
    const spin =
      status === 'running'
        ? `<circle cx="${x + 19}" cy="${y + H / 2}" r="5.5" fill="none" stroke="#fff" stroke-width="2" stroke-linecap="round" stroke-dasharray="22 13"><animateTransform attributeName="transform" type="rotate" from="0 ${x + 19} ${y + H / 2}" to="360 ${x + 19} ${y + H / 2}" dur="1s" repeatCount="indefinite"/></circle>`
        : `<text class="af-icon" x="${x + 19}" y="${y + H / 2 + 3.5}" text-anchor="middle">${icon}</text>`;
    nodes +=
      `<g class="af-node af-s-${escapeHtml(status)} af-k-${category}${sel}" data-step="${escapeHtml(step.step_id)}" tabindex="0" role="button" aria-label="${spoken}">` +
      `<title>${escapeHtml(step.step_id)} — ${escapeHtml(status)}${why ? ` — ${escapeHtml(why)}` : ''}</title>` +
      `<rect class="af-box" x="${x + 0.5}" y="${y + 0.5}" width="${W - 1}" height="${H - 1}" rx="6"/>` +
      `<circle cx="${x + 19}" cy="${y + H / 2}" r="10"/>${spin}` +
      `<text x="${x + 36}" y="${y + 17}">${name}</text>` +
      `<text class="af-sub" x="${x + 36}" y="${y + 31}">${sub}</text></g>`;
  }
  return (
    // Fits the pane's width down to 60 % of its natural size; wider graphs scroll.
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" style="max-width:100%;min-width:${Math.round(width * 0.6)}px;height:auto">` +
    `<defs><marker id="af-arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" orient="auto">` +
    `<path d="M0,0 L8,4 L0,8 z" fill="var(--af-fg3)"/></marker></defs>${edges}${nodes}</svg>`
  );
}
