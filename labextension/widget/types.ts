/** The event envelope and the fields the view reads from it. */
import type { PackedLines } from './packed';

export type EventType = 'snapshot' | 'execution_update' | 'step_update' | 'log_update' | 'group_update' | 'annotation' | 'heartbeat';

export interface Envelope {
  v?: number;
  seq: number | null;
  type: EventType | string;
  execution_id: string;
  ts?: number;
  data: Record<string, unknown>;
}

/** A timestamp as the server sends it: epoch seconds, or an ISO string from some stores. */
export type Timestamp = number | string | null | undefined;

export interface ExecutionInfo {
  execution_id?: string;
  pipeline_name?: string;
  status?: string;
  message?: string | null;
  started_at?: Timestamp;
  finished_at?: Timestamp;
  duration?: number | null;
  steps_total?: number;
  steps_done?: number;
  /** Steps per category (success, failed, allowed-failure, skipped, …), when the server counts. */
  counts?: Record<string, number>;
}

export interface StepInfo {
  step_id: string;
  name?: string;
  status?: string;
  attempt?: number;
  exit_code?: number | null;
  reason?: string | null;
  started_at?: Timestamp;
  finished_at?: Timestamp;
  duration?: number | null;
  /** Optional: ids this step waits for; the DAG draws edges only when the server sends them. */
  needs?: string[];
  log_lines?: number;
  continue_on_error?: boolean;
  /** The reason in words, when the server says it. */
  message?: string | null;
  reused_from?: string | null;
  cached_from?: string | null;
  template_id?: string;
  matrix?: Record<string, string>;
  /** The step's time limit in seconds, when known. */
  timeout?: number | null;
  /** A notebook step's cells: code cells done of total, and the running cell's first line. */
  progress?: Progress | null;
  /** Sent once when an attempt failed and another follows: seconds until it starts. */
  retry_in?: number | null;
}

export interface Progress {
  done: number;
  total: number;
  label?: string | null;
}

/** A `group_update`: a collapsible range of a step's log lines. */
export interface LogGroup {
  step_id: string;
  index: number;
  kind: 'group' | 'cell' | 'job-step' | string;
  title: string;
  status: string;
  reason?: string | null;
  /** Step line number of the group's first line. */
  start_offset: number;
  /** Step line number after its last line; null while it is open. */
  end_offset: number | null;
  started_at?: Timestamp;
  finished_at?: Timestamp;
}

/** One attempt of a retried step: when it started and ended (one timeline bar each). */
export interface Attempt {
  attempt: number;
  start: number | null;
  end: number | null;
}

/** An attempt a retry replaced, as a stored run's snapshot lists it. */
export interface EarlierAttempt {
  attempt: number;
  exit_code: number | null;
  /** When it failed (the retry's wait follows). */
  finished_at: number | null;
  /** The step's lines when it ended: the next attempt's begin at this line number. */
  log_lines: number;
}

/** An `annotation` event: a message linked to one line of a step's log. */
export interface Annotation {
  step_id: string;
  offset: number;
  level: 'error' | 'warning' | 'notice' | string;
  message: string;
  file?: string | null;
  line?: number | null;
}

export interface LogUpdate {
  step_id: string;
  /** Set instead of `lines`/`ts` by the frame parser (packed.ts) for a big batch of one stream. */
  packed?: PackedLines;
  /** One stream for the batch, or one per line (a history page mixes both). */
  stream?: 'stdout' | 'stderr' | string | string[];
  offset: number;
  lines: string[];
  ts?: number[];
}

export const FINISHED_EXECUTION = new Set(['success', 'failed', 'cancelled', 'interrupted']);
export const FINISHED_STEP = new Set(['success', 'failed', 'cancelled', 'skipped']);

/** Epoch seconds from a number or an ISO string; null when absent or unparsable. */
export function toSeconds(value: Timestamp): number | null {
  if (value === null || value === undefined || value === '') {
    return null;
  }
  if (typeof value === 'number') {
    return Number.isFinite(value) ? value : null;
  }
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms / 1000;
}
