/**
 * The plain-text and HTML summary of an execution, as the kernel writes it into a cell
 * output (kernel/widget.py): the lab renderer refreshes a saved output with it when the
 * run ends, so nbconvert, GitHub and front ends without the extension see the final state.
 */
import { escapeHtml } from './ansi';
import type { ViewState } from './reducer';
import type { StepInfo } from './types';

const COLORS: Record<string, string> = {
  success: '#2e7d32',
  failed: '#c62828',
  running: '#1565c0',
  cancelled: '#ef6c00',
  interrupted: '#ef6c00',
  skipped: '#757575'
};

function extra(step: StepInfo): string {
  const bits: string[] = [];
  if (typeof step.duration === 'number') bits.push(`${step.duration.toFixed(1)}s`);
  if (typeof step.exit_code === 'number' && step.exit_code !== 0) bits.push(`exit ${step.exit_code}`);
  if (step.reason && step.reason !== 'exit') bits.push(step.reason);
  return bits.length ? ` (${bits.join(', ')})` : '';
}

/** `text/plain` and `text/html` of the execution now. */
export function summaryBundle(state: ViewState): { 'text/plain': string; 'text/html': string } {
  const ex = state.execution;
  const status = ex.status ?? 'pending';
  const steps = state.order.map(id => state.steps.get(id)).filter((s): s is StepInfo => !!s);
  const text = [`AnsFlow · ${ex.pipeline_name || 'pipeline'} · ${status} · execution ${state.executionId || '?'}`]
    .concat(steps.map(s => `  ${(s.status ?? 'pending').padEnd(9)} ${s.name || s.step_id}${extra(s)}`))
    .join('\n');
  const cell = 'padding:2px 8px';
  const rows = steps
    .map(s => {
      const st = s.status ?? 'pending';
      return `<tr><td style='${cell}'>${escapeHtml(s.name || s.step_id)}</td><td style='${cell};color:${COLORS[st] ?? 'inherit'}'>${escapeHtml(st)}</td><td style='${cell};text-align:right'>${escapeHtml(extra(s).replace(/^ \(|\)$/g, ''))}</td></tr>`;
    })
    .join('');
  const html =
    `<div class='ansflow-summary' style='font-family:sans-serif;font-size:13px'><div><b>${escapeHtml(ex.pipeline_name || 'AnsFlow pipeline')}</b> ` +
    `<span style='color:${COLORS[status] ?? 'inherit'};font-weight:600'>${escapeHtml(status)}</span> <span style='opacity:.6'>${escapeHtml(state.executionId)}</span></div>` +
    `<table style='border-collapse:collapse;margin-top:4px'><tbody>${rows}</tbody></table></div>`;
  return { 'text/plain': text, 'text/html': html };
}
