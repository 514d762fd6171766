/** Step rows with a Gantt bar each (also the compact view for very large pipelines). */
import { escapeHtml } from './ansi';
import { formatDuration, STATUS_ICONS } from './format';
import { categoryOf, reasonWords, stepLabel } from './status';
import { toSeconds, type Attempt, type ExecutionInfo, type StepInfo } from './types';

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

/** HTML table of step rows, each with a Gantt bar on the execution's time axis. */
export function renderTimeline(
  execution: ExecutionInfo,
  steps: readonly StepInfo[],
  selected: string | null,
  now: number,
  attempts: ReadonlyMap<string, readonly Attempt[]> = new Map()
): string {
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
    const category = categoryOf(step);
    let bar = '';
    if (a !== null && span > 0) {
      const b = toSeconds(step.finished_at) ?? (status === 'running' ? now : a);
      const segment = (from: number, to: number, cls: string, title: string): string => {
        const left = ((from - t0) / span) * 100;
        const width = (Math.max(0, to - from) / span) * 100;
        return `<div class="af-gbar ${cls}" style="left:${left.toFixed(2)}%;width:${width.toFixed(2)}%" title="${escapeHtml(title)}"></div>`;
      };
      // One bar per attempt of a retried step: the failed ones red, the last in its status.
      const tries = attempts.get(step.step_id) ?? [];
      for (const t of tries.slice(0, -1)) {
        bar += segment(t.start ?? a, t.end ?? b, 'af-s-failed af-try', `attempt ${t.attempt} failed`);
      }
      const lastStart = tries.length > 1 ? (tries[tries.length - 1].start ?? a) : a;
      bar += segment(
        lastStart,
        b,
        `af-s-${escapeHtml(status)} af-k-${category}`,
        tries.length > 1 ? `attempt ${tries[tries.length - 1].attempt}` : status
      );
    }
    const icon = status === 'running' ? '<span class="af-spin">◐</span>' : (STATUS_ICONS[status] ?? '?');
    const sel = step.step_id === selected ? ' class="af-sel"' : '';
    const why = reasonWords(step);
    const label = stepLabel(step);
    const spoken = `${label}: ${status}${why ? `, ${why}` : ''}`;
    rows +=
      `<tr data-step="${escapeHtml(step.step_id)}"${sel} title="${escapeHtml(step.step_id)}" tabindex="0" aria-label="${escapeHtml(spoken)}">` +
      `<td class="af-icocell"><span class="af-ico af-s-${escapeHtml(status)} af-k-${category}">${icon}</span></td>` +
      `<td class="af-sname">${escapeHtml(label)}</td>` +
      `<td class="af-num">${(step.attempt ?? 1) > 1 ? `#${step.attempt}` : ''}</td>` +
      `<td class="af-num">${formatDuration(stepDuration(step, now))}</td>` +
      `<td class="af-why" title="${escapeHtml(why)}">${escapeHtml(why)}</td>` +
      `<td class="af-gantt"><div class="af-gtrack">${bar}</div></td></tr>`;
  }
  const axis = span > 0 ? `<span>0s</span><span>${formatDuration(span)}</span>` : '';
  const head = `<thead><tr><th></th><th>Step</th><th></th><th class="af-num">Time</th><th></th><th class="af-axis">${axis}</th></tr></thead>`;
  return `<table class="af-steps">${head}<tbody>${rows}</tbody></table>`;
}
