/**
 * One-click previews of artifacts, fetched through the authenticated API and shown without
 * ever trusting the file: images and SVG as `<img>` from a Blob URL (an SVG in an image
 * runs no script), CSV as a text-only table, Markdown through the safe renderer, JSON and
 * text as text, HTML in an iframe sandboxed WITHOUT allow-same-origin. Big files are read
 * with a Range request for the part the preview shows.
 */
import { parseCsv } from './csv';
import { renderMarkdown } from './markdown';

export type PreviewKind = 'image' | 'svg' | 'csv' | 'markdown' | 'json' | 'text' | 'html' | 'notebook';

/** The part of an artifact row a preview needs. */
export interface PreviewRow {
  path: string;
  size: number;
  media_type?: string;
  url: string;
}

/** What the preview asks of the view that shows it. */
export interface PreviewHost {
  /** The file's bytes; with `firstBytes`, only that many from the start (a Range request). */
  blob(url: string, firstBytes?: number): Promise<Blob>;
  /** A Blob URL the view frees when the preview goes away. */
  objectUrl(blob: Blob): string;
  /** Save the whole file (offered when the preview shows only part of it). */
  download(): void;
}

/** Text, Markdown and a JSON file too big to format: the first 256 KiB are shown. */
export const TEXT_BYTES = 256 * 1024;
/** A CSV up to this size is read whole (its rows are counted); bigger: its first MiB. */
export const CSV_WHOLE_BYTES = 4 * 1024 * 1024;
export const CSV_HEAD_BYTES = 1024 * 1024;
export const CSV_ROWS = 1000;
/** JSON up to this size is parsed and pretty printed. */
export const JSON_BYTES = 2 * 1024 * 1024;
/** Images bigger than this are download only (the preview reads them whole). */
export const IMAGE_BYTES = 32 * 1024 * 1024;
/** HTML bigger than this is not previewed (an iframe holds it whole). */
export const HTML_BYTES = 16 * 1024 * 1024;

/**
 * The policy an HTML preview runs under, on top of the iframe sandbox (scripts allowed, in
 * an opaque origin): nothing is loaded from the network, so a report cannot send what it
 * shows anywhere or track who opened it; inline scripts, styles and data: images work.
 */
export const HTML_CSP =
  "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; " +
  "img-src data: blob:; font-src data:; media-src data: blob:; form-action 'none'";
/** Scripts may run (plots need them) but never with the page's origin: no allow-same-origin. */
export const HTML_SANDBOX = 'allow-scripts';

/** The event a view sends (bubbling from the clicked button) to open a notebook artifact. */
export const OPEN_NOTEBOOK_EVENT = 'ansflow-open-notebook';

export interface OpenNotebookDetail {
  /** The artifact's REST URL (a path from the server root). */
  url: string;
  path: string;
  stepId: string;
  executionId: string;
}

const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/bmp']);
const TEXT_TYPES = new Set([
  'application/x-yaml',
  'application/yaml',
  'application/toml',
  'application/x-sh',
  'application/javascript',
  'application/xml'
]);
const TEXT_EXTS = new Set([
  'txt',
  'log',
  'yml',
  'yaml',
  'toml',
  'ini',
  'cfg',
  'py',
  'sh',
  'js',
  'ts',
  'xml',
  'tsv',
  'out',
  'err',
  'diff',
  'patch'
]);

/** 1536 → `1.5 KiB`. */
export function humanSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let n = bytes;
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${n < 10 ? n.toFixed(1) : Math.round(n)} ${units[u]}`;
}

const count = (n: number): string => n.toLocaleString('en-US');

/** How a file is previewed, from its media type then its extension; null: download only. */
export function previewKind(path: string, mediaType = ''): PreviewKind | null {
  const type = mediaType.split(';')[0].trim().toLowerCase();
  const name = path.toLowerCase();
  const ext = name.includes('.') ? (name.split('.').pop() ?? '') : '';
  if (type === 'image/svg+xml' || ext === 'svg') return 'svg';
  if (IMAGE_TYPES.has(type)) return 'image';
  if (type === 'text/csv' || ext === 'csv') return 'csv';
  if (type === 'text/markdown' || ext === 'md' || ext === 'markdown') return 'markdown';
  if (type === 'application/x-ipynb+json' || ext === 'ipynb') return 'notebook';
  if (type === 'application/json' || type.endsWith('+json') || ext === 'json') return 'json';
  if (type === 'text/html' || type === 'application/xhtml+xml' || ext === 'html' || ext === 'htm') return 'html';
  if (type.startsWith('text/') || TEXT_TYPES.has(type) || TEXT_EXTS.has(ext)) return 'text';
  return null;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls = '', text = ''): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text) node.textContent = text;
  return node;
}

/** A note above the preview, with a Download button when only part of the file is shown. */
function note(text: string, host: PreviewHost | null): HTMLElement {
  const line = el('div', 'af-pnote', text);
  if (host) {
    const dl = el('button', 'af-pdownload', 'Download');
    dl.onclick = () => host.download();
    line.append(' ', dl);
  }
  return line;
}

/** The first `bytes` of the file as text (a multi-byte character cut at the end is dropped). */
async function readText(row: PreviewRow, host: PreviewHost, bytes: number): Promise<{ text: string; partial: boolean }> {
  const partial = row.size > bytes;
  const blob = await host.blob(row.url, partial ? bytes : undefined);
  // A server that ignores Range sends the whole file: keep only what the preview shows.
  let text = await (blob.size > bytes ? blob.slice(0, bytes) : blob).text();
  if (partial) text = text.replace(/\uFFFD+$/, '');
  return { text, partial: partial || blob.size > bytes };
}

function pre(text: string): HTMLElement {
  const box = el('pre', 'af-ptext');
  box.textContent = text;
  return box;
}

async function image(row: PreviewRow, host: PreviewHost): Promise<HTMLElement[]> {
  if (row.size > IMAGE_BYTES) {
    return [note(`${humanSize(row.size)}: too big to preview (up to ${humanSize(IMAGE_BYTES)})`, host)];
  }
  // <img> never runs an SVG's scripts nor loads what it references: no inline SVG DOM.
  const img = el('img', 'af-aimg');
  img.alt = row.path;
  img.src = host.objectUrl(await host.blob(row.url));
  return [img];
}

/** A table of the first rows, all cells as text; the first record is the header. */
export function csvTable(text: string, size: number, partial: boolean): HTMLElement[] {
  const { rows, count: records } = parseCsv(text, CSV_ROWS + 1, partial);
  const [head = [], ...body] = rows;
  const table = el('table', 'af-csv');
  const hrow = el('tr');
  for (const cell of head) hrow.append(el('th', '', cell));
  table.createTHead().append(hrow);
  const tbody = el('tbody');
  for (const cells of body) {
    const tr = el('tr');
    for (const cell of cells) tr.append(el('td', '', cell));
    tbody.append(tr);
  }
  table.append(tbody);
  const data = Math.max(0, records - 1);
  let what: string;
  if (partial) what = `first ${count(body.length)} rows of a ${humanSize(size)} file`;
  else if (data > body.length) what = `first ${count(body.length)} of ${count(data)} rows`;
  else what = `${count(data)} row${data === 1 ? '' : 's'}`;
  const wrap = el('div', 'af-pscroll');
  wrap.append(table);
  return [el('div', 'af-pnote', what), wrap];
}

async function csv(row: PreviewRow, host: PreviewHost): Promise<HTMLElement[]> {
  const { text, partial } = await readText(row, host, row.size > CSV_WHOLE_BYTES ? CSV_HEAD_BYTES : CSV_WHOLE_BYTES);
  const parts = csvTable(text, row.size, partial);
  if (partial) parts[0] = note(parts[0].textContent ?? '', host);
  return parts;
}

async function textLike(kind: 'text' | 'markdown' | 'json', row: PreviewRow, host: PreviewHost): Promise<HTMLElement[]> {
  if (kind === 'json' && row.size <= JSON_BYTES) {
    const { text } = await readText(row, host, JSON_BYTES);
    let pretty: string;
    try {
      pretty = JSON.stringify(JSON.parse(text), null, 2);
    } catch (err) {
      return [el('div', 'af-pnote', `not valid JSON (${String(err)}); as text:`), pre(text.slice(0, TEXT_BYTES))];
    }
    if (pretty.length <= TEXT_BYTES) return [pre(pretty)];
    return [note(`formatted JSON: the first ${count(TEXT_BYTES)} characters shown`, host), pre(pretty.slice(0, TEXT_BYTES))];
  }
  const { text, partial } = await readText(row, host, TEXT_BYTES);
  const parts: HTMLElement[] = [];
  if (partial) {
    const what = kind === 'json' ? 'too big to format; ' : '';
    parts.push(note(`${what}first ${humanSize(TEXT_BYTES)} of ${humanSize(row.size)} shown`, host));
  }
  if (kind === 'markdown') {
    const box = el('div', 'af-pmarkdown');
    box.append(renderMarkdown(text));
    parts.push(box);
  } else parts.push(pre(text));
  return parts;
}

/** The HTML with the preview's policy as its first element (after a doctype, which must stay first). */
export function withPolicy(html: string): string {
  const meta = `<meta http-equiv="Content-Security-Policy" content="${HTML_CSP}">`;
  const doctype = /^\uFEFF?\s*<!doctype[^>]*>/i.exec(html);
  return doctype ? doctype[0] + meta + html.slice(doctype[0].length) : meta + html;
}

/** An iframe for the HTML: sandboxed without allow-same-origin, so its origin is opaque. */
export function htmlFrame(html: string, title: string): HTMLIFrameElement {
  const frame = el('iframe', 'af-phtml');
  frame.setAttribute('sandbox', HTML_SANDBOX);
  frame.setAttribute('referrerpolicy', 'no-referrer');
  frame.title = title;
  frame.srcdoc = withPolicy(html);
  return frame;
}

async function html(row: PreviewRow, host: PreviewHost): Promise<HTMLElement[]> {
  if (row.size > HTML_BYTES) {
    return [note(`${humanSize(row.size)}: too big to preview (up to ${humanSize(HTML_BYTES)})`, host)];
  }
  const { text } = await readText(row, host, HTML_BYTES);
  return [
    el('div', 'af-pnote', 'sandboxed: scripts run without access to this page, its cookies or the network'),
    htmlFrame(text, row.path)
  ];
}

/** The preview's nodes (a note when the type has none; notebooks open in JupyterLab instead). */
export async function renderPreview(kind: PreviewKind, row: PreviewRow, host: PreviewHost): Promise<HTMLElement[]> {
  switch (kind) {
    case 'image':
    case 'svg':
      return image(row, host);
    case 'csv':
      return csv(row, host);
    case 'text':
    case 'markdown':
    case 'json':
      return textLike(kind, row, host);
    case 'html':
      return html(row, host);
    default:
      return [el('div', 'af-pnote', 'no preview for this file')];
  }
}

/**
 * Ask the host page to open a notebook artifact (the JupyterLab extension listens and
 * cancels the event); false when nothing did, so the caller downloads instead.
 */
export function requestOpenNotebook(from: HTMLElement, detail: OpenNotebookDetail): boolean {
  const view = from.ownerDocument.defaultView;
  const Custom = view?.CustomEvent ?? CustomEvent;
  const event = new Custom(OPEN_NOTEBOOK_EVENT, { detail, bubbles: true, cancelable: true, composed: true });
  return !from.dispatchEvent(event);
}

/** Asked (cancelable) before drawing the buttons: cancelled when a host can open notebooks. */
export const CAN_OPEN_NOTEBOOK_EVENT = 'ansflow-can-open-notebook';

/** Whether this page opens notebooks (JupyterLab with the extension); else they are downloaded. */
export function canOpenNotebooks(doc: Document = document): boolean {
  const Custom = doc.defaultView?.CustomEvent ?? CustomEvent;
  return !doc.dispatchEvent(new Custom(CAN_OPEN_NOTEBOOK_EVENT, { cancelable: true }));
}

/** `.ansflow/<step id>.ipynb`: the executed notebook of a notebook step. */
export function executedNotebookPath(stepId: string): string {
  return `.ansflow/${stepId.replace(/\//g, '_')}.ipynb`;
}
