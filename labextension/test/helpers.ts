/** Envelope builders for the tests. */
import type { Envelope } from '../widget/types';

export const EXEC = 'ex-1';

export function env(seq: number | null, type: string, data: Record<string, unknown>, executionId = EXEC): Envelope {
  return { v: 1, seq, type, execution_id: executionId, ts: 1000 + (seq ?? 0), data };
}

export function snapshot(seq: number, steps: Array<Record<string, unknown>>, execution: Record<string, unknown> = {}): Envelope {
  return env(seq, 'snapshot', {
    execution: { execution_id: EXEC, pipeline_name: 'demo', status: 'running', steps_total: steps.length, steps_done: 0, ...execution },
    steps
  });
}

export function logs(seq: number | null, stepId: string, offset: number, lines: string[]): Envelope {
  return env(seq, 'log_update', { step_id: stepId, stream: 'stdout', offset, lines, ts: lines.map((_, i) => 2000 + offset + i) });
}
