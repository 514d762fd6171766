/**
 * The log panel's rows read out: the HTML of the visible ones (the earlier-lines row,
 * group headers, lines with number or step tag, permalink icon, timestamp, highlight,
 * annotation tint), the first error line, and the held lines as text for a download.
 */
import { ansiToHtml, escapeHtml, stripAnsi } from './ansi';
import { formatClock } from './format';
import { type GroupLayout, headerHtml } from './groups';
import type { LogRow, LogStore } from './logs';

/** Lines that look like the cause of a failure. */
export const ERROR_LINE = /Traceback \(most recent call last\)|[A-Za-z]*(?:Error|Exception)\b|\bFAILED\b|\bFATAL\b|\berror:|\bERROR\b/;

/** A line's 0-based number in its step (lines the view added do not count). */
export function lineOffset(row: LogRow): number {
  let added = 0;
  for (const local of row.step.info) if (local < row.local) added++;
  return row.step.first + (row.local - row.step.base) - added;
}

/** What a window of rows is drawn from. Display rows: `marker` rows, then the layout's. */
export interface RowsInput {
  logs: LogStore;
  selected: string | null;
  /** The selected step's groups, or null (display rows are held rows then). */
  layout: GroupLayout | null;
  /** Rows above the lines: the earlier-lines / beginning-of-log row (0 or 1). */
  marker: number;
  earlier(): string;
  /** Held rows (not display rows) of the current search hit and the focused line. */
  currentRow: number;
  focusRow: number;
  query: string;
  showTs: boolean;
  label(stepId: string): string;
  permalink?(stepId: string, offset: number): string | null;
  annotationAt?(stepId: string, offset: number): string | undefined;
}

/** The HTML of display rows [start, end). */
export function rowsHtml(input: RowsInput, start: number, end: number): string {
  const { logs, selected, layout, marker, currentRow } = input;
  const all = selected === null;
  const now = Date.now() / 1000;
  let html = '';
  for (let r = start; r < end; r++) {
    if (r < marker) {
      html += `<div class="af-row af-info af-earlier">${escapeHtml(input.earlier())}</div>`;
      continue;
    }
    let i = r - marker;
    let cls = 'af-row';
    if (layout) {
      const item = layout.at(i);
      if (item?.kind !== 'line') {
        html += item ? headerHtml(item, now) : '';
        continue;
      }
      i = item.row;
      if (item.depth) cls += ` af-d${Math.min(item.depth, 3)}`;
    }
    const row = logs.row(selected, i);
    if (!row) {
      continue;
    }
    if (i === currentRow) cls += ' af-cur';
    if (i === input.focusRow) cls += ' af-focus';
    const info = row.step.info.has(row.local);
    if (info) cls += ' af-info';
    else if (row.step.stderr.has(row.local)) cls += ' af-stderr';
    if (!info && ERROR_LINE.test(stripAnsi(row.line))) cls += ' af-errline';
    // Lines the view added (attempt separators, gaps) have no number and shift none.
    const offset = info ? -1 : lineOffset(row);
    let prefix = '';
    const link = info ? null : (input.permalink?.(row.step.id, offset) ?? null);
    if (link) {
      const n = offset + 1;
      prefix += `<a class="af-plink" href="${escapeHtml(link)}" title="Link to line ${n} (click to copy)" aria-label="Link to line ${n} of ${escapeHtml(row.step.id)}"></a>`;
    }
    if (all) {
      const label = input.label(row.step.id);
      prefix += `<span class="af-tag" title="${escapeHtml(label)}">${escapeHtml(label)}</span>`;
    } else {
      prefix += `<span class="af-ln">${info ? '' : offset + 1}</span>`;
      const level = info ? undefined : input.annotationAt?.(row.step.id, offset);
      if (level) cls += ` af-ann af-a-${level}`;
    }
    if (input.showTs) {
      prefix += `<span class="af-ts">${formatClock(row.ts)}</span>`;
    }
    const text = info ? escapeHtml(row.line) : ansiToHtml(row.line, input.query, i === currentRow);
    html += `<div class="${cls}">${prefix}${text}</div>`;
  }
  return html;
}

/** The first line that looks like an error, else the first stderr line, else -1. */
export function firstErrorRow(logs: LogStore, stepId: string): number {
  const n = logs.count(stepId);
  let firstStderr = -1;
  for (let i = 0; i < n; i++) {
    const row = logs.row(stepId, i);
    if (!row || row.step.info.has(row.local)) continue;
    if (ERROR_LINE.test(stripAnsi(row.line))) return i;
    if (firstStderr < 0 && row.step.stderr.has(row.local)) firstStderr = i;
  }
  return firstStderr;
}

/** The held lines as text: ANSI stripped, prefixed by step in the all-steps view. */
export function linesAsText(logs: LogStore, stepId: string | null): string[] {
  const n = logs.count(stepId);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    const row = logs.row(stepId, i);
    if (row) {
      parts.push(`${stepId === null ? `[${row.step.id}] ` : ''}${stripAnsi(row.line)}\n`);
    }
  }
  return parts;
}

/** Save text as a file through a Blob link. */
export function saveText(name: string, text: string | string[]): void {
  const url = URL.createObjectURL(new Blob(Array.isArray(text) ? text : [text], { type: 'text/plain' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
