/**
 * What a step's status means to a person: its category (a skipped or cancelled step is
 * not "done", a continue-on-error failure is an allowed failure), the reason in words,
 * and a label that keeps the distinguishing part (matrix values) of long names.
 */
import { formatLimit } from './format';
import type { ViewState } from './reducer';
import { type ExecutionInfo, FINISHED_EXECUTION, type StepInfo } from './types';

/** Display categories, in the order every view lists them (as ansflow_jupyter/format.py). */
export const CATEGORIES = [
  'success',
  'failed',
  'allowed-failure',
  'skipped',
  'cancelled',
  'reused',
  'cached',
  'running',
  'pending'
] as const;
export type Category = (typeof CATEGORIES)[number];

/** Words for a category count ("2 skipped", "1 allowed failure"). */
export const CATEGORY_LABEL: Record<Category, string> = {
  success: 'passed',
  reused: 'reused',
  cached: 'cached',
  'allowed-failure': 'allowed failure',
  failed: 'failed',
  cancelled: 'cancelled',
  skipped: 'skipped',
  running: 'running',
  pending: 'pending'
};

/** The category a step is drawn and counted in. */
export function categoryOf(step: StepInfo): Category {
  const status = step.status ?? 'pending';
  if (status === 'success') {
    if (step.reason === 'reused' || step.reused_from) return 'reused';
    if (step.reason === 'cached' || step.cached_from) return 'cached';
    return 'success';
  }
  if (status === 'failed') {
    return step.continue_on_error || step.reason === 'allowed-failure' ? 'allowed-failure' : 'failed';
  }
  if (status === 'cancelled' || status === 'skipped' || status === 'running') return status;
  return 'pending';
}

/** Steps per category: the server's `counts` when it sends them, else counted here. */
export function countCategories(execution: ExecutionInfo, steps: Iterable<StepInfo>): Record<Category, number> {
  const counts = Object.fromEntries(CATEGORIES.map(c => [c, 0])) as Record<Category, number>;
  for (const step of steps) {
    counts[categoryOf(step)]++;
  }
  const server = execution.counts;
  if (server && typeof server === 'object') {
    for (const c of CATEGORIES) {
      const n = server[c];
      if (typeof n === 'number') counts[c] = n;
    }
  }
  return counts;
}

const SIGNALS: Record<number, string> = { 1: 'SIGHUP', 2: 'SIGINT', 6: 'SIGABRT', 9: 'SIGKILL', 11: 'SIGSEGV', 15: 'SIGTERM' };

/** `exit 1`, or `killed by SIGTERM` for a negative (signal) code. */
export function exitWords(code: number): string {
  if (code < 0) {
    return `killed by ${SIGNALS[-code] ?? `signal ${-code}`}`;
  }
  return `exit ${code}`;
}

// The same sentences as the CLI and the kernel (ansflow_jupyter/format.py).
const REASONS: Record<string, string> = {
  timeout: 'killed: it ran past its timeout',
  cancelled: 'cancelled: the run was cancelled',
  'needs-failed': 'skipped: a step it needs failed',
  'condition-false': 'skipped: its if: condition was false',
  'spawn-error': 'could not be started',
  interrupted: 'interrupted: the process running it stopped',
  reused: 'reused from an earlier run',
  cached: 'cached: its inputs did not change',
  'output-error': 'failed: its outputs could not be read',
  'worker-lost': 'the worker running it was lost',
  'kernel-died': 'the notebook kernel running it died',
  'log-limit': 'stopped: it wrote more log than allowed',
  'tool-missing': 'skipped: a tool it needs is not installed',
  'fail-fast': 'cancelled: another matrix leg failed (fail-fast)',
  'runner-os': 'skipped: it runs on another operating system or CPU architecture',
  'unsupported-action': 'skipped: this action is not supported here',
  'needs-container': 'skipped: it needs a container or services'
};

/** Why the step ended as it did, in words; '' for a plain success or while it runs. */
export function reasonWords(step: StepInfo): string {
  const status = step.status ?? 'pending';
  if (status === 'running' || status === 'pending') {
    return '';
  }
  if (typeof step.message === 'string' && step.message) {
    return step.message;
  }
  const reason = step.reason ?? 'exit';
  const code = typeof step.exit_code === 'number' ? step.exit_code : null;
  const source = step.reused_from || step.cached_from;
  let text: string;
  if (reason === 'exit') {
    text = code === null || (code === 0 && status !== 'failed') ? '' : exitWords(code);
  } else if (reason === 'timeout' && typeof step.timeout === 'number') {
    text = `killed after the ${formatLimit(step.timeout)} timeout`;
  } else if ((reason === 'reused' || reason === 'cached') && source) {
    text = `${reason} from run ${source.slice(0, 12)}`;
  } else {
    text = REASONS[reason] ?? reason;
  }
  if (status === 'failed' && step.continue_on_error) {
    text = text ? `${text}, allowed to fail` : 'allowed to fail';
  }
  return text;
}

/** Split "tests[python=3.11,os=linux]" / "Tests (3.11, linux)" into head and matrix part. */
function splitMatrix(name: string): [string, string] {
  const m = /^(.*?)\s*(\[[^\]]*\]|\([^)]*\))$/.exec(name);
  if (!m?.[1]) {
    return [name, ''];
  }
  let tail = m[2];
  if (tail.startsWith('[')) {
    // Only the values distinguish the legs: `[python=3.11,os=linux]` -> `[3.11, linux]`.
    tail = `[${tail
      .slice(1, -1)
      .split(',')
      .map(kv => kv.slice(kv.indexOf('=') + 1))
      .join(', ')}]`;
  }
  return [m[1], tail];
}

/**
 * A label of at most `max` characters that keeps the matrix values: the head is cut
 * (with an ellipsis), never the part that tells the legs apart.
 */
export function stepLabel(step: Pick<StepInfo, 'step_id' | 'name' | 'matrix'>, max = Infinity): string {
  const name = step.name || step.step_id;
  // A step known to have no matrix keeps its name whole: `Publish (after the tests)` has
  // no values to keep, and cutting its head left `…)`.
  const plain = step.matrix !== undefined && Object.keys(step.matrix).length === 0;
  let [head, tail] = plain ? [name, ''] : splitMatrix(name);
  const values = step.matrix ? Object.values(step.matrix) : [];
  if (!tail && values.length > 0) {
    // A name that says its values (`Tests on 3.11`) repeats them only when it must be cut.
    const words = name.split(/[^\w.-]+/);
    if (name.length <= max && values.every(v => words.includes(String(v)))) return name;
    tail = `[${values.join(', ')}]`;
  }
  const full = tail ? `${head} ${tail}` : head;
  if (full.length <= max) {
    return full;
  }
  if (!tail) {
    return `${head.slice(0, Math.max(1, max - 1)).trimEnd()}…`;
  }
  const room = max - tail.length - 2;
  if (room < 3) {
    // Even the values do not fit: keep their end, where legs usually differ most.
    return `…${tail.slice(tail.length - Math.max(1, max - 1))}`;
  }
  return `${head.slice(0, room)}… ${tail}`;
}

/** Why a view has no log lines, in words. */
export function emptyText(state: ViewState, stepId: string | null): string {
  if (stepId === null) {
    return FINISHED_EXECUTION.has(state.execution.status ?? '') ? 'No step wrote any output.' : 'No log lines yet.';
  }
  const step = state.steps.get(stepId);
  const status = step?.status ?? 'pending';
  const why = step ? reasonWords(step) : '';
  switch (step ? categoryOf(step) : 'pending') {
    case 'reused':
      return `Reused from run ${(typeof step?.reused_from === 'string' ? step.reused_from : '').slice(0, 12) || 'an earlier run'}: it did not run again, so it has no log here.`;
    case 'cached':
      return `${why || 'Cached'}: it did not run again, so it has no log here.`;
    case 'skipped':
      return `${why ? why[0].toUpperCase() + why.slice(1) : 'Skipped'}. It never ran, so it has no log.`;
    case 'cancelled':
      return step?.started_at ? 'Cancelled before it wrote any output.' : 'Cancelled before it started.';
    case 'pending': {
      const needs = step?.needs?.length ? ` (it needs ${step.needs.join(', ')})` : '';
      return `Waiting to start${needs}.`;
    }
    case 'running':
      return 'Running: no output yet.';
    default:
      return status === 'success' ? 'Finished without writing any output.' : `${why || status}: no output.`;
  }
}
