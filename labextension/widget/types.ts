/** The envelope of SPEC §3 and the fields the view reads from it. */

export type EventType = 'snapshot' | 'execution_update' | 'step_update' | 'log_update' | 'heartbeat';

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
}

export interface LogUpdate {
  step_id: string;
  stream?: 'stdout' | 'stderr' | string;
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
