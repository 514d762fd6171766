/** Step rows with a Gantt bar each (also the compact view for very large pipelines). */
import { escapeHtml } from './ansi';
import { formatDuration, STATUS_ICONS } from './format';
import { toSeconds, type ExecutionInfo, type StepInfo } from './types';

/** Duration so far: the server's value when finished, else now - started_at. */
export function stepDuration(step: StepInfo, now: number): number | null {
  if (typeof step.duration === 'number' && step.status !== 'running') {
    return step.duration;
  }
  const start = toSeconds(step.started_at);
  if (start === null) {
    return null;
  }
  const end = toSeconds(step.finished_at) ?? (step.status === 'running' ? now : null);
  return end === null ? null : Math.max(0, end - start);
}

function why(step: StepInfo): string {
  const bits: string[] = [];
  if (step.exit_code !== null && step.exit_code !== undefined && step.exit_code !== 0 && step.status !== 'running') {
    bits.push(`exit ${step.exit_code}`);
  }
  if (step.reason && step.reason !== 'exit') {
    bits.push(step.reason);
  }
  return bits.join(' · ');
}

/** HTML table of step rows, each with a Gantt bar on the execution's time axis. */
export function renderTimeline(execution: ExecutionInfo, steps: readonly StepInfo[], selected: string | null, now: number): string {
  let t0 = toSeconds(execution.started_at) ?? Infinity;
  let t1 = toSeconds(execution.finished_at) ?? -Infinity;
  for (const s of steps) {
    const a = toSeconds(s.started_at);
    if (a !== null) {
      t0 = Math.min(t0, a);
      t1 = Math.max(t1, toSeconds(s.finished_at) ?? (s.status === 'running' ? now : a));
    }
  }
  if (execution.status === 'running' || execution.status === 'pending') {
    t1 = Math.max(t1, now);
  }
  const span = Number.isFinite(t0) && t1 > t0 ? t1 - t0 : 0;
  let rows = '';
  for (const step of steps) {
    const status = step.status ?? 'pending';
    const a = toSeconds(step.started_at);
    let bar = '';
    if (a !== null && span > 0) {
      const b = toSeconds(step.finished_at) ?? (status === 'running' ? now : a);
      const left = ((a - t0) / span) * 100;
      const width = (Math.max(0, b - a) / span) * 100;
      bar = `<div class="af-gbar af-s-${escapeHtml(status)}" style="left:${left.toFixed(2)}%;width:${width.toFixed(2)}%"></div>`;
    }
    const icon = status === 'running' ? '<span class="af-spin">◐</span>' : STATUS_ICONS[status] ?? '?';
    const sel = step.step_id === selected ? ' class="af-sel"' : '';
    rows +=
      `<tr data-step="${escapeHtml(step.step_id)}"${sel} title="${escapeHtml(step.step_id)}">` +
      `<td class="af-icocell"><span class="af-ico af-s-${escapeHtml(status)}">${icon}</span></td>` +
      `<td class="af-sname">${escapeHtml(step.name || step.step_id)}</td>` +
      `<td class="af-num">${(step.attempt ?? 1) > 1 ? `#${step.attempt}` : ''}</td>` +
      `<td class="af-num">${formatDuration(stepDuration(step, now))}</td>` +
      `<td class="af-why">${escapeHtml(why(step))}</td>` +
      `<td class="af-gantt"><div class="af-gtrack">${bar}</div></td></tr>`;
  }
  const axis = span > 0 ? `<span>0s</span><span>${formatDuration(span)}</span>` : '';
  const head = `<thead><tr><th></th><th>Step</th><th></th><th class="af-num">Time</th><th></th><th class="af-axis">${axis}</th></tr></thead>`;
  return `<table class="af-steps">${head}<tbody>${rows}</tbody></table>`;
}
