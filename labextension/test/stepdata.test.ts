import './dom';
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ServerTransport } from '../widget/adapters';
import { renderMarkdown } from '../widget/markdown';
import { EMBEDDED_NOTE, humanSize, StepData } from '../widget/stepdata';
import { mountExecutionView } from '../widget/view';
import { container, FakeModel, frames, pageToken } from './dom';
import { env, EXEC, snapshot } from './helpers';

const text = (el: Element | null | undefined): string => (el?.textContent ?? '').replace(/\s+/g, ' ').trim();

interface Call {
  url: string;
  headers: Record<string, string>;
}

/** A fake `fetch` answering the artifact list, one file and the summary; records calls. */
function fakeFetch(routes: Record<string, () => Response>): Call[] {
  const calls: Call[] = [];
  (globalThis as { fetch: unknown }).fetch = async (url: string, init?: { headers?: Record<string, string> }) => {
    calls.push({ url, headers: init?.headers ?? {} });
    const path = new URL(url).pathname + new URL(url).search;
    const route = routes[path];
    return route ? route() : new Response('{"message":"not found"}', { status: 404 });
  };
  return calls;
}

const json =
  (body: unknown): (() => Response) =>
  () =>
    new Response(JSON.stringify(body), { status: 200 });

const ARTIFACTS = [
  {
    step_id: 'build',
    path: 'dist/app.whl',
    size: 1536,
    sha256: 'ab',
    media_type: 'application/zip',
    url: '/ansflow/api/executions/ex-1/artifacts/build/dist/app.whl'
  },
  {
    step_id: 'build',
    path: 'plot.png',
    size: 3 * 1024 * 1024,
    sha256: 'cd',
    media_type: 'image/png',
    url: '/ansflow/api/executions/ex-1/artifacts/build/plot.png'
  },
  {
    step_id: 'other',
    path: 'not-mine.txt',
    size: 5,
    sha256: 'ef',
    media_type: 'text/plain',
    url: '/ansflow/api/executions/ex-1/artifacts/other/not-mine.txt'
  }
];

const XSS = [
  '# Report <img src=x onerror=alert(1)>',
  '',
  'Hello <script>alert(2)</script> **bold** and *em* and `code`.',
  '',
  '- [bad](javascript:alert(3))',
  '- [good](https://example.com/x)',
  '- ![remote](https://evil.example/pixel.png)',
  '',
  '```',
  '<b>not bold</b>',
  '```'
].join('\n');

const mounted: Array<() => void> = [];
let configEl: HTMLElement | null = null;
beforeEach(() => {
  configEl = pageToken();
});
afterEach(() => {
  for (const stop of mounted.splice(0)) stop();
  configEl?.remove();
});

function serverData(openRun: ((id: string) => void) | null = null): StepData {
  const model = new FakeModel({ mode: 'server', execution_id: EXEC, base_url: '/' });
  const transport = new ServerTransport(model, {
    onEvents: () => undefined,
    onState: () => undefined,
    since: () => 0,
    finished: () => true
  });
  const data = new StepData(transport.data, openRun);
  container().append(data.node);
  return data;
}

describe('step data: outputs and cache line', () => {
  it('shows outputs as a text-only key/value table and the cache line; asks the kernel for files (embedded view)', async () => {
    const el = container();
    const model = new FakeModel();
    mounted.push(mountExecutionView(el, model));
    model.push([
      snapshot(1, [
        { step_id: 'build', status: 'running' },
        { step_id: 'old', status: 'success', reason: 'cached', cached_from: '0123456789abcdef' }
      ]),
      env(2, 'step_update', {
        step_id: 'build',
        status: 'success',
        outputs: { version: '1.2.3', html: '<img src=x onerror=alert(1)>' },
        cache_miss: 'inputs changed: src/app.py',
        artifacts: { count: 2, bytes: 2048 },
        summary: 40
      })
    ]);
    await frames();
    (el.querySelector('.af-pane [data-step="build"]') as HTMLElement).dispatchEvent(
      new window.MouseEvent('click', { bubbles: true }) as unknown as Event
    );
    await frames();
    const rows = Array.from(el.querySelectorAll('.af-outputs tr')).map(tr => [text(tr.children[0]), text(tr.children[1])]);
    assert.deepEqual(rows, [
      ['version', '1.2.3'],
      ['html', '<img src=x onerror=alert(1)>']
    ]);
    assert.equal(el.querySelectorAll('.af-stepdata img').length, 0, 'an output value is never HTML');
    assert.equal(text(el.querySelector('.af-cache')), 'cache miss: inputs changed: src/app.py');
    // Embedded mode asks the kernel over widget messages (no REST API there).
    const asked = model.sent.filter(m => (m as { type?: string }).type === 'data').map(m => (m as { op: string }).op);
    assert.deepEqual(asked.sort(), ['artifacts', 'summary']);
    assert.ok(!text(el.querySelector('.af-stepdata')).includes(EMBEDDED_NOTE));
    (el.querySelector('.af-pane [data-step="old"]') as HTMLElement).dispatchEvent(
      new window.MouseEvent('click', { bubbles: true }) as unknown as Event
    );
    await frames();
    assert.equal(text(el.querySelector('.af-cache')), 'cached from run 01234567');
    assert.equal(el.querySelector('.af-outputs'), null);
  });

  it('links a cache hit to the run it came from (server mode)', () => {
    const opened: string[] = [];
    const data = serverData(id => opened.push(id));
    data.render(EXEC, { step_id: 'a', status: 'success', reason: 'cached', cached_from: 'fedcba9876543210' });
    assert.equal(text(data.node.querySelector('.af-cache')), 'cached from run fedcba98 open');
    (data.node.querySelector('.af-openrun') as HTMLElement).click();
    assert.deepEqual(opened, ['fedcba9876543210']);
  });

  it('is hidden for a step with nothing to show', async () => {
    const data = serverData();
    data.render(EXEC, { step_id: 'a', status: 'success' });
    assert.equal(data.node.style.display, 'none');
  });

  it('says sizes in binary units', () => {
    assert.deepEqual([0, 1023, 1536, 3 * 1024 * 1024, 20 * 1024 ** 3].map(humanSize), ['0 B', '1023 B', '1.5 KiB', '3.0 MiB', '20 GiB']);
  });
});

describe('step data: artifacts (server mode)', () => {
  it("lists the step's files with sizes, previews an image and downloads from a Blob, token in a header only", async () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);
    const calls = fakeFetch({
      '/ansflow/api/executions/ex-1/artifacts': json(ARTIFACTS),
      '/ansflow/api/executions/ex-1/artifacts/build/plot.png': () =>
        new Response(png, { status: 200, headers: { 'Content-Type': 'image/png' } }),
      '/ansflow/api/executions/ex-1/artifacts/build/dist/app.whl': () => new Response('wheel', { status: 200 })
    });
    const data = serverData();
    data.render(EXEC, { step_id: 'build', status: 'success', artifacts: { count: 2, bytes: 1536 + 3 * 1024 * 1024 } } as never);
    await frames();
    assert.equal(text(data.node.querySelector('.af-dtitle')), 'Artifacts: 2 files, 3.0 MiB');
    const items = Array.from(data.node.querySelectorAll('.af-artifact'));
    assert.deepEqual(
      items.map(li => [text(li.querySelector('.af-aname')), text(li.querySelector('.af-asize'))]),
      [
        ['dist/app.whl', '1.5 KiB'],
        ['plot.png', '3.0 MiB']
      ],
      "only this step's files"
    );
    assert.equal(items[0].querySelector('.af-apreview'), null, 'a wheel: download only');
    (items[1].querySelector('.af-apreview') as HTMLElement).click();
    await frames();
    const img = data.node.querySelector('.af-preview img') as HTMLImageElement;
    assert.ok(img, 'the image is previewed inline');
    assert.match(img.getAttribute('src') ?? '', /^blob:/, 'from a Blob URL, not the server URL');
    // Download: the file comes through fetch and is saved from a Blob.
    const saved: Array<{ href: string; download: string }> = [];
    const proto = (window as unknown as { HTMLAnchorElement: { prototype: { click: () => void } } }).HTMLAnchorElement.prototype;
    const click = proto.click;
    proto.click = function (this: HTMLAnchorElement) {
      saved.push({ href: this.href, download: this.download });
    };
    try {
      (items[0].querySelector('.af-adownload') as HTMLElement).click();
      await frames();
    } finally {
      proto.click = click;
    }
    assert.equal(saved.length, 1);
    assert.match(saved[0].href, /^blob:/);
    assert.equal(saved[0].download, 'app.whl');
    assert.deepEqual(
      calls.map(c => new URL(c.url).pathname),
      [
        '/ansflow/api/executions/ex-1/artifacts',
        '/ansflow/api/executions/ex-1/artifacts/build/plot.png',
        '/ansflow/api/executions/ex-1/artifacts/build/dist/app.whl'
      ]
    );
    for (const c of calls) {
      assert.doesNotMatch(c.url, /sekrit/, 'no token in a URL');
      assert.equal(c.headers.Authorization, 'token sekrit');
    }
    data.release();
  });

  it('says so when the list cannot be read', async () => {
    fakeFetch({});
    const data = serverData();
    data.render(EXEC, { step_id: 'build', artifacts: { count: 1, bytes: 5 } } as never);
    await frames();
    assert.match(text(data.node.querySelector('.af-note')), /could not list the artifacts: Error: HTTP 404/);
  });
});

describe('step data: summary (server mode)', () => {
  it('renders the Markdown summary sanitized: HTML and javascript: links stay text', async () => {
    const calls = fakeFetch({
      '/ansflow/api/executions/ex-1/summary?step=build': json({
        execution_id: EXEC,
        summaries: [{ step_id: 'build', attempt: 1, markdown: XSS }]
      })
    });
    const data = serverData();
    data.render(EXEC, { step_id: 'build', status: 'success', summary: XSS.length } as never);
    await frames();
    assert.equal(calls.length, 1);
    const box = data.node.querySelector('.af-summary') as HTMLElement;
    assert.equal(text(box.querySelector('h3')), 'Report <img src=x onerror=alert(1)>');
    assert.equal(box.querySelectorAll('img, script, iframe').length, 0, 'no element from user text');
    assert.match(text(box.querySelector('p')), /Hello <script>alert\(2\)<\/script> bold and em and code\./);
    assert.equal(text(box.querySelector('p strong')), 'bold');
    assert.equal(text(box.querySelector('p em')), 'em');
    assert.equal(text(box.querySelector('p code')), 'code');
    const links = Array.from(box.querySelectorAll('a'));
    assert.deepEqual(
      links.map(a => [a.textContent, a.getAttribute('href')]),
      [
        ['good', 'https://example.com/x'],
        ['remote', 'https://evil.example/pixel.png']
      ],
      'only http(s) links; a remote image is a link, never loaded'
    );
    const items = Array.from(box.querySelectorAll('li')).map(li => li.textContent);
    assert.equal(items[0], '[bad](javascript:alert(3))', 'a javascript: link stays text');
    assert.equal(text(box.querySelector('pre code')), '<b>not bold</b>');
    for (const node of Array.from(box.querySelectorAll('*'))) {
      for (const attr of Array.from(node.attributes)) {
        assert.doesNotMatch(attr.name, /^on/, `no event handler attribute on <${node.tagName}>`);
      }
    }
  });

  it('keeps headings, ordered lists and paragraphs apart', () => {
    const box = document.createElement('div');
    box.append(renderMarkdown('## Results\n1. one\n2. two\n\nsecond\nline'));
    assert.deepEqual(
      Array.from(box.children).map(c => c.tagName.toLowerCase()),
      ['h4', 'ol', 'p']
    );
    assert.equal(box.querySelectorAll('ol li').length, 2);
    assert.equal(text(box.querySelector('p')), 'second line');
  });
});
