/**
 * The two transports behind one interface: the server's WebSocket + REST API, and the
 * kernel's widget messages (embedded mode). The controller never knows which it has.
 */
import { type LogPage, parseLogPage } from './history';
import { apiPost, authHeaders, type ConnectionState, httpBase, pageToken, ReconnectingSocket, withQuery, wsBase } from './transport';
import { KernelData } from './kerneldata';
import type { Artifact, StepDataApi } from './stepdata';
import type { Envelope } from './types';

/** The slice of the anywidget model API the view uses (the lab panel provides its own). */
export interface ModelLike {
  get(name: string): unknown;
  set(name: string, value: unknown): void;
  save_changes(): void;
  // `any`: anywidget types its callbacks per event name; the view passes several shapes.
  on(event: string, cb: (...args: any[]) => void): void;
  off(event?: string | null, cb?: ((...args: any[]) => void) | null): void;
  send(content: unknown): void;
}

export interface TransportHost {
  onEvents(events: Envelope[]): void;
  onState(state: ConnectionState, detail?: string): void;
  /** Last seq applied (where a reconnect resumes). */
  since(): number;
  /** The execution has ended: a closed socket is not retried. */
  finished(): boolean;
}

export interface Transport {
  readonly mode: 'server' | 'embedded';
  /** Follow one execution (stops following the previous one). */
  follow(executionId: string): void;
  cancel(executionId: string): Promise<void>;
  /** Start a re-run; resolves with the new execution's id. */
  rerun(executionId: string, failedOnly: boolean): Promise<string>;
  /** A page of stored lines (server only; null when the transport has no history API). */
  lines(executionId: string, query: Record<string, string | number | undefined>): Promise<LogPage> | null;
  /** Artifacts and summaries (server only; null when the transport has no REST API). */
  readonly data: StepDataApi | null;
  dispose(): void;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** WebSocket for events, REST for actions and history. */
export class ServerTransport implements Transport {
  readonly mode = 'server';
  private socket: ReconnectingSocket | null = null;

  constructor(
    private readonly model: ModelLike,
    private readonly host: TransportHost
  ) {}

  private base(): string {
    return str(this.model.get('base_url')) || '/';
  }

  private api(executionId: string, tail = ''): string {
    return `${httpBase(this.base())}ansflow/api/executions/${encodeURIComponent(executionId)}${tail}`;
  }

  follow(executionId: string): void {
    this.socket?.dispose();
    this.socket = null;
    if (!executionId) {
      this.host.onState('closed', 'no execution');
      return;
    }
    this.socket = new ReconnectingSocket({
      url: since => {
        const override = str(this.model.get('ws_url'));
        const url = override || `${wsBase(this.base())}ansflow/ws/executions/${encodeURIComponent(executionId)}`;
        return withQuery(url, { since: since > 0 ? since : undefined, token: pageToken() || undefined });
      },
      since: () => this.host.since(),
      onEvents: events => this.host.onEvents(events),
      onState: (state, detail) => this.host.onState(state, detail),
      done: () => this.host.finished()
    });
  }

  async cancel(executionId: string): Promise<void> {
    await apiPost(this.base(), `executions/${encodeURIComponent(executionId)}/cancel`);
  }

  async rerun(executionId: string, failedOnly: boolean): Promise<string> {
    const answer = await apiPost(this.base(), `executions/${encodeURIComponent(executionId)}/rerun`, {
      failed_only: failedOnly
    });
    const id = str(answer.execution_id);
    if (!id) {
      throw new Error('the server did not return the new execution id');
    }
    return id;
  }

  readonly data: StepDataApi = {
    artifacts: async id => {
      const rows = (await (await this.get(this.api(id, '/artifacts'))).json()) as unknown;
      return Array.isArray(rows) ? (rows as Artifact[]) : [];
    },
    summary: async (id, stepId) => {
      const answer = (await (await this.get(withQuery(this.api(id, '/summary'), { step: stepId }))).json()) as {
        summaries?: Array<{ step_id?: string; markdown?: unknown }>;
      };
      return (answer.summaries ?? [])
        .filter(s => s.step_id === stepId)
        .map(s => str(s.markdown))
        .join('\n\n');
    },
    blob: async (url, firstBytes) => {
      // The server sends a path from its root; a full base URL (remote server) gives the origin.
      const absolute = /^https?:\/\//.test(url) ? url : new URL(url, httpBase(this.base())).href;
      const range: Record<string, string> = firstBytes ? { Range: `bytes=0-${firstBytes - 1}` } : {};
      return (await this.get(absolute, range)).blob();
    }
  };

  /** GET with the auth header (never a token in the URL); throws on an HTTP error. */
  private async get(url: string, extra: Record<string, string> = {}): Promise<Response> {
    const response = await fetch(url, { headers: { ...authHeaders(), ...extra }, credentials: 'same-origin' });
    if (!response.ok) {
      throw new Error(`HTTP ${response.status}`);
    }
    return response;
  }

  async lines(executionId: string, query: Record<string, string | number | undefined>): Promise<LogPage> {
    // The token goes in a header, never in a URL a user could copy.
    const response = await fetch(withQuery(this.api(executionId, '/logs'), query), {
      headers: authHeaders(),
      credentials: 'same-origin'
    });
    if (!response.ok) {
      throw new Error(`HTTP ${response.status} reading the log`);
    }
    return parseLogPage(await response.text());
  }

  dispose(): void {
    this.socket?.dispose();
    this.socket = null;
  }
}

/** Events come from the kernel through widget messages; Cancel goes back the same way. */
export class KernelTransport implements Transport {
  readonly mode = 'embedded';
  readonly data: KernelData;
  private readonly onCustom = (msg: { type?: string; events?: Envelope[] }, buffers?: DataView[]): void => {
    if (msg && msg.type === 'events' && Array.isArray(msg.events)) {
      this.host.onEvents(msg.events);
    } else {
      this.data.onMessage(msg, buffers);
    }
  };

  constructor(
    private readonly model: ModelLike,
    private readonly host: TransportHost
  ) {
    this.data = new KernelData(content => model.send(content));
    model.on('msg:custom', this.onCustom);
    host.onState('embedded');
  }

  follow(): void {
    this.model.send({ type: 'hello' }); // the kernel answers with a snapshot: a re-rendered view catches up
  }

  async cancel(): Promise<void> {
    this.model.send({ type: 'cancel' });
  }

  async rerun(): Promise<string> {
    throw new Error('re-run needs the Jupyter server extension');
  }

  lines(): null {
    return null;
  }

  dispose(): void {
    this.model.off('msg:custom', this.onCustom);
    this.data.dispose();
  }
}
