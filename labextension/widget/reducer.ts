/**
 * One reducer for both transports (server WebSocket and embedded kernel messages).
 * It has no I/O; it mutates the state in place (copying a million log lines per event
 * is not an option) and raises dirty flags that the render loop consumes.
 */
import { LogStore, DEFAULT_MAX_LINES } from './logs';
import type { Envelope, ExecutionInfo, LogUpdate, StepInfo } from './types';

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
  markAll(state);
}

function markAll(state: ViewState): void {
  state.dirty.header = state.dirty.steps = state.dirty.logs = true;
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
      state.logs.add(data.step_id, Number(data.offset) || 0, data.lines, data.ts, event.ts ?? Date.now() / 1000);
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
      for (const step of data.steps ?? []) {
        if (step && typeof step.step_id === 'string') {
          upsertStep(state, step);
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
        upsertStep(state, data);
        state.dirty.steps = true;
        state.dirty.header = true;
      }
      break;
    }
    default:
      break;
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

/** Steps done / total, from the execution fields when present, else counted. */
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
