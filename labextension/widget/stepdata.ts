/**
 * What the selected step handed on: its outputs (a key/value table), its artifacts (sizes,
 * download, one-click previews from widget/preview.ts, notebooks opened in JupyterLab), its Markdown summary (rendered sanitized) and its cache
 * line. Everything is built with textContent; files come through the authenticated fetch
 * and are shown from Blob URLs, so no token is ever in a link.
 */
import { renderMarkdown } from './markdown';
import {
  canOpenNotebooks,
  executedNotebookPath,
  humanSize,
  type PreviewKind,
  previewKind,
  renderPreview,
  requestOpenNotebook
} from './preview';
import type { StepInfo } from './types';

export { humanSize };

export interface Artifact {
  step_id: string;
  path: string;
  size: number;
  sha256?: string;
  media_type?: string;
  url: string;
}

/** The REST calls the component needs; null in embedded mode (no server API). */
export interface StepDataApi {
  artifacts(executionId: string): Promise<Artifact[]>;
  summary(executionId: string, stepId: string): Promise<string>;
  /** The file's bytes; with `firstBytes`, only the start of it (a Range request). */
  blob(url: string, firstBytes?: number): Promise<Blob>;
}

export const EMBEDDED_NOTE = 'artifacts and summary: open in JupyterLab’s server mode';

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls = '', text = ''): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text) node.textContent = text;
  return node;
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

export class StepData {
  readonly node = el('div', 'af-stepdata');
  private key = '';
  /** The preview last asked for: a slower earlier one must not replace it. */
  private shown = 0;
  private readonly urls: string[] = [];
  private readonly downloads: Array<{ url: string; timer: ReturnType<typeof setTimeout> }> = [];

  constructor(
    private readonly api: StepDataApi | null,
    /** Show another execution in this view (server mode: the run a cache hit came from). */
    private readonly openRun: ((executionId: string) => void) | null = null
  ) {
    this.node.style.display = 'none';
  }

  /** Draw the step's data; fetches only when what the server announced changed. */
  render(executionId: string, step: StepInfo | undefined): void {
    const data = (step ?? {}) as StepInfo & Record<string, unknown>;
    const outputs = data.outputs && typeof data.outputs === 'object' ? (data.outputs as Record<string, unknown>) : {};
    const art = data.artifacts && typeof data.artifacts === 'object' ? (data.artifacts as Record<string, unknown>) : null;
    const summaryBytes = num(data.summary);
    const cachedFrom = typeof data.cached_from === 'string' ? data.cached_from : '';
    const miss = typeof data.cache_miss === 'string' ? data.cache_miss : '';
    const key = JSON.stringify([executionId, data.step_id, outputs, art, summaryBytes, cachedFrom, miss, data.attempt]);
    if (key === this.key) return;
    this.key = key;
    this.releasePreviews();
    const parts: HTMLElement[] = [];
    if (cachedFrom) {
      const line = el('div', 'af-cache', `cached from run ${cachedFrom.slice(0, 8)}`);
      const open = this.openRun;
      if (open && this.api) {
        const link = el('button', 'af-openrun', 'open');
        link.title = `Show run ${cachedFrom} in this view`;
        link.onclick = () => open(cachedFrom);
        line.append(' ', link);
      }
      parts.push(line);
    } else if (miss) parts.push(el('div', 'af-cache', `cache miss: ${miss}`));
    const keys = Object.keys(outputs);
    if (keys.length) parts.push(this.outputsTable(outputs, keys));
    const count = art ? num(art.count) : 0;
    if (step && (count > 0 || summaryBytes > 0)) {
      if (this.api) {
        if (count > 0) parts.push(this.artifactList(this.api, executionId, step.step_id, count, num(art?.bytes)));
        if (summaryBytes > 0) parts.push(this.summaryBox(this.api, executionId, step.step_id));
      } else {
        const bits = [
          count > 0 ? `${count} artifact${count === 1 ? '' : 's'} (${humanSize(num(art?.bytes))})` : '',
          summaryBytes > 0 ? 'a summary' : ''
        ]
          .filter(Boolean)
          .join(' and ');
        parts.push(el('div', 'af-note', `${bits} — ${EMBEDDED_NOTE}`));
      }
    }
    this.node.replaceChildren(...parts);
    this.node.style.display = parts.length ? '' : 'none';
  }

  private outputsTable(outputs: Record<string, unknown>, keys: string[]): HTMLElement {
    const table = el('table', 'af-outputs');
    table.createCaption().textContent = 'Outputs';
    const body = el('tbody');
    for (const k of keys) {
      const tr = el('tr');
      tr.append(el('th', '', k), el('td', '', String(outputs[k] ?? '')));
      body.append(tr);
    }
    table.append(body);
    return table;
  }

  private artifactList(api: StepDataApi, executionId: string, stepId: string, count: number, bytes: number): HTMLElement {
    const box = el('div', 'af-artifacts');
    box.append(el('div', 'af-dtitle', `Artifacts: ${count} file${count === 1 ? '' : 's'}, ${humanSize(bytes)}`));
    const list = el('ul');
    const preview = el('div', 'af-preview');
    box.append(list, preview);
    const key = this.key;
    api.artifacts(executionId).then(
      rows => {
        if (key !== this.key) return;
        const mine = rows.filter(r => r.step_id === stepId);
        const executed = mine.find(r => r.path === executedNotebookPath(stepId));
        const openable = canOpenNotebooks(box.ownerDocument);
        if (executed) {
          // A notebook step: its executed notebook one click away, above the file list.
          const open = el('button', 'af-opennb', openable ? 'Open notebook' : 'Download notebook');
          open.title = openable
            ? `Open ${executed.path} read-only in JupyterLab`
            : `Download ${executed.path} (JupyterLab is not available on this page)`;
          open.onclick = () => this.openNotebook(api, executionId, executed, box);
          box.firstElementChild?.append(' ', open);
        }
        for (const row of mine) {
          const li = el('li', 'af-artifact');
          const name = el('span', 'af-aname', row.path);
          li.append(name, el('span', 'af-asize', humanSize(row.size)));
          const kind = previewKind(row.path, row.media_type ?? '');
          if (kind === 'notebook' && openable) {
            const open = el('button', 'af-aopen', 'Open in JupyterLab');
            open.onclick = () => this.openNotebook(api, executionId, row, box);
            li.append(open);
          } else if (kind && kind !== 'notebook') {
            const show = el('button', 'af-apreview', 'Preview');
            show.onclick = () => void this.preview(api, row, kind, preview);
            li.append(show);
          }
          const dl = el('button', 'af-adownload', 'Download');
          dl.onclick = () => void this.download(api, row, box);
          li.append(dl);
          list.append(li);
        }
      },
      err => box.append(el('div', 'af-note', `could not list the artifacts: ${String(err)}`))
    );
    return box;
  }

  /** In JupyterLab the extension opens it read-only in a tab; elsewhere it is downloaded. */
  private openNotebook(api: StepDataApi, executionId: string, row: Artifact, box: HTMLElement): void {
    const detail = { url: row.url, path: row.path, stepId: row.step_id, executionId };
    if (!requestOpenNotebook(box, detail)) void this.download(api, row, box);
  }

  private objectUrl(blob: Blob): string {
    const url = URL.createObjectURL(blob);
    this.urls.push(url);
    return url;
  }

  private async preview(api: StepDataApi, row: Artifact, kind: PreviewKind, into: HTMLElement): Promise<void> {
    const key = this.key;
    const ticket = ++this.shown;
    const head = el('div', 'af-phead', row.path);
    const close = el('button', 'af-pclose', 'Close');
    close.title = 'Close the preview';
    close.onclick = () => {
      this.shown++;
      into.replaceChildren();
    };
    head.append(' ', close);
    into.replaceChildren(head, el('div', 'af-note', 'loading…'));
    const current = (): boolean => key === this.key && ticket === this.shown;
    try {
      const nodes = await renderPreview(kind, row, {
        blob: (url, firstBytes) => api.blob(url, firstBytes),
        objectUrl: blob => this.objectUrl(blob),
        download: () => void this.download(api, row, into)
      });
      if (current()) into.replaceChildren(head, ...nodes);
    } catch (err) {
      if (current()) into.replaceChildren(head, el('div', 'af-note', `could not preview ${row.path}: ${String(err)}`));
    }
  }

  private async download(api: StepDataApi, row: Artifact, box: HTMLElement): Promise<void> {
    try {
      // Fetched with the auth header, saved from a Blob: the token never sits in a link.
      const url = URL.createObjectURL(await api.blob(row.url));
      const a = document.createElement('a');
      a.href = url;
      a.download = row.path.split('/').pop() || 'artifact';
      a.click();
      // Kept a minute for the browser to start the save; release() frees it sooner.
      this.downloads.push({ url, timer: setTimeout(() => URL.revokeObjectURL(url), 60_000) });
    } catch (err) {
      box.append(el('div', 'af-note', `could not download ${row.path}: ${String(err)}`));
    }
  }

  private summaryBox(api: StepDataApi, executionId: string, stepId: string): HTMLElement {
    const box = el('div', 'af-summary');
    const key = this.key;
    api.summary(executionId, stepId).then(
      markdown => {
        if (key === this.key) box.replaceChildren(renderMarkdown(markdown));
      },
      err => box.replaceChildren(el('div', 'af-note', `could not load the summary: ${String(err)}`))
    );
    return box;
  }

  private releasePreviews(): void {
    for (const url of this.urls.splice(0)) URL.revokeObjectURL(url);
  }

  /** Free every Blob URL (previews and recent downloads): the view is going away. */
  release(): void {
    this.releasePreviews();
    for (const { url, timer } of this.downloads.splice(0)) {
      clearTimeout(timer);
      URL.revokeObjectURL(url);
    }
  }
}
