/** Header: pipeline name, status badge, elapsed time, progress, connection, actions. */
import { formatDuration } from './format';
import type { ViewState } from './reducer';
import { CATEGORIES, CATEGORY_LABEL, categoryOf, countCategories, reasonWords, stepLabel } from './status';
import type { ConnectionState } from './transport';
import { toSeconds } from './types';
import type { UiState } from './ui';

export interface HeaderActions {
  cancel(): void;
  rerun(failedOnly: boolean): void;
  /** Show one step's log (the failed-step links). */
  select(stepId: string): void;
  /** Show another run of this view (the runs selector). */
  switchRun(executionId: string): void;
}

/** Categories that are finished but not a real failure, drawn in the progress bar. */
const BAR_CATEGORIES = CATEGORIES.filter(c => c !== 'pending');

const CONN_LABEL: Record<ConnectionState, string> = {
  connecting: 'connecting',
  live: 'live',
  reconnecting: 'reconnecting',
  closed: 'closed',
  embedded: 'kernel'
};

function span(cls: string, text = ''): HTMLSpanElement {
  const s = document.createElement('span');
  s.className = cls;
  s.textContent = text;
  return s;
}

function button(label: string, title: string, onClick: () => void, cls = ''): HTMLButtonElement {
  const b = document.createElement('button');
  b.textContent = label;
  b.title = title;
  b.className = cls;
  b.onclick = onClick;
  return b;
}

export class Header {
  readonly node = document.createElement('div');
  readonly message = document.createElement('div');
  private readonly name = span('af-name');
  private readonly id = span('af-id');
  private readonly badge = span('af-badge');
  private readonly elapsed = span('af-elapsed');
  private readonly fills = new Map(BAR_CATEGORIES.map(c => [c, document.createElement('div')]));
  private readonly count = span('af-count');
  private readonly failures = document.createElement('div');
  private failuresKey = '';
  private readonly runs = document.createElement('select');
  private runsKey = '';
  private readonly conn = span('af-conn');
  private readonly connText = span('');
  private readonly cancelBtn: HTMLButtonElement;
  private readonly rerunBtn: HTMLButtonElement;
  private readonly rerunFailedBtn: HTMLButtonElement;

  constructor(
    actions: HeaderActions,
    private readonly canRerun: boolean
  ) {
    this.node.className = 'af-header';
    this.message.className = 'af-message';
    const title = span('af-title');
    this.runs.className = 'af-runs';
    this.runs.setAttribute('aria-label', 'Runs shown in this view');
    this.runs.title = 'Earlier runs of this view (re-runs keep the ones before)';
    this.runs.onchange = () => actions.switchRun(this.runs.value);
    title.append(this.name, this.badge, this.elapsed, this.id, this.runs);
    const bar = span('af-progress');
    const track = span('af-track');
    for (const [cat, fill] of this.fills) {
      fill.className = `af-fill af-k-${cat}`;
      track.append(fill);
    }
    this.failures.className = 'af-failures';
    this.failures.onclick = ev => {
      const id = (ev.target as Element).closest('[data-step]')?.getAttribute('data-step');
      if (id) actions.select(id);
    };
    bar.append(track, this.count);
    this.conn.append(span('af-dot'), this.connText);
    this.cancelBtn = button('Cancel', 'Stop every running step', () => actions.cancel(), 'af-danger');
    this.rerunBtn = button('Re-run', 'Run the whole pipeline again', () => actions.rerun(false));
    this.rerunFailedBtn = button('Re-run failed', 'Re-run failed steps and their dependents, reuse the rest', () => actions.rerun(true));
    const buttons = span('af-actions');
    buttons.append(this.cancelBtn);
    if (canRerun) {
      buttons.append(this.rerunBtn, this.rerunFailedBtn);
    }
    this.node.append(title, bar, this.conn, buttons);
  }

  /** The failed steps as links, each with its reason in words. */
  private renderFailures(state: ViewState): void {
    const failed = state.order.map(id => state.steps.get(id)).filter(s => s && categoryOf(s) === 'failed');
    const key = failed.map(s => `${s?.step_id}|${reasonWords(s!)}`).join('\u0001');
    if (key === this.failuresKey) return;
    this.failuresKey = key;
    this.failures.replaceChildren();
    if (failed.length === 0) return;
    this.failures.append(span('af-flabel', failed.length === 1 ? 'Failed step:' : `${failed.length} failed steps:`));
    for (const step of failed.slice(0, 8)) {
      const link = document.createElement('button');
      link.className = 'af-link';
      link.dataset.step = step!.step_id;
      link.textContent = stepLabel(step!, 40);
      const why = reasonWords(step!);
      link.title = `Show the log of ${step!.step_id}${why ? ` (${why})` : ''}`;
      this.failures.append(link);
      if (why) this.failures.append(span('af-fwhy', why));
    }
    if (failed.length > 8) this.failures.append(span('af-fwhy', `and ${failed.length - 8} more`));
  }

  update(state: ViewState, ui: UiState, now: number): void {
    const { conn, connDetail, busy } = ui;
    const ex = state.execution;
    const runsKey = `${ui.runs.join(',')}|${state.executionId}`;
    if (runsKey !== this.runsKey) {
      this.runsKey = runsKey;
      this.runs.replaceChildren(
        ...ui.runs.map((id, i) => {
          const o = document.createElement('option');
          o.value = id;
          o.textContent = `run ${i + 1} · ${id.slice(0, 8)}`;
          return o;
        })
      );
      this.runs.value = state.executionId;
      this.runs.style.display = ui.runs.length > 1 ? '' : 'none';
    }
    const status = ex.status ?? 'pending';
    this.name.textContent = ex.pipeline_name || 'Pipeline';
    this.name.title = this.name.textContent;
    this.id.textContent = state.executionId ? state.executionId.slice(0, 8) : '';
    this.id.title = state.executionId;
    this.badge.className = `af-badge af-s-${status}`;
    this.badge.textContent = status;
    const start = toSeconds(ex.started_at);
    const end = toSeconds(ex.finished_at);
    const running = status === 'running' || status === 'pending';
    const secs =
      typeof ex.duration === 'number' && !running ? ex.duration : start !== null ? (end ?? (running ? now : start)) - start : null;
    this.elapsed.textContent = formatDuration(secs);
    const counts = countCategories(ex, state.steps.values());
    const total = Math.max(ex.steps_total ?? 0, state.order.length);
    const pct = (n: number): string => `${total > 0 ? Math.min(100, (n / total) * 100) : 0}%`;
    for (const [cat, fill] of this.fills) {
      fill.style.width = pct(counts[cat]);
    }
    // Each category in words: a cancelled or skipped step is never counted as passed.
    const parts = CATEGORIES.filter(c => counts[c] > 0 && c !== 'pending').map(c => `${counts[c]} ${CATEGORY_LABEL[c]}`);
    const counted = parts.length ? `${parts.join(' · ')} of ${total}` : `${total} steps`;
    if (counted !== this.count.textContent) {
      // One unbreakable piece per category, so a narrow header wraps between them, never
      // inside "1 allowed failure".
      const pieces = parts.length ? parts.map((p, i) => (i === parts.length - 1 ? `${p} of ${total}` : p)) : [counted];
      this.count.replaceChildren(
        ...pieces.flatMap((piece, i) => {
          const node = span('af-cpart');
          node.textContent = piece;
          return i ? [document.createTextNode(' · '), node] : [node];
        })
      );
    }
    this.count.title = CATEGORIES.map(c => `${CATEGORY_LABEL[c]}: ${counts[c]}`).join('\n');
    this.renderFailures(state);
    const finished = ['success', 'failed', 'cancelled', 'interrupted'].includes(status);
    this.conn.className = `af-conn af-c-${connDetail && conn === 'closed' && !finished ? 'error' : conn}`;
    this.connText.textContent = connDetail ? `${CONN_LABEL[conn]}: ${connDetail}` : CONN_LABEL[conn];
    // A finished execution's socket closes normally: that is not news to show.
    this.conn.style.display = conn === 'closed' && finished && !connDetail ? 'none' : '';
    this.cancelBtn.disabled = busy || !running;
    this.rerunBtn.disabled = busy || running || !this.canRerun;
    // Re-run failed also re-runs cancelled and skipped steps, so it fits every unhappy end.
    this.rerunFailedBtn.disabled = busy || running || status === 'success' || !this.canRerun;
    // The failed-step links say what a "failed steps: …" message would repeat.
    const serverMsg = ex.message ?? '';
    // So would a message that only names the status the badge shows ("cancelled").
    const repeats =
      (this.failures.childElementCount > 0 && /^failed steps?:/i.test(serverMsg)) || serverMsg.trim().toLowerCase() === status;
    const msg = ui.notice || (repeats ? '' : serverMsg);
    const text = document.createElement('span');
    text.textContent = msg;
    this.message.replaceChildren(...(msg ? [text] : []), this.failures);
    const empty = !msg && this.failures.childElementCount === 0;
    const bad = ui.notice || status === 'failed' || status === 'interrupted';
    this.message.className = `af-message${bad ? ' af-bad' : ''}${empty ? ' af-hidden' : ''}`;
  }
}
