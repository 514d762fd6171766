/**
 * One reducer for both transports (server WebSocket and embedded kernel messages).
 * It has no I/O; it mutates the state in place (copying a million log lines per event
 * is not an option) and raises dirty flags that the render loop consumes.
 */
import { LogStore, DEFAULT_MAX_LINES } from './logs';
import { formatClock, formatLimit } from './format';
import { exitWords } from './status';
import {
  toSeconds,
  type Annotation,
  type Attempt,
  type EarlierAttempt,
  type Envelope,
  type ExecutionInfo,
  type LogGroup,
  type LogUpdate,
  type StepInfo
} from './types';

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
  /** Per step, its log groups (`::group::`, notebook cells, workflow job steps) by index. */
  groups: Map<string, LogGroup[]>;
  /** Bumped when any group changes, so the log layout knows to rebuild. */
  groupsVersion: number;
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
    groups: new Map(),
    groupsVersion: 0,
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
  state.groups.clear();
  state.groupsVersion++;
  markAll(state);
}

function markAll(state: ViewState): void {
  state.dirty.header = state.dirty.steps = state.dirty.logs = true;
}

/**
 * Retries. The engine announces a failed attempt that will be retried (`retry_in`, with
 * the failed attempt's exit code): the separator says so at once. A running update with a
 * higher attempt starts the retry: it notes when the new attempt began (servers that do not
 * announce get a separator then).
 */
function noteAttempt(state: ViewState, data: StepInfo, ts: number): void {
  const prev = state.steps.get(data.step_id);
  const before = prev?.attempt ?? 0;
  if (data.status !== 'running' || typeof data.attempt !== 'number') {
    return;
  }
  const announced = typeof data.retry_in === 'number';
  if (!announced && (data.attempt <= before || before < 1)) {
    return;
  }
  const failed = announced ? data.attempt : before;
  let list = state.attempts.get(data.step_id);
  if (!list) {
    list = [{ attempt: failed, start: toSeconds(prev?.started_at ?? data.started_at), end: null }];
    state.attempts.set(data.step_id, list);
  }
  const last = list[list.length - 1];
  if (!announced && last.attempt === data.attempt) {
    last.start = ts; // announced before: the retry starts now
    return;
  }
  last.end = ts;
  const code = announced ? data.exit_code : prev?.exit_code;
  const exit = typeof code === 'number' ? ` (${exitWords(code)})` : '';
  const next = announced ? data.attempt + 1 : data.attempt;
  list.push({ attempt: next, start: announced ? null : ts, end: null });
  const text = announced
    ? `── attempt ${failed} failed${exit}, retrying in ${formatLimit(Math.round((data.retry_in ?? 0) * 10) / 10)} ──`
    : `── attempt ${failed} failed${exit}; attempt ${next} started at ${formatClock(ts)} ──`;
  state.logs.note(data.step_id, text, ts);
  state.dirty.logs = true;
}

/**
 * A stored run's retries (the snapshot lists the attempts a retry replaced): one bar per
 * attempt, and a separator where each next attempt's lines begin, placed when those lines
 * load. Retries seen live keep what the live updates said.
 */
function restoreAttempts(state: ViewState, step: StepInfo, earlier: readonly EarlierAttempt[]): void {
  const list: Attempt[] = [];
  let start = toSeconds(step.started_at);
  earlier.forEach((a, i) => {
    const end = toSeconds(a.finished_at);
    list.push({ attempt: a.attempt, start, end });
    const exit = typeof a.exit_code === 'number' ? ` (${exitWords(a.exit_code)})` : '';
    const next = earlier[i + 1]?.attempt ?? step.attempt ?? a.attempt + 1;
    const when = end === null ? '' : ` at ${formatClock(end)}`;
    state.logs.mark(step.step_id, a.log_lines, `── attempt ${a.attempt} failed${exit}${when}; attempt ${next} follows ──`);
    start = end;
  });
  list.push({ attempt: step.attempt ?? list.length + 1, start, end: null });
  state.attempts.set(step.step_id, list);
}

/** Add or replace a group (by index); groups arrive mostly in order, so look from the end. */
function upsertGroup(state: ViewState, group: LogGroup): void {
  let list = state.groups.get(group.step_id);
  if (!list) {
    list = [];
    state.groups.set(group.step_id, list);
  }
  let i = list.length - 1;
  while (i >= 0 && list[i].index > group.index) i--;
  if (i >= 0 && list[i].index === group.index) {
    list[i] = { ...group };
  } else {
    list.splice(i + 1, 0, { ...group });
  }
  state.groupsVersion++;
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
    if (data && typeof data.step_id === 'string' && (data.packed || Array.isArray(data.lines))) {
      const offset = Number(data.offset) || 0;
      const fallbackTs = event.ts ?? Date.now() / 1000;
      if (data.packed) state.logs.addPacked(data.step_id, offset, data.packed, fallbackTs, data.stream);
      else state.logs.add(data.step_id, offset, data.lines, data.ts, fallbackTs, data.stream);
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
      state.groups.clear();
      state.groupsVersion++;
      for (const step of data.steps ?? []) {
        if (step && typeof step.step_id === 'string') {
          const {
            groups,
            annotations: notes,
            attempts: earlier,
            ...fields
          } = step as StepInfo & { groups?: LogGroup[]; annotations?: Annotation[]; attempts?: EarlierAttempt[] };
          upsertStep(state, fields);
          if (Array.isArray(earlier) && earlier.length > 0 && !state.attempts.has(step.step_id)) {
            restoreAttempts(state, fields, earlier);
          }
          if (Array.isArray(notes)) {
            state.annotations.push(...notes.map(a => ({ ...a, step_id: step.step_id })));
          }
          for (const group of Array.isArray(groups) ? groups : []) {
            upsertGroup(state, { ...group, step_id: step.step_id });
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
        state.dirty.steps = true;
      }
      break;
    }
    case 'group_update': {
      const data = event.data as unknown as LogGroup;
      if (data && typeof data.step_id === 'string' && typeof data.index === 'number') {
        upsertGroup(state, data);
        state.dirty.steps = true;
        state.dirty.logs = true;
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
