/** Left sidebar: pipeline files with a Run button, and the live table of recent executions. */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';
import { escapeHtml } from '../widget/ansi';
import { formatDuration, STATUS_ICONS } from '../widget/format';
import { injectStyle } from '../widget/style';
import { ReconnectingSocket, withQuery, type ConnectionState } from '../widget/transport';
import { toSeconds, type Envelope, type ExecutionInfo } from '../widget/types';
import type { components } from '../widget/api.generated';
import { filterExecutions, formatWhen, type PipelineFile, parsePipelines, parseStarted } from './executions';

type ErrorBody = components['schemas']['ErrorBody'];

export { filterExecutions, formatWhen, parsePipelines } from './executions';

export type OpenExecution = (executionId: string, pipelineName: string) => void;

const MAX_ROWS = 50;
/** New pipeline files show up without a Refresh click, at this pace (ms). */
const PIPELINES_POLL = 15_000;

export class AnsFlowSidebar extends Widget {
  private readonly executions = new Map<string, ExecutionInfo>();
  private socket: ReconnectingSocket | null = null;
  private conn: ConnectionState = 'connecting';
  private pipelines: PipelineFile[] = [];
  private pipelinesKey = '';
  private current = '';
  private statusFilter = '';
  private pipelineFilter = '';
  private poller: ReturnType<typeof setInterval> | null = null;
  private pipelinesError = '';
  private ticker: ReturnType<typeof setInterval> | null = null;
  private readonly pipelinesNode = document.createElement('div');
  private readonly executionsNode = document.createElement('div');
  private readonly statusNode = document.createElement('span');

  constructor(
    private readonly settings: ServerConnection.ISettings,
    private readonly open: OpenExecution
  ) {
    super();
    injectStyle();
    this.id = 'ansflow-sidebar';
    this.addClass('ansflow-panel');
    this.title.caption = 'AnsFlow pipelines';
    const pipelinesHead = document.createElement('h3');
    pipelinesHead.textContent = 'Pipelines';
    const refresh = document.createElement('button');
    refresh.textContent = 'Refresh';
    refresh.onclick = () => void this.loadPipelines();
    pipelinesHead.append(refresh);
    const execHead = document.createElement('h3');
    execHead.textContent = 'Executions';
    this.statusNode.className = 'af-muted';
    execHead.append(this.statusNode);
    const filters = document.createElement('div');
    filters.className = 'af-filters';
    const statusSelect = document.createElement('select');
    statusSelect.setAttribute('aria-label', 'Show executions with this status');
    for (const value of ['', 'running', 'success', 'failed', 'cancelled', 'interrupted', 'pending']) {
      const o = document.createElement('option');
      o.value = value;
      o.textContent = value || 'any status';
      statusSelect.append(o);
    }
    statusSelect.onchange = () => {
      this.statusFilter = statusSelect.value;
      this.renderExecutions();
    };
    const pipelineInput = document.createElement('input');
    pipelineInput.type = 'search';
    pipelineInput.placeholder = 'Filter by pipeline';
    pipelineInput.setAttribute('aria-label', 'Filter executions by pipeline name');
    pipelineInput.oninput = () => {
      this.pipelineFilter = pipelineInput.value;
      this.renderExecutions();
    };
    filters.append(statusSelect, pipelineInput);
    this.node.append(pipelinesHead, this.pipelinesNode, execHead, filters, this.executionsNode);
    this.pipelinesNode.onclick = ev => this.onPipelineClick(ev);
    this.executionsNode.onclick = ev => {
      const row = (ev.target as Element).closest('[data-id]');
      const id = row?.getAttribute('data-id');
      if (id) {
        this.openExecution(id, this.executions.get(id)?.pipeline_name ?? '');
      }
    };
  }

  /** Open an execution's panel and highlight its row. */
  private openExecution(id: string, name: string): void {
    this.current = id;
    this.open(id, name);
    this.renderExecutions();
  }

  protected onAfterAttach(): void {
    void this.loadPipelines();
    this.poller = setInterval(() => void this.loadPipelines(), PIPELINES_POLL);
    this.connect();
    // Durations of running executions tick.
    this.ticker = setInterval(() => {
      if ([...this.executions.values()].some(e => e.status === 'running')) {
        this.renderExecutions();
      }
    }, 1000);
  }

  protected onBeforeDetach(): void {
    this.socket?.dispose();
    this.socket = null;
    if (this.ticker) {
      clearInterval(this.ticker);
    }
    if (this.poller) {
      clearInterval(this.poller);
    }
  }

  private api(path: string, init: RequestInit = {}): Promise<Response> {
    return ServerConnection.makeRequest(URLExt.join(this.settings.baseUrl, 'ansflow/api', path), init, this.settings);
  }

  async loadPipelines(): Promise<void> {
    try {
      const response = await this.api('pipelines');
      if (!response.ok) {
        throw new Error(`HTTP ${response.status}`);
      }
      this.pipelines = parsePipelines(await response.json());
      this.pipelinesError = '';
      const key = JSON.stringify(this.pipelines);
      if (key === this.pipelinesKey) {
        return; // unchanged: a poll must not redraw under the pointer
      }
      this.pipelinesKey = key;
    } catch (err) {
      this.pipelinesError = `Could not list pipelines: ${err instanceof Error ? err.message : String(err)}`;
    }
    this.renderPipelines();
  }

  private renderPipelines(): void {
    if (this.pipelinesError) {
      this.pipelinesNode.innerHTML = `<div class="af-err">${escapeHtml(this.pipelinesError)}</div>`;
      return;
    }
    if (this.pipelines.length === 0) {
      this.pipelinesNode.innerHTML = '<div class="af-muted">No pipeline files found.</div>';
      return;
    }
    // The pipeline's name first (what the executions list shows), its file below.
    const row = (p: PipelineFile): string =>
      `<tr><td class="af-grow" title="${escapeHtml(`${p.name}\n${p.path}`)}"><div class="af-pname">${escapeHtml(p.name)}</div>` +
      `<div class="af-muted af-ppath">${escapeHtml(p.path)}</div></td>` +
      `<td style="width:1%"><button data-run="${escapeHtml(p.path)}" aria-label="Run ${escapeHtml(p.name)}">Run</button></td></tr>`;
    const native = this.pipelines.filter(p => p.kind !== 'workflow').map(row);
    const workflows = this.pipelines.filter(p => p.kind === 'workflow').map(row);
    // GitHub Actions workflows in their own group, after the native pipelines.
    const group = workflows.length
      ? `<tr><td colspan="2" class="af-muted af-group">GitHub Actions workflows</td></tr>${workflows.join('')}`
      : '';
    this.pipelinesNode.innerHTML = `<table><tbody>${native.join('')}${group}</tbody></table>`;
  }

  private async onPipelineClick(ev: MouseEvent): Promise<void> {
    const button = (ev.target as Element).closest('button[data-run]') as HTMLButtonElement | null;
    const path = button?.getAttribute('data-run');
    if (!button || !path) {
      return;
    }
    button.disabled = true;
    try {
      const response = await this.api('executions', { method: 'POST', body: JSON.stringify({ path }) });
      const answer: unknown = await response.json();
      if (!response.ok) {
        const body = (answer ?? {}) as Partial<ErrorBody>;
        throw new Error(typeof body.message === 'string' ? body.message : `HTTP ${response.status}`);
      }
      const started = parseStarted(answer);
      this.openExecution(started.execution_id, started.pipeline_name);
    } catch (err) {
      this.pipelinesError = `Run failed: ${err instanceof Error ? err.message : String(err)}`;
      this.renderPipelines();
      setTimeout(() => void this.loadPipelines(), 4000);
    } finally {
      button.disabled = false;
    }
  }

  private connect(): void {
    this.socket?.dispose();
    const token = this.settings.token;
    this.socket = new ReconnectingSocket({
      url: () => withQuery(URLExt.join(this.settings.wsUrl, 'ansflow/ws/executions'), { token: token || undefined }),
      since: () => 0,
      onEvents: events => this.onEvents(events),
      onState: state => {
        this.conn = state;
        this.statusNode.textContent = state;
      }
    });
  }

  private onEvents(events: Envelope[]): void {
    for (const ev of events) {
      if (ev.type === 'snapshot') {
        this.executions.clear();
        for (const ex of (ev.data as { executions?: ExecutionInfo[] }).executions ?? []) {
          if (ex.execution_id) {
            this.executions.set(ex.execution_id, { ...ex });
          }
        }
      } else if (ev.type === 'execution_update') {
        const data = ev.data as ExecutionInfo;
        const id = data.execution_id ?? ev.execution_id;
        this.executions.set(id, { ...(this.executions.get(id) ?? {}), ...data, execution_id: id });
      }
    }
    this.renderExecutions();
  }

  private renderExecutions(): void {
    const now = Date.now() / 1000;
    const all = [...this.executions.values()];
    const list = filterExecutions(all, this.statusFilter, this.pipelineFilter)
      .sort((a, b) => (toSeconds(b.started_at) ?? Infinity) - (toSeconds(a.started_at) ?? Infinity))
      .slice(0, MAX_ROWS);
    if (list.length === 0) {
      const empty = all.length ? 'No execution matches the filters.' : this.conn === 'live' ? 'No executions yet.' : '';
      this.executionsNode.innerHTML = `<div class="af-muted">${empty}</div>`;
      return;
    }
    const rows = list
      .map(ex => {
        const status = ex.status ?? 'pending';
        const start = toSeconds(ex.started_at);
        const secs = status === 'running' && start !== null ? now - start : (ex.duration ?? null);
        const when = start !== null ? formatWhen(start) : '';
        const full = start !== null ? new Date(start * 1000).toLocaleString() : '';
        const cls = ex.execution_id === this.current ? 'af-click af-current' : 'af-click';
        const name = ex.pipeline_name ?? '';
        return (
          `<tr class="${cls}" data-id="${escapeHtml(ex.execution_id ?? '')}" title="${escapeHtml(`${name} — ${status}\n${ex.execution_id ?? ''}\n${full}`)}">` +
          `<td style="width:1%"><span class="af-ico af-s-${escapeHtml(status)}" aria-label="${escapeHtml(status)}">${STATUS_ICONS[status] ?? '?'}</span></td>` +
          `<td class="af-grow">${escapeHtml(name)}</td><td class="af-muted af-when">${escapeHtml(when)}</td>` +
          `<td class="af-muted" style="text-align:right">${formatDuration(secs)}</td></tr>`
        );
      })
      .join('');
    this.executionsNode.innerHTML = `<table><tbody>${rows}</tbody></table>`;
  }

  dispose(): void {
    this.onBeforeDetach();
    super.dispose();
  }
}
