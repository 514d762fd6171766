/**
 * The view's UI state, one object beside the execution reducer's state: everything the
 * user chose or the connection reported, nothing derived from events.
 */
import type { ConnectionState } from './transport';

export interface UiState {
  tab: 'graph' | 'steps';
  conn: ConnectionState;
  connDetail: string;
  /** An action's error, shown under the header until the next action. */
  notice: string;
  /** An action (cancel, re-run) is in flight. */
  busy: boolean;
  /** Executions shown in this view, oldest first (the runs selector). */
  runs: string[];
  /** The execution the failure triage already opened (it opens once per execution). */
  revealed: string;
  /** The user picked a step themselves: never move their selection. */
  userSelected: boolean;
}

/** The UI state of a fresh view. */
export function createUi(embedded: boolean): UiState {
  return {
    tab: 'graph',
    conn: embedded ? 'embedded' : 'connecting',
    connDetail: '',
    notice: '',
    busy: false,
    runs: [],
    revealed: '',
    userSelected: false
  };
}

/** The run ids a saved output lists (oldest first); [] when it lists none. */
export function runsOf(data: unknown): string[] {
  const runs = data && typeof data === 'object' ? (data as { runs?: unknown }).runs : undefined;
  return Array.isArray(runs) ? runs.filter((r): r is string => typeof r === 'string' && r.length > 0) : [];
}
