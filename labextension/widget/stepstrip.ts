/**
 * The selected step's strip above its log: a notebook step's cell progress (a small bar and
 * "cell 4/50 · df = load(...)") and a workflow job's steps, each with its status icon and
 * duration, a click opening that job step in the log.
 */
import { escapeHtml } from './ansi';
import { formatDuration } from './format';
import { groupDuration, statusIcon } from './groups';
import type { LogGroup, Progress, StepInfo } from './types';

/** "cell 4/50 · label" while a cell runs, "12/50 cells" otherwise; '' without progress. */
export function progressText(progress: Progress | null | undefined, status = 'running'): string {
  if (!progress || typeof progress.total !== 'number' || progress.total <= 0) return '';
  const done = Math.max(0, Math.min(progress.done ?? 0, progress.total));
  if (status === 'running' && progress.label && done < progress.total) {
    return `cell ${done + 1}/${progress.total} · ${progress.label}`;
  }
  return `${done}/${progress.total} cells`;
}

/**
 * A small bar and the progress text (HTML), or '' when the step reports no progress.
 * `compact` (a timeline row) leaves the cell's first line to the tooltip.
 */
export function progressHtml(step: StepInfo, compact = false): string {
  const full = progressText(step.progress, step.status);
  if (!full || !step.progress) return '';
  const text = compact ? full.split(' · ')[0] : full;
  const pct = Math.min(100, (Math.max(0, step.progress.done) / step.progress.total) * 100);
  return (
    `<span class="af-cellprog" role="progressbar" aria-valuemin="0" aria-valuemax="${step.progress.total}" aria-valuenow="${step.progress.done}" aria-valuetext="${escapeHtml(full)}">` +
    `<span class="af-ptrack"><span class="af-pfill af-s-${escapeHtml(step.status ?? 'running')}" style="width:${pct.toFixed(1)}%"></span></span>` +
    `<span class="af-ptext" title="${escapeHtml(full)}">${escapeHtml(text)}</span></span>`
  );
}

/** The job steps of a workflow job, as a list of status chips (HTML). */
export function jobStepsHtml(stepId: string, groups: readonly LogGroup[], now: number, cls = 'af-jobsteps'): string {
  const jobSteps = groups.filter(g => g.kind === 'job-step');
  if (jobSteps.length === 0) return '';
  let html = `<ol class="${cls}" aria-label="Job steps">`;
  for (const g of jobSteps) {
    const duration = formatDuration(groupDuration(g, now));
    const why = g.reason && g.status !== 'success' && g.reason !== 'exit' ? g.reason : '';
    html +=
      `<li><button class="af-jstep af-g-${escapeHtml(g.status)}" data-jstep="${escapeHtml(stepId)}" data-offset="${g.start_offset}" title="${escapeHtml(`${g.title}: ${g.status}${why ? ` (${why})` : ''}`)}">` +
      `${statusIcon(g.status)}<span class="af-jname">${escapeHtml(g.title)}</span>` +
      `<span class="af-jtime">${escapeHtml(why || duration)}</span></button></li>`;
  }
  return `${html}</ol>`;
}

export class StepStrip {
  readonly node = document.createElement('div');
  private key = '';

  constructor(onGo: (stepId: string, offset: number) => void) {
    this.node.className = 'af-stepstrip af-hidden';
    this.node.onclick = ev => {
      const item = (ev.target as Element).closest('[data-jstep]');
      if (item) onGo(item.getAttribute('data-jstep') ?? '', Number(item.getAttribute('data-offset')));
    };
  }

  /**
   * The selected step's progress and job steps; with no step selected, the progress of
   * every running notebook step (named), so a one-notebook run shows it without a click.
   */
  render(step: StepInfo | undefined, groups: readonly LogGroup[], now: number, running: readonly StepInfo[] = []): void {
    let html = '';
    if (step) {
      html = progressHtml(step) + jobStepsHtml(step.step_id, groups, Math.floor(now));
    } else {
      for (const s of running) {
        const bar = progressHtml(s);
        if (bar) html += `<span class="af-pstep">${escapeHtml(s.name || s.step_id)}</span>${bar}`;
      }
    }
    if (html === this.key) return;
    this.key = html;
    this.node.classList.toggle('af-hidden', html === '');
    this.node.innerHTML = html;
  }
}
