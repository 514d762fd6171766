/**
 * Log groups in the log pane: `::group::` ranges, notebook cells and workflow job steps
 * become collapsible header rows over their lines. The layout maps display rows (headers
 * and the lines of open groups) onto a step's held lines with a few segments per group, so
 * a 200k-line log with a thousand groups costs a thousand segments, not 200k entries.
 */
import { escapeHtml } from './ansi';
import { formatDuration, STATUS_ICONS } from './format';
import type { StepLog } from './logs';
import { toSeconds, type LogGroup } from './types';

/** One display row: a group's header, or a held line (its row in the step's lines). */
export type LayoutItem =
  | { kind: 'header'; group: LogGroup; depth: number; open: boolean; lines: number }
  | { kind: 'line'; row: number; depth: number };

interface Node {
  group: LogGroup;
  from: number;
  to: number;
  children: Node[];
}

interface Segment {
  /** Display row of the segment's first row. */
  start: number;
  header?: { group: LogGroup; open: boolean; lines: number };
  /** Lines [from, to) of the step (when not a header). */
  from: number;
  to: number;
  depth: number;
}

/** The row of a step line number (offset) in the step's held lines, counting the view's own lines. */
export function rowOfOffset(log: StepLog, offset: number, extra: readonly number[] = sortedInfo(log)): number {
  let i = Math.max(0, offset - log.first);
  for (const r of extra) {
    if (r <= i) i++;
    else break;
  }
  return Math.min(i, log.lines.length);
}

/** The rows (not locals) of the lines the view added, in order. */
function sortedInfo(log: StepLog): number[] {
  return Array.from(log.info, local => local - log.base)
    .filter(r => r >= 0)
    .sort((a, b) => a - b);
}

/** Open by default: a running or failed group stays open; a finished good one collapses. */
export function openByDefault(group: LogGroup): boolean {
  return !['success', 'skipped'].includes(group.status);
}

/** The display rows of one step's log with its groups. */
let serials = 0;

export class GroupLayout {
  /** Distinct per layout built, so a renderer knows when to redraw. */
  readonly serial = ++serials;
  /** A group is still running: its header's duration ticks. */
  readonly running: boolean;
  private readonly segments: Segment[] = [];
  private readonly nodes: Node[] = [];
  readonly count: number;

  constructor(
    log: StepLog,
    groups: readonly LogGroup[],
    private readonly isOpen: (group: LogGroup) => boolean
  ) {
    const total = log.lines.length;
    const info = sortedInfo(log);
    // Groups that ended before the first line held (history not loaded, or dropped by the
    // memory cap) have nothing to show: no empty headers for them.
    const held = groups.filter(g => !(log.first > 0 && g.end_offset !== null && g.end_offset !== undefined && g.end_offset <= log.first));
    this.running = held.some(g => g.status === 'running');
    const all: Node[] = held.map(group => {
      const from = rowOfOffset(log, group.start_offset, info);
      const end = group.end_offset;
      // The row after the group's last line: a separator right after it stays outside.
      const to = end === null || end === undefined ? total : end > group.start_offset ? rowOfOffset(log, end - 1, info) + 1 : from;
      return { group, from, to: Math.max(from, Math.min(to, total)), children: [] };
    });
    // Job steps hold the groups and cells that open inside them; the rest sit at the top.
    let jobStep: Node | null = null;
    for (const node of all.sort((a, b) => a.from - b.from || a.group.index - b.group.index)) {
      if (node.group.kind === 'job-step') {
        jobStep = node;
        this.nodes.push(node);
      } else if (
        jobStep &&
        node.from >= jobStep.from &&
        node.from < Math.max(jobStep.to, jobStep.from + 1) &&
        node.group.index > jobStep.group.index
      ) {
        jobStep.children.push(node);
      } else {
        this.nodes.push(node);
      }
    }
    this.count = this.emit(0, total, this.nodes, 0, 0);
  }

  private emit(from: number, to: number, nodes: Node[], depth: number, start: number): number {
    let pos = from;
    let at = start;
    const lines = (a: number, b: number): void => {
      if (b > a) {
        this.segments.push({ start: at, from: a, to: b, depth });
        at += b - a;
      }
    };
    for (const node of nodes) {
      const s = Math.min(Math.max(node.from, pos), to);
      const e = Math.min(Math.max(node.to, s), to);
      lines(pos, s);
      const open = this.isOpen(node.group);
      this.segments.push({ start: at, header: { group: node.group, open, lines: e - s }, from: s, to: s, depth });
      at++;
      if (open) at = this.emit(s, e, node.children, depth + 1, at);
      pos = e;
    }
    lines(pos, to);
    return at;
  }

  /** The display row `d` (0 <= d < count). */
  at(d: number): LayoutItem | null {
    let lo = 0;
    let hi = this.segments.length - 1;
    if (hi < 0 || d < 0 || d >= this.count) return null;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.segments[mid].start <= d) lo = mid;
      else hi = mid - 1;
    }
    const seg = this.segments[lo];
    if (seg.header) {
      return { kind: 'header', group: seg.header.group, depth: seg.depth, open: seg.header.open, lines: seg.header.lines };
    }
    return { kind: 'line', row: seg.from + (d - seg.start), depth: seg.depth };
  }

  /** The display row of a held line, or -1 when a closed group hides it. */
  displayOf(row: number): number {
    for (const seg of this.segments) {
      if (!seg.header && row >= seg.from && row < seg.to) return seg.start + row - seg.from;
    }
    return -1;
  }

  /** The display row of a group's header, or -1. */
  headerOf(index: number): number {
    return this.segments.find(s => s.header?.group.index === index)?.start ?? -1;
  }

  /** The closed groups that hide a line (open them to show it). */
  hiding(row: number): LogGroup[] {
    const out: LogGroup[] = [];
    const walk = (nodes: Node[]): void => {
      for (const node of nodes) {
        if (row >= node.from && row < node.to) {
          if (!this.isOpen(node.group)) out.push(node.group);
          walk(node.children);
        }
      }
    };
    walk(this.nodes);
    return out;
  }
}

/** A group's duration so far (or in total once finished). */
export function groupDuration(group: LogGroup, now: number): number | null {
  const start = toSeconds(group.started_at);
  if (start === null) return null;
  const end = toSeconds(group.finished_at) ?? (group.status === 'running' ? now : null);
  return end === null ? null : Math.max(0, end - start);
}

/** A status icon in a span the stylesheet colours (a spinner while it runs). */
export function statusIcon(status: string): string {
  const icon = status === 'running' ? '<span class="af-spin">◐</span>' : escapeHtml(STATUS_ICONS[status] ?? '•');
  return `<span class="af-ico af-s-${escapeHtml(status)}">${icon}</span>`;
}

/** The HTML of a header row: chevron, status icon, title, duration, line count. */
export function headerHtml(item: Extract<LayoutItem, { kind: 'header' }>, now: number): string {
  const { group, open, depth, lines } = item;
  const duration = formatDuration(groupDuration(group, now));
  const reason = group.reason && group.status !== 'success' && group.reason !== 'exit' ? ` · ${group.reason}` : '';
  const count = `${lines.toLocaleString()} line${lines === 1 ? '' : 's'}`;
  const spoken = `${group.title}: ${group.status}${duration ? `, ${duration}` : ''}, ${count}`;
  return (
    `<div class="af-row af-ghead af-d${Math.min(depth, 3)} af-g-${escapeHtml(group.status)}" data-group="${group.index}" role="button" tabindex="0" aria-expanded="${open}" aria-label="${escapeHtml(spoken)}" title="${escapeHtml(group.title)}">` +
    `<span class="af-chev">${open ? '▾' : '▸'}</span>${statusIcon(group.status)}` +
    `<span class="af-gtitle">${escapeHtml(group.title)}</span>` +
    `<span class="af-gmeta">${escapeHtml(`${duration}${reason}`)}${duration || reason ? ' · ' : ''}${count}</span></div>`
  );
}

/** Collapse state of every group of a view: the defaults plus what the user toggled. */
export class GroupState {
  private readonly toggled = new Map<string, boolean>();
  private cache: { key: string; layout: GroupLayout } | null = null;
  version = 0;

  constructor(
    private readonly groups: () => Map<string, LogGroup[]>,
    private readonly groupsVersion: () => number
  ) {}

  isOpen(group: LogGroup): boolean {
    return this.toggled.get(`${group.step_id}\u0000${group.index}`) ?? openByDefault(group);
  }

  /** Open or close one group. */
  toggle(stepId: string, index: number): void {
    const group = this.groups()
      .get(stepId)
      ?.find(g => g.index === index);
    if (!group) return;
    this.toggled.set(`${stepId}\u0000${index}`, !this.isOpen(group));
    this.version++;
  }

  /** Open every group hiding a line of a step. */
  expandTo(log: StepLog, row: number): void {
    const layout = this.layout(log, Infinity);
    for (const group of layout?.hiding(row) ?? []) {
      this.toggled.set(`${log.id}\u0000${group.index}`, true);
      this.version++;
    }
  }

  /** The layout of a step's log, or null when it has no groups (rows are lines then). */
  layout(log: StepLog, logsVersion: number): GroupLayout | null {
    const groups = this.groups().get(log.id);
    if (!groups || groups.length === 0) return null;
    const key = `${log.id}|${logsVersion}|${this.groupsVersion()}|${this.version}|${log.lines.length}|${log.base}`;
    if (this.cache?.key !== key || logsVersion === Infinity) {
      this.cache = { key, layout: new GroupLayout(log, groups, g => this.isOpen(g)) };
    }
    return this.cache.layout;
  }

  /** Forget the user's choices (the view switched to another execution). */
  clear(): void {
    this.toggled.clear();
    this.cache = null;
    this.version++;
  }
}
