/**
 * The log panel: step selector, search, timestamps, follow-tail and a virtualised list
 * (fixed row height, only the visible rows in the DOM) so a million lines scroll smoothly.
 */
import type { GroupLayout, GroupState } from './groups';
import type { LogStore } from './logs';
import { firstErrorRow, linesAsText, rowsHtml, saveText } from './logrows';
import { earlierText, type LogHistory, rowOfLine } from './paging';
import { copyLink } from './permalink';
import { searchLines, stepMatch } from './search';
import { ServerSearch } from './serversearch';
import { computeWindow, rowAtTop, scrollTopAtRow, scrollTopForRow } from './virtual';

const ROW_H = 18;
/** The log pane grows with its content between these many rows. */
export const MIN_ROWS = 4;
export const MAX_ROWS = 24;
/** Re-running a search over a growing log at most this often (ms). */
const SEARCH_THROTTLE = 400;

export interface LogPanelHost {
  logs: LogStore;
  /** [step id, label] pairs for the selector, in display order. */
  steps(): Array<[string, string]>;
  /** The label of a step in the "All steps" column (keeps matrix values). */
  label(stepId: string): string;
  /** What to say when a view has no lines (why a step has none). */
  emptyText(stepId: string | null): string;
  /** True when every line the server has for the step is held (history fetched). */
  complete(stepId: string): boolean;
  /** The full log as text from the server (prefixed by step, ANSI stripped), or null. */
  fetchLog(stepId: string | null): Promise<string> | null;
  /** File name of a download, distinct per execution and step. */
  fileName(stepId: string | null): string;
  requestRender(): void;
  /** Collapsible log groups (cells, job steps, `::group::`); without it rows are lines. */
  groups?: GroupState;
  /** The level of an annotation on a step's line (offset), to style that line. */
  annotationAt?(stepId: string, offset: number): string | undefined;
  /** Server history: load earlier, load down to a line, whole-log search (not embedded). */
  history?: LogHistory | null;
  /** A link that reopens a line (0-based `offset` of a step) in JupyterLab, or null. */
  permalink?(stepId: string, offset: number): string | null;
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
  private matchTotal = 0;
  private current = -1;
  /** Open this step at its first error once its lines are there (failure triage). */
  private revealing = false;
  private focusRow = -1;
  /** The group header to give keyboard focus back to after a redraw. */
  private focusGroup = -1;
  private visible = true;
  private searchedAt = 0;
  private searchedVersion = -1;
  private renderedKey = '';
  private programmaticTop = -1;
  private stepsKey = '';
  /** The whole-log search on the server, when not every line is held. */
  private readonly server = new ServerSearch(() => this.invalidate());
  /** A line to scroll to once it is loaded (a search hit, a permalink). */
  private target: { stepId: string; offset: number; focus: boolean } | null = null;
  private seeking = false;
  /** What the last render showed, to keep the viewport still when earlier lines arrive. */
  private anchorView = '';
  private anchorHidden = 0;
  private anchorRows = 0;
  private anchorMarker = 0;
  private anchorLayout: GroupLayout | null = null;
  private flash = '';
  private readonly select = el('select');
  private readonly search = el('input');
  private readonly count = el('span', 'af-mcount');
  private readonly tsBox = el('input');
  private readonly download = el('a', 'af-download', 'Download');
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
    tsLabel.append(this.tsBox, 'timestamps');
    this.download.onclick = ev => this.onDownload(ev);
    const searchGroup = el('span', 'af-searchgroup');
    searchGroup.append(this.search, this.count, prev, next);
    bar.append(this.select, searchGroup, tsLabel, el('span', 'af-spacer-flex'), this.download);
    this.followBtn.title = 'Scroll to the newest line and keep following';
    this.followBtn.onclick = () => {
      this.follow = true;
      this.invalidate();
    };
    this.spacer.append(this.rows);
    this.view.append(this.spacer);
    this.view.onscroll = () => this.onScroll();
    this.rows.onclick = ev => this.onRowsClick(ev);
    this.rows.onkeydown = ev => this.onGroupKey(ev.target as Element, ev);
    const wrap = el('div', 'af-logwrap');
    wrap.append(this.view, this.followBtn);
    this.node.append(bar, wrap);
    this.search.setAttribute('aria-label', 'Search logs');
    this.select.setAttribute('aria-label', 'Log of step');
    this.view.setAttribute('role', 'log');
    this.view.tabIndex = 0;
    // A hidden view (a background tab, a collapsed output) has no height: rows drawn then
    // sit at the wrong offset. Redraw when it gets its size back.
    if (typeof ResizeObserver !== 'undefined') {
      new ResizeObserver(entries => {
        const height = entries[entries.length - 1]?.contentRect.height ?? 0;
        const shown = height > 0;
        if (shown !== this.visible || shown) {
          this.visible = shown;
          this.invalidate();
        }
      }).observe(this.view);
    }
  }

  /** Open a step scrolled to its first error (or its end when it has none). */
  reveal(stepId: string): void {
    this.show(stepId);
    this.revealing = true;
    this.follow = false;
  }

  /**
   * Open a step at one line (0-based offset) and highlight it once it is loaded: earlier
   * pages are fetched down to it and the groups around it open (scrollToRow).
   */
  goTo(stepId: string, offset: number): void {
    this.show(stepId);
    this.target = { stepId, offset, focus: true };
    this.follow = false;
    this.invalidate();
  }

  /** A click, Enter or Space on a group header opens or closes it. */
  private onGroupKey(target: Element, ev: KeyboardEvent | null): void {
    const head = target.closest?.('[data-group]');
    if (!head || this.selected === null || !this.host.groups || (ev && ev.key !== 'Enter' && ev.key !== ' ')) return;
    ev?.preventDefault();
    const index = Number(head.getAttribute('data-group'));
    this.host.groups.toggle(this.selected, index);
    this.focusGroup = ev ? index : -1;
    this.invalidate();
  }

  /** The group layout of the selected step, or null (all steps, or no groups). */
  private layout(): GroupLayout | null {
    const log = this.selected === null ? undefined : this.host.logs.steps.get(this.selected);
    return log && this.host.groups ? this.host.groups.layout(log, this.host.logs.version) : null;
  }

  /** Select a step (null = all steps). */
  show(stepId: string | null): void {
    this.selected = stepId;
    this.select.value = stepId ?? '';
    this.follow = true;
    this.revealing = false;
    this.focusRow = -1;
    this.searchedVersion = -1;
    this.current = -1;
    this.target = null;
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
    if (this.server.active) {
      void this.jumpRemote(dir);
      return;
    }
    this.current = stepMatch(this.matches, this.current, dir);
    if (this.current >= 0) {
      this.scrollToRow(this.matches[this.current]);
    }
    this.invalidate();
  }

  /** Step through the server's hits, loading the lines down to each one. */
  private async jumpRemote(dir: 1 | -1): Promise<void> {
    const history = this.host.history;
    const hit = history ? await this.server.step(history, dir) : null;
    if (hit) {
      this.target = { stepId: hit.step_id, offset: hit.offset, focus: false };
      this.follow = false;
      this.invalidate();
    }
  }

  /** Scroll to the pending target once it is held; load earlier lines down to it. */
  private resolveTarget(): void {
    const t = this.target;
    if (!t) {
      return;
    }
    const row = rowOfLine(this.host.logs, this.selected, t.stepId, t.offset);
    if (row >= 0) {
      this.target = null;
      if (t.focus) this.focusRow = row;
      else this.server.row = row;
      this.scrollToRow(row);
      return;
    }
    const log = this.host.logs.steps.get(t.stepId);
    const history = this.host.history;
    if (log && log.next >= 0 && log.first > t.offset && !this.seeking && history?.available) {
      this.seeking = true;
      void history.loadUntil(t.stepId, Math.max(0, t.offset - 50)).finally(() => {
        this.seeking = false;
        this.invalidate();
      });
    } else if (log && log.next >= 0 && log.first > t.offset && !history?.available) {
      this.target = null; // dropped by the memory cap, no server to ask: the nearest held line
      this.scrollToRow(0);
    }
  }

  /** One handler for the rows: a permalink icon copies its link, a group header toggles. */
  private onRowsClick(ev: Event): void {
    const target = ev.target as Element | null;
    const link = target?.closest?.('a.af-plink') as HTMLAnchorElement | null;
    if (!link) {
      if (target) this.onGroupKey(target, null);
      return;
    }
    ev.preventDefault();
    void copyLink(link.href).then(text => {
      this.flash = text;
      this.invalidate();
      setTimeout(() => {
        this.flash = '';
        this.invalidate();
      }, 2500);
    });
  }

  private scrollToRow(i: number): void {
    this.follow = false;
    const log = this.selected === null ? undefined : this.host.logs.steps.get(this.selected);
    if (log && this.host.groups) {
      this.host.groups.expandTo(log, i); // a match or an error inside a closed group opens it
      i = Math.max(0, this.layout()?.displayOf(i) ?? i);
    }
    this.spacer.style.height = `${computeWindow(0, 1, ROW_H, this.rowCount()).scrollHeight}px`;
    const top = scrollTopForRow(i + this.markerRows(), this.view.clientHeight || 300, ROW_H, this.rowCount());
    this.programmaticTop = top;
    this.view.scrollTop = top;
  }

  private revealNow(): void {
    const id = this.selected;
    if (!this.revealing || id === null || this.host.logs.count(id) === 0) {
      return;
    }
    const complete = this.host.complete(id);
    const row = firstErrorRow(this.host.logs, id);
    if (row >= 0) {
      this.focusRow = row;
      this.scrollToRow(row);
    } else if (complete) {
      this.follow = true;
    }
    // Earlier history may still arrive and hold an earlier error: keep looking until then.
    this.revealing = !complete;
  }

  private markerRows(): number {
    const reached = this.host.history?.reachedStart(this.selected) ?? false;
    return this.host.logs.hiddenBefore(this.selected) > 0 || reached ? 1 : 0;
  }

  private rowCount(): number {
    return (this.layout()?.count ?? this.host.logs.count(this.selected)) + this.markerRows();
  }

  private refreshSearch(force = false): void {
    const logs = this.host.logs;
    if (!this.query) {
      this.matches = [];
      this.matchTotal = 0;
      this.server.clear();
      return;
    }
    if (this.server.shows(this.selected, this.query)) {
      return; // searched on the server: the count and hits come from there
    }
    this.server.clear();
    const history = this.host.history;
    if (history?.available && logs.hiddenBefore(this.selected) > 0) {
      // Not every line is here: the server searches the whole stored log.
      this.current = -1;
      this.matches = [];
      this.matchTotal = 0;
      this.server.start(history, this.selected, this.query);
      return;
    }
    const stale = this.searchedVersion !== logs.version;
    if (stale && (force || this.searchedVersion < 0 || performance.now() - this.searchedAt > SEARCH_THROTTLE)) {
      const found = searchLines(logs.count(this.selected), i => logs.row(this.selected, i)?.line ?? '', this.query);
      this.matches = found.rows;
      this.matchTotal = found.total;
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
    const option = (label: string, value: string): HTMLOptionElement => {
      const o = document.createElement('option');
      o.value = value;
      o.textContent = label;
      return o;
    };
    this.select.replaceChildren(option('All steps', ''), ...steps.map(([id, label]) => option(label, id)));
    this.select.value = this.selected ?? '';
  }

  render(): void {
    this.syncSelector();
    if (!this.visible) {
      this.renderedKey = ''; // hidden: draw when shown again (the ResizeObserver calls back)
      return;
    }
    this.refreshSearch();
    const logs = this.host.logs;
    let total = this.rowCount();
    // Sized to the content between MIN_ROWS and MAX_ROWS (a tab-filling panel overrides it).
    this.node.style.setProperty('--af-log-rows', String(Math.max(MIN_ROWS, Math.min(MAX_ROWS, total))));
    const viewport = this.view.clientHeight || 300;
    const first = computeWindow(0, viewport, ROW_H, total);
    // The scroll range first: a jump to the first error must not be clamped by the old one.
    this.spacer.style.height = `${first.scrollHeight}px`;
    this.keepViewport(total, viewport);
    this.revealNow();
    this.resolveTarget();
    total = this.rowCount(); // opening a group to show a line adds rows
    this.download.href = '#';
    this.download.title = `Download ${this.selected === null ? 'every step' : this.selected}'s full log as text`;
    this.renderCount();
    if (this.follow) {
      const bottom = Math.max(0, first.scrollHeight - viewport);
      if (Math.abs(this.view.scrollTop - bottom) > 1) {
        this.programmaticTop = bottom;
        this.view.scrollTop = bottom;
      }
    }
    this.followBtn.classList.toggle('af-show', !this.follow && total > 0);
    const win = computeWindow(this.view.scrollTop, viewport, ROW_H, total);
    const history = this.host.history;
    const hiddenNow = logs.hiddenBefore(this.selected);
    if (win.start === 0 && hiddenNow > 0 && history?.available && !history.isLoading(this.selected)) {
      history.loadEarlier(this.selected); // the top is in sight: fetch the page before it
    }
    const loading = history?.isLoading(this.selected) ?? false;
    const layout = this.layout();
    const tick = layout?.running ? Math.floor(Date.now() / 1000) : '';
    // With no lines the text says why, and that changes with the run's status alone.
    const empty = total === 0 ? this.host.emptyText(this.selected) : '';
    const key = `${logs.version}|${layout?.serial ?? ''}|${tick}|${win.start}|${win.end}|${this.selected}|${this.showTs}|${this.query}|${this.current}|${this.matches.length}|${this.focusRow}|${this.server.row}|${loading}|${empty}`;
    if (key === this.renderedKey) {
      this.rows.style.transform = `translateY(${win.offsetY}px)`;
      return;
    }
    this.renderedKey = key;
    if (total === 0) {
      this.rows.style.transform = '';
      this.rows.replaceChildren(el('div', 'af-empty', empty));
      return;
    }
    const marker = this.markerRows();
    const currentRow = this.server.active ? this.server.row : this.current >= 0 ? this.matches[this.current] : -1;
    const all = this.selected === null;
    const html = rowsHtml(
      {
        logs,
        selected: this.selected,
        layout,
        marker,
        earlier: () => earlierText(logs, this.selected, hiddenNow, history),
        currentRow,
        focusRow: this.focusRow,
        query: this.query,
        showTs: this.showTs,
        label: id => this.host.label(id),
        permalink: this.host.permalink && ((id, offset) => this.host.permalink?.(id, offset) ?? null),
        annotationAt: this.host.annotationAt && ((id, offset) => this.host.annotationAt?.(id, offset))
      },
      win.start,
      win.end
    );
    if (!all) {
      // Line-number gutter sized for the largest number on screen, so 7-digit numbers fit.
      const widest = String(logs.hiddenBefore(this.selected) + logs.count(this.selected)).length;
      this.rows.style.setProperty('--af-ln-w', `${Math.max(4, widest) + 1}ch`);
    } else {
      // The step column is as wide as the longest label (within bounds), never cut at 14.
      let widest = 8;
      for (const id of logs.steps.keys()) widest = Math.max(widest, this.host.label(id).length);
      this.rows.style.setProperty('--af-tag-w', `${Math.min(36, widest) + 1}ch`);
    }
    this.rows.style.transform = `translateY(${win.offsetY}px)`;
    this.rows.innerHTML = html;
    if (this.focusGroup >= 0) {
      this.rows.querySelector<HTMLElement>(`[data-group="${this.focusGroup}"]`)?.focus();
      this.focusGroup = -1;
    }
  }

  /** "3/12" for a local search, "12 of 3,417 matches" for the server's whole-log one. */
  private renderCount(): void {
    if (this.flash) {
      this.count.textContent = this.flash;
      return;
    }
    if (!this.query) {
      this.count.textContent = '';
      this.count.title = '';
      return;
    }
    if (this.server.active) {
      [this.count.textContent, this.count.title] = this.server.label();
      return;
    }
    const at = this.current >= 0 ? this.current + 1 : 0;
    const shown = this.matches.length;
    const capped = this.matchTotal > shown ? ` (first ${shown.toLocaleString()} navigable)` : '';
    this.count.textContent = `${at}/${this.matchTotal.toLocaleString()}`;
    this.count.title = `${this.matchTotal.toLocaleString()} matching lines${capped}`;
  }

  /** Earlier lines came in above: keep the same line at the top of the viewport. */
  private keepViewport(total: number, viewport: number): void {
    const hidden = this.host.logs.hiddenBefore(this.selected);
    const marker = this.markerRows();
    const view = String(this.selected);
    if (view === this.anchorView && hidden < this.anchorHidden && !this.follow) {
      const lines = this.anchorHidden - hidden;
      const top = rowAtTop(this.view.scrollTop, viewport, ROW_H, this.anchorRows);
      const next = scrollTopAtRow(this.shifted(top - this.anchorMarker, lines) + marker, viewport, ROW_H, total);
      this.programmaticTop = next;
      this.view.scrollTop = next;
      if (this.focusRow >= 0) this.focusRow += lines;
      if (this.server.row >= 0) this.server.row += lines;
    }
    this.anchorView = view;
    this.anchorHidden = hidden;
    this.anchorRows = total;
    this.anchorMarker = marker;
    this.anchorLayout = this.layout();
  }

  /**
   * Where display row `d` of the last render is now that `lines` earlier lines arrived:
   * through the group layouts, as collapsed groups (and new headers above) change the count.
   */
  private shifted(d: number, lines: number): number {
    const layout = this.layout();
    const whole = Math.max(0, Math.floor(d)); // d < 0: the earlier-lines row is at the top
    const item = this.anchorLayout ? this.anchorLayout.at(whole) : ({ kind: 'line', row: whole } as const);
    let now = -1;
    if (item?.kind === 'line') now = layout ? layout.displayOf(item.row + lines) : item.row + lines;
    else if (item && layout) now = layout.headerOf(item.group.index);
    return now >= 0 ? now + d - whole : d + lines;
  }

  private onDownload(ev: MouseEvent): void {
    ev.preventDefault();
    const selected = this.selected;
    const name = this.host.fileName(selected);
    const fromServer = this.host.fetchLog(selected);
    const save = (text: string | string[]): void => saveText(name, text);
    if (fromServer) {
      // Fetched with the auth header, saved from a Blob: the token never sits in a link.
      fromServer.then(save, err => {
        this.count.textContent = `download failed: ${err instanceof Error ? err.message : String(err)}`;
      });
      return;
    }
    save(linesAsText(this.host.logs, selected));
  }
}
