/**
 * One reducer for both transports (server WebSocket and embedded kernel messages).
 * It has no I/O; it mutates the state in place (copying a million log lines per event
 * is not an option) and raises dirty flags that the render loop consumes.
 */
import { LogStore, DEFAULT_MAX_LINES } from './logs';
import { formatClock } from './format';
import { exitWords } from './status';
import { toSeconds, type Annotation, type Attempt, type Envelope, type ExecutionInfo, type LogUpdate, type StepInfo } from './types';

export interface Dirty {
  header: boolean;
  steps: boolean;
  logs: boolean;
}

export interface ViewState {
  executionId: string;
  /** Last seq applied (the `since` to resume from). */
  seq: number;
  execution: ExecutionInfo;
  steps: Map<string, StepInfo>;
  /** Step ids in the order the server listed them (file order). */
  order: string[];
  logs: LogStore;
  /** Per retried step, its attempts (known only for retries seen live). */
  attempts: Map<string, Attempt[]>;
  /** `annotation` events (errors, warnings, notices linked to a log line). */
  annotations: Annotation[];
  dirty: Dirty;
}

/** An empty view state for one execution; `maxLines` bounds the log memory. */
export function createState(executionId = '', maxLines = DEFAULT_MAX_LINES): ViewState {
  return {
    executionId,
    seq: 0,
    execution: executionId ? { execution_id: executionId } : {},
    steps: new Map(),
    order: [],
    logs: new LogStore(maxLines),
    attempts: new Map(),
    annotations: [],
    dirty: { header: true, steps: true, logs: true }
  };
}

/** Forget everything (a re-run switched the view to another execution). */
export function resetState(state: ViewState, executionId: string): void {
  state.executionId = executionId;
  state.seq = 0;
  state.execution = executionId ? { execution_id: executionId } : {};
  state.steps.clear();
  state.order.length = 0;
  state.logs.clear();
  state.attempts.clear();
  state.annotations.length = 0;
  markAll(state);
}

function markAll(state: ViewState): void {
  state.dirty.header = state.dirty.steps = state.dirty.logs = true;
}

/**
 * A running update with a higher attempt starts a retry: close the previous attempt
 * at this moment and note where the new attempt's lines begin, with a separator line.
 */
function noteAttempt(state: ViewState, data: StepInfo, ts: number): void {
  const prev = state.steps.get(data.step_id);
  const before = prev?.attempt ?? 0;
  if (data.status !== 'running' || typeof data.attempt !== 'number' || data.attempt <= before || before < 1) {
    return;
  }
  let list = state.attempts.get(data.step_id);
  if (!list) {
    list = [{ attempt: before, start: toSeconds(prev?.started_at), end: null, offset: 0 }];
    state.attempts.set(data.step_id, list);
  }
  const last = list[list.length - 1];
  last.end = ts;
  const exit = typeof prev?.exit_code === 'number' ? ` (${exitWords(prev.exit_code)})` : '';
  const log = state.logs.step(data.step_id);
  list.push({ attempt: data.attempt, start: ts, end: null, offset: log.base + log.lines.length + 1 });
  state.logs.note(data.step_id, `── attempt ${before} failed${exit}; attempt ${data.attempt} started at ${formatClock(ts)} ──`, ts);
  state.dirty.logs = true;
}

function upsertStep(state: ViewState, data: StepInfo): void {
  const existing = state.steps.get(data.step_id);
  if (existing) {
    Object.assign(existing, data);
  } else {
    state.steps.set(data.step_id, { ...data });
    state.order.push(data.step_id);
  }
}

/** Apply one envelope (snapshot, execution/step/log update; heartbeats are ignored). */
export function applyEvent(state: ViewState, event: Envelope): ViewState {
  if (!event || typeof event !== 'object' || event.type === 'heartbeat') {
    return state;
  }
  if (event.execution_id && state.executionId && event.execution_id !== state.executionId) {
    if (event.type !== 'snapshot') {
      return state; // a late event of the execution we left
    }
    resetState(state, event.execution_id);
  }
  if (!state.executionId && event.execution_id) {
    state.executionId = event.execution_id;
  }
  const seq = typeof event.seq === 'number' ? event.seq : null;
  if (event.type === 'log_update') {
    // Lines are deduplicated by offset, so a replay or a back-fill is safe whatever its seq.
    const data = event.data as unknown as LogUpdate;
    if (data && typeof data.step_id === 'string' && Array.isArray(data.lines)) {
      state.logs.add(data.step_id, Number(data.offset) || 0, data.lines, data.ts, event.ts ?? Date.now() / 1000, data.stream);
      if (!state.steps.has(data.step_id)) {
        upsertStep(state, { step_id: data.step_id });
        state.dirty.steps = true;
      }
      state.dirty.logs = true;
    }
    if (seq !== null && seq > state.seq) {
      state.seq = seq;
    }
    return state;
  }
  if (seq !== null && seq <= state.seq) {
    return state;
  }
  if (seq !== null) {
    state.seq = seq;
  }
  switch (event.type) {
    case 'snapshot': {
      const data = event.data as { execution?: ExecutionInfo; steps?: StepInfo[] };
      state.execution = { ...(data.execution ?? {}) };
      if (!state.executionId && state.execution.execution_id) {
        state.executionId = state.execution.execution_id;
      }
      state.steps.clear();
      state.order.length = 0;
      state.annotations.length = 0;
      for (const step of data.steps ?? []) {
        if (step && typeof step.step_id === 'string') {
          upsertStep(state, step);
          const notes = (step as { annotations?: Annotation[] }).annotations;
          if (Array.isArray(notes)) {
            state.annotations.push(...notes.map(a => ({ ...a, step_id: step.step_id })));
          }
        }
      }
      markAll(state);
      break;
    }
    case 'execution_update':
      Object.assign(state.execution, event.data as ExecutionInfo);
      state.dirty.header = true;
      state.dirty.steps = true;
      break;
    case 'step_update': {
      const data = event.data as unknown as StepInfo;
      if (data && typeof data.step_id === 'string') {
        noteAttempt(state, data, event.ts ?? Date.now() / 1000);
        upsertStep(state, data);
        state.dirty.steps = true;
        state.dirty.header = true;
      }
      break;
    }
    case 'annotation': {
      const data = event.data as unknown as Annotation;
      if (data && typeof data.step_id === 'string' && typeof data.message === 'string') {
        state.annotations.push(data);
        state.dirty.header = true;
      }
      break;
    }
    default:
      break; // event types this view does not know (yet) are ignored
  }
  return state;
}

/** Apply a batch; a WebSocket frame may carry one envelope or a list of them. */
export function applyEvents(state: ViewState, events: Envelope | Envelope[]): ViewState {
  for (const event of Array.isArray(events) ? events : [events]) {
    applyEvent(state, event);
  }
  return state;
}

/** Steps finished / total (finished is not "passed": see status.countCategories). */
export function progress(state: ViewState): { done: number; total: number } {
  const total = state.execution.steps_total ?? state.order.length;
  let done = state.execution.steps_done;
  if (done === undefined) {
    done = 0;
    for (const step of state.steps.values()) {
      if (step.status && !['pending', 'running'].includes(step.status)) {
        done++;
      }
    }
  }
  return { done, total: Math.max(total, state.order.length) };
}
