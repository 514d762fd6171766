/**
 * Embedded mode's artifacts and summaries: the same `StepDataApi` as the REST one, asked of
 * the kernel over widget messages. Each request carries an id and gets one `data_reply`;
 * a file comes back in pieces of at most 8 MiB (the kernel's cap per message), so a
 * preview reads only the bytes it needs and a big file never becomes one huge message.
 */
import type { Artifact, StepDataApi } from './stepdata';

/** What the kernel puts before an artifact's address (`ansflow-kernel:EXEC/STEP/PATH`). */
export const KERNEL_URL = 'ansflow-kernel:';

interface Reply {
  type: 'data_reply';
  id: number;
  ok: boolean;
  error?: string;
  [key: string]: unknown;
}

type Sender = (content: unknown) => void;

export class KernelData implements StepDataApi {
  private next = 1;
  private readonly waiting = new Map<number, { resolve(r: [Reply, DataView[]]): void; reject(e: Error): void }>();

  constructor(private readonly send: Sender) {}

  /** A `data_reply` from the kernel (other messages are not ours: false). */
  onMessage(msg: unknown, buffers: DataView[] | undefined): boolean {
    const reply = msg as Reply | null;
    if (reply?.type !== 'data_reply') return false;
    const pending = this.waiting.get(reply.id);
    if (!pending) return true;
    this.waiting.delete(reply.id);
    if (reply.ok) pending.resolve([reply, buffers ?? []]);
    else pending.reject(new Error(reply.error ?? 'the kernel refused the request'));
    return true;
  }

  /** The view is gone: nothing will answer what is still waiting. */
  dispose(): void {
    for (const pending of this.waiting.values()) pending.reject(new Error('the view was closed'));
    this.waiting.clear();
  }

  async artifacts(executionId: string): Promise<Artifact[]> {
    const [reply] = await this.ask({ op: 'artifacts', execution_id: executionId });
    if (!Array.isArray(reply.artifacts)) throw new Error('the kernel did not answer a list of artifacts');
    return reply.artifacts as Artifact[];
  }

  async summary(executionId: string, stepId: string): Promise<string> {
    const [reply] = await this.ask({ op: 'summary', execution_id: executionId, step_id: stepId });
    if (typeof reply.markdown !== 'string') throw new Error('the kernel did not answer a summary');
    return reply.markdown;
  }

  async blob(url: string, firstBytes?: number): Promise<Blob> {
    const [executionId, stepId, path] = parseKernelUrl(url);
    const parts: ArrayBuffer[] = [];
    let offset = 0;
    let media = 'application/octet-stream';
    for (;;) {
      const want = firstBytes === undefined ? undefined : firstBytes - offset;
      const request: Record<string, unknown> = { op: 'read', execution_id: executionId, step_id: stepId, path, offset };
      if (want !== undefined) request.length = want;
      const [reply, buffers] = await this.ask(request);
      const got = Number(reply.length);
      const size = Number(reply.size);
      media = typeof reply.media_type === 'string' ? reply.media_type : media;
      const view = buffers[0];
      if (view && got > 0) parts.push(view.buffer.slice(view.byteOffset, view.byteOffset + got) as ArrayBuffer);
      offset += got;
      const enough = firstBytes !== undefined && offset >= firstBytes;
      if (got <= 0 || offset >= size || enough) break;
    }
    return new Blob(parts, { type: media });
  }

  private ask(request: Record<string, unknown>): Promise<[Reply, DataView[]]> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.send({ type: 'data', id, ...request });
    });
  }
}

/** `ansflow-kernel:EXEC/STEP/PATH` → [execution, step, path] (each part URL-quoted). */
export function parseKernelUrl(url: string): [string, string, string] {
  if (!url.startsWith(KERNEL_URL)) throw new Error(`not an embedded artifact address: ${url}`);
  const [execution, step, ...path] = url.slice(KERNEL_URL.length).split('/');
  if (!execution || !step || path.length === 0) throw new Error(`not an embedded artifact address: ${url}`);
  return [decodeURIComponent(execution), decodeURIComponent(step), path.map(decodeURIComponent).join('/')];
}
