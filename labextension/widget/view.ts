/**
 * The execution view shared by the notebook widget and the JupyterLab panel. Events
 * only mutate state; one requestAnimationFrame pass renders what changed, so thousands
 * of events per second never render thousands of times.
 */
import { renderGraph } from './graph';
import { Header } from './header';
import { parseLogResponse } from './history';
import { LogPanel } from './logpanel';
import { applyEvents, createState, resetState, type ViewState } from './reducer';
import { injectStyle } from './style';
import { renderTimeline } from './timeline';
import { apiPost, authHeaders, httpBase, pageToken, ReconnectingSocket, withQuery, wsBase, type ConnectionState } from './transport';
import { FINISHED_EXECUTION, type Envelope, type StepInfo } from './types';

/** The slice of the anywidget model API the view uses (the lab panel provides its own). */
export interface ModelLike {
  get(name: string): unknown;
  set(name: string, value: unknown): void;
  save_changes(): void;
  // `any`: anywidget types its callbacks per event name; the view passes several shapes.
  on(event: string, cb: (...args: any[]) => void): void;
  off(event?: string | null, cb?: ((...args: any[]) => void) | null): void;
  send(content: unknown): void;
}

export interface ViewOptions {
  maxLines?: number;
}

/** Above this many steps the SVG graph is unreadable: the step list is shown instead. */
export const GRAPH_MAX_STEPS = 60;
/** Lines of history fetched per step when the view joins a running or old execution. */
const HISTORY_TAIL = 20_000;

const str = (v: unknown, fallback = ''): string => (typeof v === 'string' ? v : fallback);

/** Render the live execution view into `el`; returns the cleanup function. */
export function mountExecutionView(el: HTMLElement, model: ModelLike, options: ViewOptions = {}): () => void {
  injectStyle(el.ownerDocument);
  const mode = str(model.get('mode'), 'server') === 'embedded' ? 'embedded' : 'server';
  const base = (): string => str(model.get('base_url'), '/') || '/';
  const state: ViewState = createState(str(model.get('execution_id')), options.maxLines);
  // Until the first snapshot arrives, show what Python already knows.
  const seed = (): void => {
    state.execution.pipeline_name ||= str(model.get('pipeline_name')) || undefined;
    state.execution.status ||= str(model.get('status')) || undefined;
  };
  seed();
  let conn: ConnectionState = mode === 'embedded' ? 'embedded' : 'connecting';
  let connDetail = '';
  let notice = '';
  let busy = false;
  let tab: 'graph' | 'steps' = 'graph';
  let frame = 0;
  let socket: ReconnectingSocket | null = null;
  let backfilled = '';

  const root = document.createElement('div');
  root.className = 'ansflow-widget';
  const header = new Header({ cancel: () => void cancel(), rerun: failedOnly => void rerun(failedOnly) }, mode === 'server');
  const body = document.createElement('div');
  body.className = 'af-body';
  const left = document.createElement('div');
  left.className = 'af-left';
  const tabs = document.createElement('div');
  tabs.className = 'af-tabs';
  const graphTab = document.createElement('button');
  graphTab.textContent = 'Graph';
  const stepsTab = document.createElement('button');
  stepsTab.textContent = 'Timeline';
  tabs.append(graphTab, stepsTab);
  const pane = document.createElement('div');
  pane.className = 'af-pane';
  left.append(tabs, pane);

  const logPanel = new LogPanel({
    logs: state.logs,
    steps: () => state.order.map(id => [id, state.steps.get(id)?.name || id]),
    downloadUrl: stepId => {
      if (mode !== 'server' || !state.executionId) {
        return null;
      }
      const url = `${httpBase(base())}ansflow/api/executions/${encodeURIComponent(state.executionId)}/logs`;
      return withQuery(url, { format: 'text', step: stepId ?? undefined, token: pageToken() || undefined });
    },
    requestRender
  });
  body.append(left, logPanel.node);
  root.append(header.node, header.message, body);
  el.replaceChildren(root);

  const setTab = (next: 'graph' | 'steps'): void => {
    tab = next;
    state.dirty.steps = true;
    requestRender();
  };
  graphTab.onclick = () => setTab('graph');
  stepsTab.onclick = () => setTab('steps');
  pane.onclick = ev => {
    const target = (ev.target as Element).closest('[data-step]');
    const id = target?.getAttribute('data-step');
    if (id) {
      logPanel.show(logPanel.selected === id ? null : id);
      state.dirty.steps = true;
      requestRender();
    }
  };

  function requestRender(): void {
    if (!frame) {
      frame = requestAnimationFrame(render);
    }
  }

  function render(): void {
    frame = 0;
    const now = Date.now() / 1000;
    if (state.dirty.header) {
      state.dirty.header = false;
      header.update(state, conn, connDetail, now, busy);
      if (notice) {
        header.message.textContent = notice;
        header.message.className = 'af-message af-bad';
      }
    }
    if (state.dirty.steps) {
      state.dirty.steps = false;
      const steps = state.order.map(id => state.steps.get(id)).filter((s): s is StepInfo => !!s);
      const graphable = steps.length <= GRAPH_MAX_STEPS;
      graphTab.style.display = graphable ? '' : 'none';
      const showGraph = graphable && tab === 'graph';
      graphTab.className = showGraph ? 'af-on' : '';
      stepsTab.className = showGraph ? '' : 'af-on';
      pane.className = `af-pane ${showGraph ? 'af-graph' : 'af-timeline'}`;
      pane.innerHTML = steps.length === 0
        ? '<div class="af-empty">Waiting for the pipeline…</div>'
        : showGraph
          ? renderGraph(steps, logPanel.selected, now)
          : renderTimeline(state.execution, steps, logPanel.selected, now);
    }
    state.dirty.logs = false;
    logPanel.render();
  }

  function onEvents(events: Envelope[]): void {
    applyEvents(state, events);
    // The first snapshot tells how many lines each step already has: fetch that history once.
    if (mode === 'server' && backfilled !== state.executionId && events.some(e => e.type === 'snapshot')) {
      backfilled = state.executionId;
      void backfill(state.executionId);
    }
    requestRender();
  }

  /** Fetch the tail of each step's history that happened before we connected. */
  async function backfill(id: string): Promise<void> {
    for (const stepId of [...state.order]) {
      const expected = state.steps.get(stepId)?.log_lines ?? 0;
      const held = state.logs.steps.get(stepId);
      const first = held && held.next >= 0 ? held.first : expected;
      if (first <= 0 || id !== state.executionId) {
        continue;
      }
      const from = Math.max(0, first - HISTORY_TAIL);
      const url = withQuery(`${httpBase(base())}ansflow/api/executions/${encodeURIComponent(id)}/logs`, {
        step: stepId,
        offset: from,
        limit: first - from
      });
      try {
        const response = await fetch(url, { headers: authHeaders(), credentials: 'same-origin' });
        if (!response.ok || id !== state.executionId) {
          continue;
        }
        const chunk = parseLogResponse(await response.text(), from);
        applyEvents(state, { type: 'log_update', seq: null, execution_id: id, data: { step_id: stepId, ...chunk } });
        requestRender();
      } catch (err) {
        console.warn('ansflow: log history', err);
      }
    }
  }

  function setConn(next: ConnectionState, detail = ''): void {
    conn = next;
    connDetail = detail;
    state.dirty.header = true;
    requestRender();
  }

  function connect(): void {
    socket?.dispose();
    socket = null;
    const id = state.executionId;
    if (!id) {
      setConn('closed', 'no execution');
      return;
    }
    socket = new ReconnectingSocket({
      url: since => {
        const override = str(model.get('ws_url'));
        const url = override || `${wsBase(base())}ansflow/ws/executions/${encodeURIComponent(id)}`;
        return withQuery(url, { since: since > 0 ? since : undefined, token: pageToken() || undefined });
      },
      since: () => state.seq,
      onEvents,
      onState: setConn,
      done: () => FINISHED_EXECUTION.has(state.execution.status ?? '')
    });
  }

  async function act(work: () => Promise<void>): Promise<void> {
    busy = true;
    notice = '';
    state.dirty.header = true;
    requestRender();
    try {
      await work();
    } catch (err) {
      notice = err instanceof Error ? err.message : String(err);
    } finally {
      busy = false;
      state.dirty.header = true;
      requestRender();
    }
  }

  async function cancel(): Promise<void> {
    if (mode === 'embedded') {
      model.send({ type: 'cancel' });
      return;
    }
    await act(async () => {
      await apiPost(base(), `executions/${encodeURIComponent(state.executionId)}/cancel`);
    });
  }

  async function rerun(failedOnly: boolean): Promise<void> {
    await act(async () => {
      const answer = await apiPost(base(), `executions/${encodeURIComponent(state.executionId)}/rerun`, { failed_only: failedOnly });
      const nested = answer.execution as Record<string, unknown> | undefined;
      const newId = str(answer.execution_id) || str(answer.id) || str(nested?.execution_id);
      if (!newId) {
        throw new Error('the server did not return the new execution id');
      }
      switchTo(newId);
      model.set('execution_id', newId);
      model.save_changes();
    });
  }

  function switchTo(id: string): void {
    if (id === state.executionId) {
      return;
    }
    resetState(state, id);
    seed();
    backfilled = '';
    logPanel.show(null);
    if (mode === 'server') {
      connect();
    } else {
      model.send({ type: 'hello' });
    }
    requestRender();
  }

  const onIdChange = (): void => switchTo(str(model.get('execution_id')));
  const onCustom = (msg: { type?: string; events?: Envelope[] }): void => {
    if (msg && msg.type === 'events' && Array.isArray(msg.events)) {
      onEvents(msg.events);
    }
  };
  model.on('change:execution_id', onIdChange);
  if (mode === 'embedded') {
    model.on('msg:custom', onCustom);
    model.send({ type: 'hello' }); // the kernel answers with a snapshot: a re-rendered view catches up
  } else {
    connect();
  }

  // Elapsed times tick while something runs; nothing else needs a timer.
  const ticker = setInterval(() => {
    const status = state.execution.status ?? 'pending';
    if (status === 'running' || status === 'pending') {
      state.dirty.header = state.dirty.steps = true;
      requestRender();
    }
  }, 1000);
  requestRender();

  return () => {
    clearInterval(ticker);
    if (frame) {
      cancelAnimationFrame(frame);
    }
    socket?.dispose();
    model.off('change:execution_id', onIdChange);
    model.off('msg:custom', onCustom);
  };
}
