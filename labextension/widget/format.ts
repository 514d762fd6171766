/** Small text formatters shared by the header, the step rows and the log panel. */

/** Human duration: 0.4s, 12s, 2m 05s, 1h 02m; '' when unknown. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) {
    return '';
  }
  if (seconds < 10) {
    return `${seconds.toFixed(1)}s`;
  }
  const s = Math.floor(seconds);
  if (s < 60) {
    return `${s}s`;
  }
  const pad = (n: number): string => String(n).padStart(2, '0');
  if (s < 3600) {
    return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  }
  return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
}

/** Wall clock time of an epoch-seconds timestamp, e.g. 14:03:07.215. */
export function formatClock(ts: number): string {
  if (!Number.isFinite(ts)) {
    return '';
  }
  const d = new Date(ts * 1000);
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

export const STATUS_ICONS: Record<string, string> = {
  pending: '○',
  running: '◐',
  success: '✓',
  failed: '✕',
  cancelled: '⊘',
  skipped: '↷',
  interrupted: '!'
};
