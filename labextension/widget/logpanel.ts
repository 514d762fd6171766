/**
 * The log panel: step selector, search, timestamps, follow-tail and a virtualised list
 * (fixed row height, only the visible rows in the DOM) so a million lines scroll smoothly.
 */
import { ansiToHtml, escapeHtml, stripAnsi } from './ansi';
import { formatClock } from './format';
import type { LogStore } from './logs';
import { findMatches, stepMatch } from './search';
import { computeWindow, scrollTopForRow } from './virtual';

const ROW_H = 18;
/** Re-running a search over a growing log at most this often (ms). */
const SEARCH_THROTTLE = 400;

export interface LogPanelHost {
  logs: LogStore;
  /** [step id, label] pairs for the selector, in display order. */
  steps(): Array<[string, string]>;
  /** A server URL for the download link, or null to build a Blob from memory. */
  downloadUrl(stepId: string | null): string | null;
  requestRender(): void;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls = '', text = ''): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text) node.textContent = text;
  return node;
}

export class LogPanel {
  readonly node = el('div', 'af-right');
  selected: string | null = null;
  private follow = true;
  private showTs = false;
  private query = '';
  private matches: number[] = [];
  private current = -1;
  private searchedAt = 0;
  private searchedVersion = -1;
  private renderedKey = '';
  private programmaticTop = -1;
  private stepsKey = '';
  private readonly select = el('select');
  private readonly search = el('input');
  private readonly count = el('span', 'af-mcount');
  private readonly tsBox = el('input');
  private readonly download = el('a', '', 'Download');
  private readonly view = el('div', 'af-logview');
  private readonly spacer = el('div', 'af-scroll-spacer');
  private readonly rows = el('div', 'af-rows');
  private readonly followBtn = el('button', 'af-follow', '↓ follow');

  constructor(private readonly host: LogPanelHost) {
    const bar = el('div', 'af-logbar');
    this.select.title = 'Show the log of one step';
    this.select.onchange = () => this.show(this.select.value || null);
    this.search.type = 'search';
    this.search.placeholder = 'Search logs';
    let debounce: ReturnType<typeof setTimeout> | undefined;
    this.search.oninput = () => {
      clearTimeout(debounce);
      debounce = setTimeout(() => this.setQuery(this.search.value), 150);
    };
    this.search.onkeydown = ev => {
      if (ev.key === 'Enter') {
        ev.preventDefault();
        this.setQuery(this.search.value);
        this.jump(ev.shiftKey ? -1 : 1);
      }
    };
    const prev = el('button', 'af-nav', '↑');
    prev.title = 'Previous match (Shift+Enter)';
    prev.onclick = () => this.jump(-1);
    const next = el('button', 'af-nav', '↓');
    next.title = 'Next match (Enter)';
    next.onclick = () => this.jump(1);
    this.tsBox.type = 'checkbox';
    this.tsBox.onchange = () => {
      this.showTs = this.tsBox.checked;
      this.invalidate();
    };
    const tsLabel = el('label');
    tsLabel.append(this.tsBox, "timestamps");
    this.download.onclick = ev => this.onDownload(ev);
    bar.append(this.select, this.search, this.count, prev, next, tsLabel, el('span', 'af-spacer-flex'), this.download);
    this.followBtn.title = 'Scroll to the newest line and keep following';
    this.followBtn.onclick = () => {
      this.follow = true;
      this.invalidate();
    };
    this.spacer.append(this.rows);
    this.view.append(this.spacer);
    this.view.onscroll = () => this.onScroll();
    const wrap = el('div', 'af-logwrap');
    wrap.append(this.view, this.followBtn);
    this.node.append(bar, wrap);
  }

  /** Select a step (null = all steps). */
  show(stepId: string | null): void {
    this.selected = stepId;
    this.select.value = stepId ?? '';
    this.follow = true;
    this.searchedVersion = -1;
    this.current = -1;
    this.invalidate();
  }

  private invalidate(): void {
    this.renderedKey = '';
    this.host.requestRender();
  }

  private setQuery(query: string): void {
    if (query !== this.query) {
      this.query = query;
      this.current = -1;
      this.searchedVersion = -1;
      this.invalidate();
    }
  }

  private onScroll(): void {
    const v = this.view;
    const atBottom = v.scrollTop + v.clientHeight >= v.scrollHeight - 4;
    if (atBottom) {
      this.follow = true;
    } else if (Math.abs(v.scrollTop - this.programmaticTop) > 2) {
      this.follow = false; // the user scrolled up: stop following until asked again
    }
    this.host.requestRender();
  }

  private jump(dir: 1 | -1): void {
    this.refreshSearch(true);
    this.current = stepMatch(this.matches, this.current, dir);
    if (this.current >= 0) {
      this.follow = false;
      const row = this.matches[this.current] + this.markerRows();
      const top = scrollTopForRow(row, this.view.clientHeight || 300, ROW_H, this.rowCount());
      this.programmaticTop = top;
      this.view.scrollTop = top;
    }
    this.invalidate();
  }

  private markerRows(): number {
    return this.host.logs.hiddenBefore(this.selected) > 0 ? 1 : 0;
  }

  private rowCount(): number {
    return this.host.logs.count(this.selected) + this.markerRows();
  }

  private refreshSearch(force = false): void {
    const logs = this.host.logs;
    if (!this.query) {
      this.matches = [];
      return;
    }
    const stale = this.searchedVersion !== logs.version;
    if (stale && (force || this.searchedVersion < 0 || performance.now() - this.searchedAt > SEARCH_THROTTLE)) {
      this.matches = findMatches(logs.count(this.selected), i => logs.row(this.selected, i)?.line ?? '', this.query);
      this.searchedVersion = logs.version;
      this.searchedAt = performance.now();
      if (this.current >= this.matches.length) {
        this.current = this.matches.length - 1;
      }
    } else if (stale) {
      this.host.requestRender(); // try again on a later frame
    }
  }

  private syncSelector(): void {
    const steps = this.host.steps();
    const key = steps.map(([id, label]) => `${id}\u0000${label}`).join('\u0001');
    if (key === this.stepsKey) {
      return;
    }
    this.stepsKey = key;
    this.select.replaceChildren(new Option('All steps', ''), ...steps.map(([id, label]) => new Option(label, id)));
    this.select.value = this.selected ?? '';
  }

  render(): void {
    this.syncSelector();
    this.refreshSearch();
    const logs = this.host.logs;
    const total = this.rowCount();
    const viewport = this.view.clientHeight || 300;
    const download = this.host.downloadUrl(this.selected);
    this.download.href = download ?? '#';
    this.count.textContent = this.query ? `${this.current >= 0 ? this.current + 1 : 0}/${this.matches.length}` : '';
    const first = computeWindow(0, viewport, ROW_H, total);
    this.spacer.style.height = `${first.scrollHeight}px`;
    if (this.follow) {
      const bottom = Math.max(0, first.scrollHeight - viewport);
      if (Math.abs(this.view.scrollTop - bottom) > 1) {
        this.programmaticTop = bottom;
        this.view.scrollTop = bottom;
      }
    }
    this.followBtn.classList.toggle('af-show', !this.follow && total > 0);
    const win = computeWindow(this.view.scrollTop, viewport, ROW_H, total);
    const key = `${logs.version}|${win.start}|${win.end}|${this.selected}|${this.showTs}|${this.query}|${this.current}|${this.matches.length}`;
    if (key === this.renderedKey) {
      this.rows.style.transform = `translateY(${win.offsetY}px)`;
      return;
    }
    this.renderedKey = key;
    if (total === 0) {
      this.rows.style.transform = '';
      this.rows.innerHTML = '<div class="af-empty">No log lines yet.</div>';
      return;
    }
    const marker = this.markerRows();
    const hidden = logs.hiddenBefore(this.selected);
    const currentRow = this.current >= 0 ? this.matches[this.current] : -1;
    const all = this.selected === null;
    let html = '';
    for (let r = win.start; r < win.end; r++) {
      if (r < marker) {
        html += `<div class="af-row af-info">⋯ ${hidden.toLocaleString()} earlier lines not shown here — use Download for the full log</div>`;
        continue;
      }
      const i = r - marker;
      const row = logs.row(this.selected, i);
      if (!row) {
        continue;
      }
      const cur = i === currentRow;
      let prefix = '';
      if (all) {
        prefix += `<span class="af-tag">${escapeHtml(row.step.id)}</span>`;
      } else {
        prefix += `<span class="af-ln">${row.step.first + i + 1}</span>`;
      }
      if (this.showTs) {
        prefix += `<span class="af-ts">${formatClock(row.ts)}</span>`;
      }
      html += `<div class="af-row${cur ? ' af-cur' : ''}">${prefix}${ansiToHtml(row.line, this.query, cur)}</div>`;
    }
    if (!all) {
      // Line-number gutter sized for the largest number on screen, so 7-digit numbers fit.
      const widest = String(logs.hiddenBefore(this.selected) + logs.count(this.selected)).length;
      this.rows.style.setProperty('--af-ln-w', `${Math.max(4, widest) + 1}ch`);
    }
    this.rows.style.transform = `translateY(${win.offsetY}px)`;
    this.rows.innerHTML = html;
  }

  private onDownload(ev: MouseEvent): void {
    if (this.host.downloadUrl(this.selected) !== null) {
      return; // the server streams the full log
    }
    ev.preventDefault();
    const logs = this.host.logs;
    const n = logs.count(this.selected);
    const parts: string[] = [];
    for (let i = 0; i < n; i++) {
      const row = logs.row(this.selected, i);
      if (row) {
        parts.push((this.selected === null ? `[${row.step.id}] ` : '') + stripAnsi(row.line) + '\n');
      }
    }
    const url = URL.createObjectURL(new Blob(parts, { type: 'text/plain' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `${this.selected ?? 'all-steps'}.log`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }
}
