/**
 * The execution view shared by the notebook widget and the JupyterLab panel: the
 * controller. Events only mutate state (reducer.ts); the UI state lives in ui.ts; one
 * requestAnimationFrame pass renders what changed through small components (Header,
 * StepsPane, LogPanel), so thousands of events per second never render thousands of times.
 */
import { KernelTransport, type ModelLike, ServerTransport, type Transport } from './adapters';
import { AnnotationIndex, AnnotationList } from './annotations';
import { EventFeed } from './feed';
import { stripAnsi } from './ansi';
import { GroupState } from './groups';
import { Header } from './header';
import { type LogPage, toChunk } from './history';
import { LogPanel } from './logpanel';
import { LogHistory } from './paging';
import { permalinkUrl } from './permalink';
import { applyEvents, createState, resetState, type ViewState } from './reducer';
import { categoryOf, emptyText, stepLabel } from './status';
import { StepData } from './stepdata';
import { StepsPane } from './stepspane';
import { Splitter } from './split';
import { StepStrip } from './stepstrip';
import { summaryBundle } from './summary';
import { injectStyle } from './style';
import type { ConnectionState } from './transport';
import { type Envelope, FINISHED_EXECUTION, type StepInfo } from './types';
import { createUi } from './ui';

export type { ModelLike } from './adapters';
export { GRAPH_MAX_STEPS } from './stepspane';

export interface ViewOptions {
  maxLines?: number;
  /** Called once per execution when it has ended, with its text/plain and text/html summary. */
  onFinished?: (summary: { 'text/plain': string; 'text/html': string }) => void;
  /** Which kind of view this is: the graph/log split is remembered per kind. */
  layoutKey?: string;
  /** Earlier runs of this cell (oldest first), e.g. from the saved output: the runs selector lists them. */
  runs?: readonly string[];
  /** Called with the runs of this view whenever one is added, to save them with the output. */
  onRuns?: (runs: string[]) => void;
}

/** Runs a view keeps in its selector (and in the saved output). */
const MAX_RUNS = 20;

/** Lines of history fetched per step when the view joins a running or old execution. */
const HISTORY_TAIL = 20_000;
/** The first, small part of that tail: enough to draw the first rows at once. */
const FIRST_TAIL = 1_000;
/** The rest of the tail comes in pages this size (each parsed and merged within a frame). */
const TAIL_PAGE = 5_000;
/** Lines per page when a download is assembled from the log endpoint. */
const DOWNLOAD_PAGE = 50_000;

const str = (v: unknown, fallback = ''): string => (typeof v === 'string' ? v : fallback);

/** Render the live execution view into `el`; returns the cleanup function. */
export function mountExecutionView(el: HTMLElement, model: ModelLike, options: ViewOptions = {}): () => void {
  injectStyle(el.ownerDocument);
  const embedded = str(model.get('mode'), 'server') === 'embedded';
  const state: ViewState = createState(str(model.get('execution_id')), options.maxLines);
  const ui = createUi(embedded);
  // Until the first snapshot arrives, show what Python already knows.
  const seed = (): void => {
    state.execution.pipeline_name ||= str(model.get('pipeline_name')) || undefined;
    state.execution.status ||= str(model.get('status')) || undefined;
  };
  seed();
  let frame = 0;
  let backfilled = '';
  let historyDone = '';

  const root = document.createElement('div');
  root.className = 'ansflow-widget';
  const header = new Header(
    {
      cancel: () => void act(() => transport.cancel(state.executionId)),
      rerun: failedOnly => void rerun(failedOnly),
      select: id => select(id, true),
      switchRun: id => switchTo(id)
    },
    !embedded
  );
  const body = document.createElement('div');
  body.className = 'af-body';
  const stepsPane = new StepsPane(
    ui,
    id => select(id),
    () => markSteps(),
    (id, offset) => goTo(id, offset)
  );
  const annotationIndex = new AnnotationIndex(() => state.annotations);
  const groups = new GroupState(
    () => state.groups,
    () => state.groupsVersion
  );
  const history = new LogHistory({
    logs: state.logs,
    executionId: () => state.executionId,
    paged: () => transport.mode === 'server',
    lines: (id, query) => transport.lines(id, query),
    apply: applyPage,
    changed: requestRender
  });
  const logPanel = new LogPanel({
    history,
    permalink: (stepId, offset) =>
      transport.mode === 'server' && state.executionId
        ? permalinkUrl(str(model.get('base_url')) || '/', { executionId: state.executionId, stepId, offset })
        : null,
    logs: state.logs,
    steps: () => state.order.map(id => [id, stepLabel(state.steps.get(id) ?? { step_id: id })]),
    label: id => stepLabel(state.steps.get(id) ?? { step_id: id }, 36),
    emptyText: id => emptyText(state, id),
    complete: () => finished() && (transport.mode === 'embedded' || historyDone === state.executionId),
    fetchLog: id => (transport.mode === 'server' && state.executionId ? downloadText(state.executionId, id) : null),
    fileName: id => {
      const pipeline = (state.execution.pipeline_name || 'pipeline').replace(/[^\w.-]+/g, '_');
      const step = id === null ? 'all-steps' : id.replace(/[^\w.=-]+/g, '_');
      return `${pipeline}-${state.executionId.slice(0, 8)}-${step}.log`;
    },
    requestRender,
    groups,
    annotationAt: (id, offset) => annotationIndex.at(id, offset)
  });
  // Above the log: the selected step's cell progress and job steps, then its annotations.
  const strip = new StepStrip((id, offset) => goTo(id, offset));
  const notes = new AnnotationList((id, offset) => goTo(id, offset));
  logPanel.node.insertBefore(notes.node, logPanel.node.children[1] ?? null);
  logPanel.node.insertBefore(strip.node, notes.node);
  const split = new Splitter(stepsPane.node, `ansflow.split.${options.layoutKey ?? 'notebook'}`);
  body.append(stepsPane.node, split.node, logPanel.node);
  root.append(header.node, header.message, body);
  el.replaceChildren(root);

  // Live events go through the feed: a frame of many thousands of lines is applied over
  // several tasks, so the page keeps drawing frames while a step writes at full speed.
  const feed = new EventFeed(onEvent);
  const transport: Transport = embedded
    ? new KernelTransport(model, { onEvents, onState: setConn, since: () => state.seq, finished })
    : new ServerTransport(model, { onEvents, onState: setConn, since: () => state.seq, finished });
  // Outputs, artifacts, summary and cache line of the selected step, under its log.
  // Opening the run a cache hit came from needs the server (an embedded kernel follows its own runs).
  const openRun = transport.mode === 'server' ? (id: string) => model.set('execution_id', id) : null;
  const stepData = new StepData(transport.data, openRun);
  logPanel.node.append(stepData.node);

  function finished(): boolean {
    return FINISHED_EXECUTION.has(state.execution.status ?? '');
  }

  function markSteps(): void {
    state.dirty.steps = true;
    requestRender();
  }

  /** Show a step's log (a second click on the selected step shows all steps again). */
  function select(id: string, fromHeader = false): void {
    ui.userSelected = true;
    if (fromHeader) {
      logPanel.reveal(id);
    } else {
      logPanel.show(logPanel.selected === id ? null : id);
    }
    markSteps();
  }

  /** Open a step's log at one of its lines (an annotation, a job step). */
  function goTo(id: string, offset: number): void {
    ui.userSelected = true;
    logPanel.goTo(id, offset);
    markSteps();
  }

  function requestRender(): void {
    if (!frame) {
      frame = requestAnimationFrame(render);
    }
  }

  /** Failure triage: when a run ends failed, open its first failed step at its first error. */
  function triage(): void {
    if (ui.revealed === state.executionId || ui.userSelected || state.execution.status !== 'failed') {
      return;
    }
    const failed = state.order.find(id => {
      const step = state.steps.get(id);
      return step !== undefined && categoryOf(step) === 'failed';
    });
    if (failed) {
      ui.revealed = state.executionId;
      logPanel.reveal(failed);
      state.dirty.steps = true;
    }
  }

  let reported = '';
  function render(): void {
    frame = 0;
    const now = Date.now() / 1000;
    triage();
    if (options.onFinished && finished() && reported !== state.executionId && state.order.length > 0) {
      reported = state.executionId;
      options.onFinished(summaryBundle(state));
    }
    if (state.dirty.header) {
      state.dirty.header = false;
      header.update(state, ui, now);
    }
    if (state.dirty.steps) {
      state.dirty.steps = false;
      stepsPane.render(state, logPanel.selected, now);
    }
    state.dirty.logs = false;
    logPanel.render();
    const selected = logPanel.selected;
    const running =
      selected === null
        ? state.order.map(id => state.steps.get(id)).filter((s): s is StepInfo => s?.status === 'running' && !!s.progress)
        : [];
    strip.render(
      selected === null ? undefined : state.steps.get(selected),
      (selected !== null && state.groups.get(selected)) || [],
      now,
      running
    );
    notes.render(state.annotations, selected, id => stepLabel(state.steps.get(id) ?? { step_id: id }, 24));
    stepData.render(state.executionId, selected === null ? undefined : state.steps.get(selected));
  }

  function onEvents(events: Envelope[]): void {
    feed.push(events);
  }

  function onEvent(event: Envelope): void {
    applyEvents(state, event);
    // The first snapshot tells how many lines each step already has: fetch that history once.
    if (transport.mode === 'server' && backfilled !== state.executionId && event.type === 'snapshot') {
      backfilled = state.executionId;
      void backfill(state.executionId);
    }
    requestRender();
  }

  /** Put a page of one step's stored lines into the state. */
  function applyPage(id: string, stepId: string, page: LogPage, from: number): void {
    if (id !== state.executionId) {
      return;
    }
    const chunk = toChunk(page, from);
    applyEvents(state, {
      type: 'log_update',
      seq: null,
      execution_id: id,
      data: { step_id: stepId, offset: chunk.offset, lines: chunk.lines, ts: chunk.ts, stream: chunk.streams }
    });
    requestRender();
  }

  /**
   * Fetch the tail of each step's history that happened before we connected: a small
   * page first (the first rows show at once), then the rest of HISTORY_TAIL. Earlier
   * lines come on demand (scrolling to the top, a search hit, a permalink).
   */
  async function backfill(id: string): Promise<void> {
    const expected = new Map(state.order.map(stepId => [stepId, state.steps.get(stepId)?.log_lines ?? 0]));
    const fetchTail = async (stepId: string, size: number): Promise<void> => {
      const held = state.logs.steps.get(stepId);
      const first = held && held.next >= 0 ? held.first : (expected.get(stepId) ?? 0);
      const from = Math.max(0, (expected.get(stepId) ?? first) - size);
      if (first <= from || id !== state.executionId) {
        return;
      }
      try {
        const page = await transport.lines(id, { step: stepId, offset: from, limit: first - from });
        if (page) applyPage(id, stepId, page, from);
      } catch (err) {
        console.warn('ansflow: log history', err);
      }
    };
    // The small pages of every step at once (first rows), then the rest step by step in
    // pages of TAIL_PAGE: one 19,000-line page cost an 80 ms frame while the user scrolled.
    await Promise.all([...state.order].map(stepId => fetchTail(stepId, FIRST_TAIL)));
    for (const stepId of [...state.order]) {
      for (let size = FIRST_TAIL + TAIL_PAGE; size - TAIL_PAGE < HISTORY_TAIL; size += TAIL_PAGE) {
        await fetchTail(stepId, Math.min(size, HISTORY_TAIL));
      }
    }
    // History is in: the failure triage can now find the first error.
    if (id === state.executionId) historyDone = id;
    state.dirty.logs = true;
    requestRender();
  }

  /** The whole stored log as text: prefixed by step for all steps, ANSI stripped. */
  async function downloadText(id: string, stepId: string | null): Promise<string> {
    const parts: string[] = [];
    let offset = 0;
    for (;;) {
      const page = await transport.lines(id, { step: stepId ?? undefined, offset, limit: DOWNLOAD_PAGE });
      if (!page) break;
      for (const line of page.lines) {
        parts.push(`${stepId === null ? `[${line.step_id}] ` : ''}${stripAnsi(line.line)}\n`);
      }
      if (page.lines.length < DOWNLOAD_PAGE || page.next_offset === null) break;
      offset = page.next_offset;
    }
    return parts.join('');
  }

  function setConn(next: ConnectionState, detail = ''): void {
    ui.conn = next;
    ui.connDetail = detail;
    state.dirty.header = true;
    requestRender();
  }

  async function act(work: () => Promise<void>): Promise<void> {
    ui.busy = true;
    ui.notice = '';
    state.dirty.header = true;
    requestRender();
    try {
      await work();
    } catch (err) {
      ui.notice = err instanceof Error ? err.message : String(err);
    } finally {
      ui.busy = false;
      state.dirty.header = true;
      requestRender();
    }
  }

  async function rerun(failedOnly: boolean): Promise<void> {
    await act(async () => {
      const newId = await transport.rerun(state.executionId, failedOnly);
      switchTo(newId);
      model.set('execution_id', newId);
      model.save_changes();
    });
  }

  function remember(id: string): void {
    if (id && !ui.runs.includes(id)) {
      ui.runs.push(id);
      ui.runs.splice(0, Math.max(0, ui.runs.length - MAX_RUNS));
      options.onRuns?.([...ui.runs]);
    }
  }

  function switchTo(id: string): void {
    if (!id || id === state.executionId) {
      return;
    }
    remember(id);
    feed.clear(); // the old execution's events not applied yet
    resetState(state, id);
    groups.clear();
    seed();
    backfilled = '';
    historyDone = '';
    history.reset();
    ui.userSelected = false;
    logPanel.show(null);
    transport.follow(id);
    requestRender();
  }

  for (const id of options.runs ?? []) {
    if (typeof id === 'string' && id && !ui.runs.includes(id)) ui.runs.push(id);
  }
  remember(state.executionId);
  const onIdChange = (): void => switchTo(str(model.get('execution_id')));
  model.on('change:execution_id', onIdChange);
  // A permalink: `focus` = {step_id, offset} opens that step at that line, highlighted.
  const onFocus = (): void => {
    const focus = model.get('focus') as { step_id?: unknown; offset?: unknown } | null | undefined;
    if (focus && typeof focus.step_id === 'string' && typeof focus.offset === 'number') {
      ui.userSelected = true;
      logPanel.goTo(focus.step_id, focus.offset);
      markSteps();
    }
  };
  model.on('change:focus', onFocus);
  onFocus();
  transport.follow(state.executionId);

  // Elapsed times tick while something runs; nothing else needs a timer.
  const ticker = setInterval(() => {
    if (!finished()) {
      state.dirty.header = state.dirty.steps = true;
      requestRender();
    }
  }, 1000);
  requestRender();

  return () => {
    clearInterval(ticker);
    stepData.release();
    if (frame) {
      cancelAnimationFrame(frame);
    }
    transport.dispose();
    feed.dispose();
    model.off('change:execution_id', onIdChange);
    model.off('change:focus', onFocus);
  };
}
