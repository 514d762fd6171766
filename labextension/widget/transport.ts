/**
 * Server transport: the browser follows the server's WebSocket itself (not through the
 * kernel's rate-limited IOPub), resumes with `since` after a drop, and calls the REST API.
 */
import { FrameParser } from './packed';
import { type Envelope, FINISHED_EXECUTION } from './types';

export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'closed' | 'embedded';

/** The Jupyter token from the page config, when the page has one (else cookies are used). */
export function pageToken(): string {
  try {
    const el = document.getElementById('jupyter-config-data');
    const token = el?.textContent ? (JSON.parse(el.textContent) as { token?: unknown }).token : '';
    return typeof token === 'string' ? token : '';
  } catch {
    return '';
  }
}

/** Jupyter's `_xsrf` cookie, sent back as X-XSRFToken on POSTs. */
export function xsrfCookie(): string {
  const match = document.cookie.match('\\b_xsrf=([^;]*)\\b');
  return match ? decodeURIComponent(match[1]) : '';
}

/** `base` may be a path ("/user/x/") or a full http(s) URL; the result ends with "/". */
export function httpBase(base: string): string {
  const b = base || '/';
  const abs = /^https?:\/\//.test(b) ? b : `${location.protocol}//${location.host}${b.startsWith('/') ? '' : '/'}${b}`;
  return abs.endsWith('/') ? abs : `${abs}/`;
}

/** `httpBase` with ws:// or wss://. */
export function wsBase(base: string): string {
  return httpBase(base).replace(/^http/, 'ws');
}

/** Append the defined, non-empty params as a query string. */
export function withQuery(url: string, params: Record<string, string | number | undefined>): string {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  if (parts.length === 0) {
    return url;
  }
  return url + (url.includes('?') ? '&' : '?') + parts.join('&');
}

/** JSON headers with the XSRF token and, when the page has one, the Jupyter token. */
export function authHeaders(token = pageToken()): Record<string, string> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  const xsrf = xsrfCookie();
  if (xsrf) {
    headers['X-XSRFToken'] = xsrf;
  }
  if (token) {
    headers.Authorization = `token ${token}`;
  }
  return headers;
}

/** POST JSON to `{base}ansflow/api/{path}`; throws with the server's message on failure. */
export async function apiPost(base: string, path: string, body: unknown = {}): Promise<Record<string, unknown>> {
  const response = await fetch(`${httpBase(base)}ansflow/api/${path}`, {
    method: 'POST',
    headers: authHeaders(),
    credentials: 'same-origin',
    body: JSON.stringify(body)
  });
  const text = await response.text();
  const json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  if (!response.ok) {
    throw new Error(typeof json.message === 'string' ? json.message : `HTTP ${response.status}`);
  }
  return json;
}

/** Delay before reconnect attempt `n` (0-based): 0.5 s doubling up to 10 s. */
export function backoffDelay(attempt: number): number {
  return Math.min(10_000, 500 * 2 ** Math.min(attempt, 10));
}

/** Frames carry one envelope or a JSON list of them. */
export function parseFrame(data: string): Envelope[] {
  const parsed = JSON.parse(data) as Envelope | Envelope[];
  return Array.isArray(parsed) ? parsed : [parsed];
}

export interface SocketOptions {
  /** Builds the URL for a (re)connect; `since` is the last seq applied, 0 on first connect. */
  url: (since: number) => string;
  since: () => number;
  onEvents: (events: Envelope[]) => void;
  onState: (state: ConnectionState, detail?: string) => void;
  /** True when the stream is over (execution finished), so a close is not retried. */
  done?: () => boolean;
}

export const CLOSE_UNKNOWN = 4004;
export const CLOSE_LAGGED = 4008;

/** A WebSocket that reconnects with exponential backoff and resumes from `since`. */
export class ReconnectingSocket {
  private ws: WebSocket | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private attempt = 0;
  private disposed = false;
  private readonly parser: FrameParser;
  /** The stream's final execution_update went by (so a close ends it, whatever the view applied yet). */
  private finalSeen = false;

  constructor(private readonly options: SocketOptions) {
    this.parser = new FrameParser(events => {
      if (this.disposed) return;
      this.finalSeen ||= events.some(
        e => e?.type === 'execution_update' && FINISHED_EXECUTION.has(String((e.data as { status?: unknown })?.status))
      );
      this.options.onEvents(events);
    });
    this.open();
  }

  private open(): void {
    if (this.disposed) {
      return;
    }
    this.options.onState(this.attempt === 0 ? 'connecting' : 'reconnecting');
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.options.url(this.options.since()));
    } catch (err) {
      this.options.onState('closed', String(err));
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.options.onState('live');
    };
    ws.onmessage = ev => this.parser.parse(String(ev.data));
    // Frames are parsed off the main thread: decide on a reconnect once the last ones are in.
    ws.onclose = ev => this.parser.whenParsed(() => this.closed(ev.code, ev.reason));
  }

  private closed(code: number, reason: string): void {
    this.ws = null;
    if (this.disposed) {
      return;
    }
    if (code === CLOSE_UNKNOWN) {
      this.options.onState('closed', reason || 'unknown execution');
      return;
    }
    if (this.options.done && (this.finalSeen || this.options.done())) {
      this.options.onState('closed');
      return;
    }
    // A lagged client resumes at once; anything else backs off so a down server is not hammered.
    const delay = code === CLOSE_LAGGED ? 0 : backoffDelay(this.attempt++);
    this.options.onState('reconnecting', code === CLOSE_LAGGED ? 'catching up' : undefined);
    this.timer = setTimeout(() => this.open(), delay);
  }

  dispose(): void {
    this.disposed = true;
    this.parser.dispose();
    if (this.timer !== null) {
      clearTimeout(this.timer);
    }
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.onmessage = null;
      this.ws.close();
      this.ws = null;
    }
  }
}
