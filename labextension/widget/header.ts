/** Header: pipeline name, status badge, elapsed time, progress, connection, actions. */
import { formatDuration } from './format';
import { progress, type ViewState } from './reducer';
import type { ConnectionState } from './transport';
import { toSeconds } from './types';

export interface HeaderActions {
  cancel(): void;
  rerun(failedOnly: boolean): void;
}

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
  private readonly okFill = document.createElement('div');
  private readonly badFill = document.createElement('div');
  private readonly count = span('af-count');
  private readonly conn = span('af-conn');
  private readonly connText = span('');
  private readonly cancelBtn: HTMLButtonElement;
  private readonly rerunBtn: HTMLButtonElement;
  private readonly rerunFailedBtn: HTMLButtonElement;

  constructor(actions: HeaderActions, private readonly canRerun: boolean) {
    this.node.className = 'af-header';
    this.message.className = 'af-message';
    const title = span('af-title');
    title.append(this.name, this.badge, this.elapsed, this.id);
    const bar = span('af-progress');
    const track = span('af-track');
    this.okFill.className = 'af-fill-ok';
    this.badFill.className = 'af-fill-bad';
    track.append(this.okFill, this.badFill);
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

  update(state: ViewState, conn: ConnectionState, connDetail: string, now: number, busy: boolean): void {
    const ex = state.execution;
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
    const secs = typeof ex.duration === 'number' && !running ? ex.duration : start !== null ? (end ?? (running ? now : start)) - start : null;
    this.elapsed.textContent = formatDuration(secs);
    const { done, total } = progress(state);
    let failed = 0;
    for (const s of state.steps.values()) {
      if (s.status === 'failed') failed++;
    }
    const pct = (n: number): string => `${total > 0 ? Math.min(100, (n / total) * 100) : 0}%`;
    this.okFill.style.width = pct(Math.max(0, done - failed));
    this.badFill.style.width = pct(Math.min(failed, done));
    this.count.textContent = `${done} / ${total} steps`;
    const finished = ['success', 'failed', 'cancelled', 'interrupted'].includes(status);
    this.conn.className = `af-conn af-c-${connDetail && conn === 'closed' && !finished ? 'error' : conn}`;
    this.connText.textContent = connDetail ? `${CONN_LABEL[conn]}: ${connDetail}` : CONN_LABEL[conn];
    // A finished execution's socket closes normally: that is not news to show.
    this.conn.style.display = conn === 'closed' && finished && !connDetail ? 'none' : '';
    this.cancelBtn.disabled = busy || !running;
    this.rerunBtn.disabled = busy || running || !this.canRerun;
    // Re-run failed also re-runs cancelled and skipped steps, so it fits every unhappy end.
    this.rerunFailedBtn.disabled = busy || running || status === 'success' || !this.canRerun;
    const msg = ex.message ?? '';
    this.message.textContent = msg;
    this.message.className = `af-message${status === 'failed' || status === 'interrupted' ? ' af-bad' : ''}`;
  }
}
