import './dom';
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { artifactUrl, fenced, outputBundle } from '../src/nbformat';
import { ServerTransport } from '../widget/adapters';
import { parseCsv } from '../widget/csv';
import { CAN_OPEN_NOTEBOOK_EVENT, CSV_ROWS, HTML_CSP, OPEN_NOTEBOOK_EVENT, previewKind, TEXT_BYTES, withPolicy } from '../widget/preview';
import { StepData } from '../widget/stepdata';
import { container, FakeModel, frames, pageToken } from './dom';
import { EXEC } from './helpers';

const text = (el: Element | null | undefined): string => (el?.textContent ?? '').replace(/\s+/g, ' ').trim();
const BASE = '/ansflow/api/executions/ex-1/artifacts';

interface Call {
  path: string;
  range: string;
  auth: string;
}

/** A fake server: the list and the files (answering Range like the real handler). */
function serve(files: Record<string, { body: string | Uint8Array; type: string }>, step = 'make'): Call[] {
  const calls: Call[] = [];
  const rows = Object.entries(files).map(([path, f]) => ({
    step_id: step,
    path,
    size: typeof f.body === 'string' ? new TextEncoder().encode(f.body).length : f.body.length,
    media_type: f.type,
    sha256: 'x',
    url: `${BASE}/${step}/${path}`
  }));
  (globalThis as { fetch: unknown }).fetch = async (url: string, init?: { headers?: Record<string, string> }) => {
    const headers = init?.headers ?? {};
    const path = decodeURIComponent(new URL(url).pathname);
    calls.push({ path, range: headers.Range ?? '', auth: headers.Authorization ?? '' });
    if (path === BASE) return new Response(JSON.stringify(rows), { status: 200 });
    const name = path.slice(`${BASE}/${step}/`.length);
    const file = files[name];
    if (!file) return new Response('{"message":"not found"}', { status: 404 });
    const bytes = typeof file.body === 'string' ? new TextEncoder().encode(file.body) : file.body;
    const m = /^bytes=(\d+)-(\d+)$/.exec(headers.Range ?? '');
    if (m)
      return new Response(bytes.slice(Number(m[1]), Number(m[2]) + 1) as BodyInit, { status: 206, headers: { 'Content-Type': file.type } });
    return new Response(bytes as BodyInit, { status: 200, headers: { 'Content-Type': file.type } });
  };
  return calls;
}

const mounted: HTMLElement[] = [];
const views: StepData[] = [];
let configEl: HTMLElement | null = null;
beforeEach(() => {
  configEl = pageToken();
});
afterEach(() => {
  for (const view of views.splice(0)) view.release(); // frees Blob URLs and their timers
  for (const node of mounted.splice(0)) node.remove();
  configEl?.remove();
});

async function showStep(
  files: Record<string, { body: string | Uint8Array; type: string }>,
  step = 'make'
): Promise<{ data: StepData; calls: Call[] }> {
  const calls = serve(files, step);
  const model = new FakeModel({ mode: 'server', execution_id: EXEC, base_url: '/' });
  const transport = new ServerTransport(model, {
    onEvents: () => undefined,
    onState: () => undefined,
    since: () => 0,
    finished: () => true
  });
  const data = new StepData(transport.data);
  const box = container();
  box.append(data.node);
  mounted.push(box);
  views.push(data);
  data.render(EXEC, { step_id: step, status: 'success', artifacts: { count: Object.keys(files).length, bytes: 1 } } as never);
  await frames();
  return { data, calls };
}

function row(data: StepData, path: string): HTMLElement {
  const li = Array.from(data.node.querySelectorAll('.af-artifact')).find(r => text(r.querySelector('.af-aname')) === path);
  assert.ok(li, `a row for ${path}`);
  return li as HTMLElement;
}

async function preview(data: StepData, path: string): Promise<HTMLElement> {
  const button = row(data, path).querySelector('.af-apreview') as HTMLElement | null;
  assert.ok(button, `${path} has a Preview button`);
  button.click();
  await frames();
  return data.node.querySelector('.af-preview') as HTMLElement;
}

/** Capture `<a download>` clicks (downloads) while `fn` runs. */
async function downloads(fn: () => Promise<void>): Promise<string[]> {
  const saved: string[] = [];
  const proto = (window as unknown as { HTMLAnchorElement: { prototype: { click: () => void } } }).HTMLAnchorElement.prototype;
  const click = proto.click;
  proto.click = function (this: HTMLAnchorElement) {
    saved.push(this.download);
  };
  try {
    await fn();
  } finally {
    proto.click = click;
  }
  return saved;
}

describe('CSV parsing', () => {
  it('handles quotes, commas, escaped quotes, newlines in fields and CRLF', () => {
    const csv = 'name,note\r\n"Smith, J","said ""hi"""\r\n"multi\nline",x\nlast,"ends"';
    assert.deepEqual(parseCsv(csv), {
      rows: [
        ['name', 'note'],
        ['Smith, J', 'said "hi"'],
        ['multi\nline', 'x'],
        ['last', 'ends']
      ],
      count: 4
    });
  });

  it('keeps empty fields, ignores one trailing newline, counts beyond the kept rows', () => {
    assert.deepEqual(parseCsv('a,,c\n,,\n').rows, [
      ['a', '', 'c'],
      ['', '', '']
    ]);
    const many = `h\n${Array.from({ length: 2500 }, (_, i) => String(i)).join('\n')}\n`;
    const table = parseCsv(many, 3);
    assert.deepEqual(table.rows, [['h'], ['0'], ['1']]);
    assert.equal(table.count, 2501);
  });

  it('drops a record cut by a truncated read, even inside quotes', () => {
    assert.deepEqual(parseCsv('a,b\n1,2\n3,"x\ny', 10, true).rows, [
      ['a', 'b'],
      ['1', '2']
    ]);
    assert.deepEqual(parseCsv('a,b\n1,2\n', 10, true).rows, [
      ['a', 'b'],
      ['1', '2']
    ]);
  });
});

describe('preview kinds', () => {
  it('chooses by media type, then by extension; binaries are download only', () => {
    const cases: Array<[string, string, string | null]> = [
      ['plot.svg', 'image/svg+xml', 'svg'],
      ['a.png', 'image/png', 'image'],
      ['data.csv', 'text/csv', 'csv'],
      ['README.md', 'text/markdown', 'markdown'],
      ['m.json', 'application/json', 'json'],
      ['report.html', 'text/html', 'html'],
      ['.ansflow/train.ipynb', 'application/x-ipynb+json', 'notebook'],
      ['out.log', 'text/plain', 'text'],
      ['conf.yaml', 'application/octet-stream', 'text'],
      ['dist/app.whl', 'application/zip', null],
      ['blob.bin', 'application/octet-stream', null]
    ];
    for (const [path, type, kind] of cases) assert.equal(previewKind(path, type), kind, path);
  });
});

describe('artifact previews (server mode)', () => {
  it('CSV: a text-only table of the first 1,000 of N rows, quoted fields intact', async () => {
    const lines = ['id,comment'];
    for (let i = 0; i < 1500; i++) lines.push(i === 0 ? '0,"<img src=x onerror=alert(1)>, ""quoted""\nsecond line"' : `${i},row ${i}`);
    const { data } = await showStep({ 'data.csv': { body: `${lines.join('\n')}\n`, type: 'text/csv' } });
    const box = await preview(data, 'data.csv');
    assert.equal(text(box.querySelector('.af-pnote')), 'first 1,000 of 1,500 rows');
    assert.deepEqual(
      Array.from(box.querySelectorAll('thead th')).map(th => th.textContent),
      ['id', 'comment']
    );
    const body = box.querySelectorAll('tbody tr');
    assert.equal(body.length, CSV_ROWS);
    assert.equal(body[0].children[1].textContent, '<img src=x onerror=alert(1)>, "quoted"\nsecond line');
    assert.equal(box.querySelectorAll('img').length, 0, 'a cell is text, never HTML');
    assert.equal(text(body[999].children[0]), '999');
  });

  it('CSV over 4 MiB: only its first MiB is fetched (Range), and the note says so', async () => {
    const lines = ['n,text'];
    for (let i = 0, size = 0; size < 5 * 1024 * 1024; i++) {
      lines.push(`${i},${'x'.repeat(200)}`);
      size += 200 + String(i).length + 2;
    }
    const { data, calls } = await showStep({ 'big.csv': { body: lines.join('\n'), type: 'text/csv' } });
    const box = await preview(data, 'big.csv');
    assert.equal(calls.at(-1)?.range, `bytes=0-${1024 * 1024 - 1}`);
    assert.match(text(box.querySelector('.af-pnote')), /^first 1,000 rows of a 5\.0 MiB file Download$/);
  });

  it('Markdown: rendered by the safe renderer (no script, no remote image)', async () => {
    const md = '# Report\n\n<script>alert(1)</script> **ok**\n\n![pixel](https://evil.example/p.png)\n';
    const { data } = await showStep({ 'report.md': { body: md, type: 'text/markdown' } });
    const box = await preview(data, 'report.md');
    assert.equal(text(box.querySelector('.af-pmarkdown h3')), 'Report');
    assert.equal(text(box.querySelector('.af-pmarkdown strong')), 'ok');
    assert.equal(box.querySelectorAll('script, img, iframe').length, 0);
    assert.match(text(box), /<script>alert\(1\)<\/script>/);
  });

  it('JSON: pretty printed; too big to format: the first 256 KiB as text with a note', async () => {
    const big = JSON.stringify({ rows: Array.from({ length: 250_000 }, (_, i) => ({ i })) });
    const { data, calls } = await showStep({
      'm.json': { body: '{"accuracy":0.93,"labels":["a","b"]}', type: 'application/json' },
      'big.json': { body: big, type: 'application/json' },
      'wide.json': { body: JSON.stringify(Array.from({ length: 30_000 }, (_, i) => ({ i }))), type: 'application/json' }
    });
    let box = await preview(data, 'm.json');
    assert.equal(box.querySelector('.af-ptext')?.textContent, '{\n  "accuracy": 0.93,\n  "labels": [\n    "a",\n    "b"\n  ]\n}');
    box = await preview(data, 'big.json');
    assert.ok(big.length > 2 * 1024 * 1024);
    assert.equal(calls.at(-1)?.range, `bytes=0-${TEXT_BYTES - 1}`);
    assert.match(text(box.querySelector('.af-pnote')), /too big to format; first 256 KiB of \d\.\d MiB shown Download/);
    assert.equal(box.querySelector('.af-ptext')?.textContent?.length, TEXT_BYTES);
    box = await preview(data, 'wide.json');
    assert.equal(text(box.querySelector('.af-pnote')), 'formatted JSON: the first 262,144 characters shown Download');
    assert.ok(box.querySelector('.af-ptext')?.textContent?.startsWith('[\n  {\n    "i": 0\n  },'));
  });

  it('text: small files whole; big ones by Range with a note and a download of the rest', async () => {
    const big = `${'line of the log\n'.repeat(40_000)}é`;
    const { data, calls } = await showStep({
      'small.txt': { body: 'hello <b>world</b>\n', type: 'text/plain' },
      'big.log': { body: big, type: 'text/plain' }
    });
    let box = await preview(data, 'small.txt');
    assert.equal(box.querySelector('.af-ptext')?.textContent, 'hello <b>world</b>\n');
    assert.equal(box.querySelector('b'), null);
    assert.equal(calls.at(-1)?.range, '', 'a small file in one request');
    box = await preview(data, 'big.log');
    assert.equal(calls.at(-1)?.range, `bytes=0-${TEXT_BYTES - 1}`);
    assert.equal(text(box.querySelector('.af-pnote')), 'first 256 KiB of 625 KiB shown Download');
    const saved = await downloads(async () => {
      (box.querySelector('.af-pdownload') as HTMLElement).click();
      await frames();
    });
    assert.deepEqual(saved, ['big.log']);
    assert.equal(calls.at(-1)?.range, '', 'the download is the whole file');
    for (const c of calls) assert.equal(c.auth, 'token sekrit');
  });

  it('HTML: an iframe sandboxed with scripts but without same-origin, under a no-network policy', async () => {
    const page = '<!DOCTYPE html><html><body><script>parent.document.title = "owned"</script>hi</body></html>';
    const { data } = await showStep({ 'report.html': { body: page, type: 'text/html' } });
    const box = await preview(data, 'report.html');
    const frame = box.querySelector('iframe') as HTMLIFrameElement;
    assert.ok(frame);
    assert.equal(frame.getAttribute('sandbox'), 'allow-scripts');
    assert.doesNotMatch(frame.getAttribute('sandbox') ?? '', /same-origin/);
    assert.equal(frame.getAttribute('src'), null, 'no URL of the Jupyter origin');
    const doc = frame.getAttribute('srcdoc') ?? '';
    assert.ok(doc.startsWith('<!DOCTYPE html><meta http-equiv="Content-Security-Policy"'), doc.slice(0, 80));
    assert.equal(box.querySelectorAll('script').length, 0, 'nothing of the file in this page');
    assert.match(HTML_CSP, /default-src 'none'/);
    assert.equal(withPolicy('<p>x</p>'), `<meta http-equiv="Content-Security-Policy" content="${HTML_CSP}"><p>x</p>`);
  });

  it('the last preview asked for wins over a slower earlier one; Close empties the box', async () => {
    const { data } = await showStep({
      'slow.txt': { body: 'slow file', type: 'text/plain' },
      'fast.txt': { body: 'fast file', type: 'text/plain' }
    });
    const served = globalThis.fetch;
    (globalThis as { fetch: unknown }).fetch = async (url: string, init?: RequestInit) => {
      if (String(url).endsWith('slow.txt')) await new Promise(resolve => setTimeout(resolve, 150));
      return served(url, init);
    };
    try {
      (row(data, 'slow.txt').querySelector('.af-apreview') as HTMLElement).click();
      const box = await preview(data, 'fast.txt');
      await new Promise(resolve => setTimeout(resolve, 250));
      assert.equal(text(box.querySelector('.af-phead')), 'fast.txt Close');
      assert.equal(box.querySelector('.af-ptext')?.textContent, 'fast file');
      (box.querySelector('.af-pclose') as HTMLElement).click();
      assert.equal(box.children.length, 0);
    } finally {
      globalThis.fetch = served;
    }
  });

  it('SVG: an <img> from a Blob URL, never inline SVG', async () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script><circle r="4"/></svg>';
    const { data } = await showStep({ 'plot.svg': { body: svg, type: 'image/svg+xml' } });
    const box = await preview(data, 'plot.svg');
    const img = box.querySelector('img') as HTMLImageElement;
    assert.match(img.getAttribute('src') ?? '', /^blob:/);
    assert.equal(box.querySelectorAll('svg, script').length, 0);
    data.release();
  });
});

describe('notebooks', () => {
  const nb = JSON.stringify({ cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 });

  /** What the JupyterLab extension does: answer the probe and, if `open`, the open request. */
  function host(open: boolean): { asked: unknown[]; stop: () => void } {
    const asked: unknown[] = [];
    const probe = (event: Event): void => event.preventDefault();
    const opener = (event: Event): void => {
      asked.push((event as CustomEvent).detail);
      if (open) event.preventDefault();
    };
    document.addEventListener(CAN_OPEN_NOTEBOOK_EVENT, probe);
    document.addEventListener(OPEN_NOTEBOOK_EVENT, opener);
    return {
      asked,
      stop: () => {
        document.removeEventListener(CAN_OPEN_NOTEBOOK_EVENT, probe);
        document.removeEventListener(OPEN_NOTEBOOK_EVENT, opener);
      }
    };
  }

  it('"Open notebook" on a notebook step asks JupyterLab to open it; handled: no download', async () => {
    const lab = host(true);
    try {
      const { data } = await showStep({ '.ansflow/train.ipynb': { body: nb, type: 'application/x-ipynb+json' } }, 'train');
      const open = data.node.querySelector('.af-dtitle .af-opennb') as HTMLElement;
      assert.equal(text(open), 'Open notebook');
      assert.equal(text(row(data, '.ansflow/train.ipynb').querySelector('.af-aopen')), 'Open in JupyterLab');
      const saved = await downloads(async () => {
        open.click();
        await frames();
      });
      assert.deepEqual(saved, []);
      assert.deepEqual(lab.asked, [
        { url: `${BASE}/train/.ansflow/train.ipynb`, path: '.ansflow/train.ipynb', stepId: 'train', executionId: EXEC }
      ]);
    } finally {
      lab.stop();
    }
  });

  it('without JupyterLab the button says Download notebook and downloads it', async () => {
    const { data } = await showStep({ '.ansflow/train.ipynb': { body: nb, type: 'application/x-ipynb+json' } }, 'train');
    const button = data.node.querySelector('.af-dtitle .af-opennb') as HTMLElement;
    assert.equal(text(button), 'Download notebook');
    assert.equal(row(data, '.ansflow/train.ipynb').querySelector('.af-aopen'), null, 'no "Open in JupyterLab"');
    const saved = await downloads(async () => {
      button.click();
      await frames();
    });
    assert.deepEqual(saved, ['train.ipynb']);
  });

  it('a request JupyterLab does not take (another server) falls back to a download', async () => {
    const lab = host(false);
    try {
      const { data } = await showStep({ '.ansflow/train.ipynb': { body: nb, type: 'application/x-ipynb+json' } }, 'train');
      const saved = await downloads(async () => {
        (row(data, '.ansflow/train.ipynb').querySelector('.af-aopen') as HTMLElement).click();
        await frames();
      });
      assert.equal(lab.asked.length, 1);
      assert.deepEqual(saved, ['train.ipynb']);
    } finally {
      lab.stop();
    }
  });

  it('a step without its executed notebook has no "Open notebook"', async () => {
    const lab = host(true);
    try {
      const { data } = await showStep({ 'other.ipynb': { body: nb, type: 'application/x-ipynb+json' } }, 'train');
      assert.equal(data.node.querySelector('.af-opennb'), null);
      assert.ok(row(data, 'other.ipynb').querySelector('.af-aopen'), 'any notebook artifact opens');
    } finally {
      lab.stop();
    }
  });

  it('the read-only view reads only AnsFlow artifact URLs and maps outputs to mime bundles', () => {
    const base = 'http://localhost:8888/lab-base/';
    assert.equal(
      artifactUrl('/lab-base/ansflow/api/executions/e/artifacts/s/x.ipynb', base),
      'http://localhost:8888/lab-base/ansflow/api/executions/e/artifacts/s/x.ipynb'
    );
    assert.equal(artifactUrl('/lab-base/ansflow/api/executions/../../api/contents/x', base), '');
    assert.equal(artifactUrl('https://evil.example/ansflow/api/executions/e', base), '');
    assert.equal(fenced('print(1)\n```x```', 'python'), '````python\nprint(1)\n```x```\n````');
    assert.deepEqual(outputBundle({ output_type: 'stream', name: 'stderr', text: ['a\n', 'b'] }), {
      'application/vnd.jupyter.stderr': 'a\nb'
    });
    assert.deepEqual(outputBundle({ output_type: 'error', ename: 'E', evalue: 'v', traceback: ['\x1b[31mE\x1b[0m', 'v'] }), {
      'application/vnd.jupyter.stderr': '\x1b[31mE\x1b[0m\nv'
    });
    assert.deepEqual(outputBundle({ output_type: 'execute_result', data: { 'text/plain': ['1', '2'], 'application/json': { a: 1 } } }), {
      'text/plain': '12',
      'application/json': { a: 1 }
    });
    assert.equal(outputBundle({ output_type: 'weird' }), null);
  });
});
