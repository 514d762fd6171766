/** Small text formatters shared by the header, the step rows and the log panel. */

/**
 * Human duration, the same words as the CLI and the kernel (ansflow_jupyter/format.py):
 * `0.4s` (one decimal under 9.95 s), `12s`, `2m 05s`, `1h 02m`; '' when unknown.
 */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) {
    return '';
  }
  if (seconds < 9.95) {
    return `${seconds.toFixed(1)}s`;
  }
  const s = Math.max(Math.floor(seconds), 10); // 9.95-9.99 would print as 10.0s: say 10s
  if (s < 60) {
    return `${s}s`;
  }
  const pad = (n: number): string => String(n).padStart(2, '0');
  if (s < 3600) {
    return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  }
  return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
}

/** A configured limit without zero parts: `30s`, `5m`, `1m 30s`, `1h`, `1h 30m`. */
export function formatLimit(seconds: number): string {
  const whole = Math.floor(seconds);
  if (whole !== seconds || whole < 60) {
    return `${seconds}s`;
  }
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const sec = whole % 60;
  return [h ? `${h}h` : '', m ? `${m}m` : '', sec ? `${sec}s` : ''].filter(Boolean).join(' ');
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
