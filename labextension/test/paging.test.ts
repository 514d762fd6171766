import './dom';
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { parsePermalink, permalinkUrl } from '../widget/permalink';
import { serverQuery } from '../widget/paging';
import { findMatches } from '../widget/search';
import type { LogGroup } from '../widget/types';
import { mountExecutionView } from '../widget/view';
import { container, FakeModel, frames, pageToken } from './dom';
import { EXEC } from './helpers';

const BIG = 30_000;
/** "needle" only at lines 5 and 6 (never in the 20,000 lines loaded at first) and 29,990. */
const bigLine = (i: number): string => (i === 5 || i === 6 || i === 29_990 ? `line ${i} NeedLe` : `line ${i}`);
const LOGS: Record<string, string[]> = {
  big: Array.from({ length: BIG }, (_, i) => bigLine(i)),
  small: ['one', 'two', 'three']
};

/** The server's matching: /(?i)literal/ ignores case, /re/ is a regex, else a substring. */
function matcher(q: string): (line: string) => boolean {
  if (q.startsWith('/(?i)') && q.endsWith('/')) {
    const re = new RegExp(q.slice(5, -1), 'i');
    return line => re.test(line);
  }
  if (q.startsWith('/') && q.endsWith('/')) {
    const re = new RegExp(q.slice(1, -1));
    return line => re.test(line);
  }
  return line => line.includes(q);
}

const requests: string[] = [];
/** The log groups of the snapshot (finished good ones start collapsed). */
let GROUPS: LogGroup[] = [];
const group = (index: number, title: string, start_offset: number, end_offset: number): LogGroup => ({
  step_id: 'big',
  index,
  kind: 'group',
  title,
  status: 'success',
  start_offset,
  end_offset
});

/** The REST log endpoint over LOGS, as the server answers it. */
async function fakeFetch(url: string, init?: { headers?: Record<string, string> }): Promise<Response> {
  requests.push(url);
  assert.equal(init?.headers?.Authorization, 'token sekrit');
  const u = new URL(url);
  const step = u.searchParams.get('step');
  const offset = Number(u.searchParams.get('offset') ?? 0);
  const limit = Number(u.searchParams.get('limit') ?? 100_000);
  const q = u.searchParams.get('q');
  const steps = step ? [step] : Object.keys(LOGS);
  let all = steps.flatMap(id => LOGS[id].map((line, i) => ({ step_id: id, offset: i, stream: 'stdout', line, ts: 1000 + i })));
  if (step) all = all.filter(l => l.offset >= offset);
  if (q) {
    const match = matcher(q);
    all = all.filter(l => match(l.line));
  }
  const lines = all.slice(0, limit);
  const body: Record<string, unknown> = {
    execution_id: EXEC,
    lines,
    next_offset: lines.length ? lines[lines.length - 1].offset + 1 : offset
  };
  if (u.searchParams.get('count') === '1') body.total = all.length;
  // A server takes a while: the view says "loading…" meanwhile.
  await new Promise(resolve => setTimeout(resolve, 100));
  return new Response(JSON.stringify(body), { status: 200 });
}

/** A WebSocket that answers with the snapshot of a finished execution. */
class SnapshotSocket {
  onopen: (() => void) | null = null;
  onmessage: ((ev: { data: string }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  constructor(readonly url: string) {
    assert.ok(!url.includes('sekrit') || url.includes('token='), url);
    setTimeout(() => {
      this.onopen?.();
      const steps = Object.entries(LOGS).map(([step_id, lines]) => ({
        step_id,
        status: 'success',
        log_lines: lines.length,
        groups: GROUPS.filter(g => g.step_id === step_id)
      }));
      const snapshot = {
        v: 1,
        seq: 5,
        type: 'snapshot',
        execution_id: EXEC,
        data: { execution: { execution_id: EXEC, pipeline_name: 'big', status: 'success', steps_total: 2, steps_done: 2 }, steps }
      };
      this.onmessage?.({ data: JSON.stringify(snapshot) });
    }, 0);
  }
  close(): void {}
}

const mounted: Array<() => void> = [];
let configEl: HTMLElement | null = null;
beforeEach(() => {
  configEl = pageToken();
  (globalThis as { WebSocket?: unknown }).WebSocket = SnapshotSocket;
  (globalThis as { fetch: unknown }).fetch = fakeFetch;
  requests.length = 0;
  GROUPS = [];
});
afterEach(() => {
  for (const stop of mounted.splice(0)) stop();
  configEl?.remove();
});

const text = (el: Element | null | undefined): string => (el?.textContent ?? '').replace(/\s+/g, ' ').trim();

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 600 && !check(); i++) await frames();
  assert.ok(
    check(),
    `timed out waiting for ${what}: ${text(document.querySelector('.af-earlier'))} ${text(document.querySelector('.af-mcount'))} ${requests.slice(-4).join(' ')}`
  );
}

async function attach(): Promise<{ el: HTMLElement; model: FakeModel; view: HTMLElement }> {
  const el = container();
  const model = new FakeModel({ mode: 'server', execution_id: EXEC, base_url: '/jupyter/' });
  mounted.push(mountExecutionView(el, model));
  const view = el.querySelector('.af-logview') as HTMLElement;
  // happy-dom does no layout: give the log view a 300 px viewport over its spacer's height.
  const spacer = el.querySelector('.af-scroll-spacer') as HTMLElement;
  Object.defineProperty(view, 'clientHeight', { get: () => 300 });
  Object.defineProperty(view, 'scrollHeight', { get: () => Number.parseFloat(spacer.style.height) || 0 });
  const select = el.querySelector('.af-logbar select') as HTMLSelectElement;
  await until('the steps', () => select.options.length === 3);
  select.value = 'big';
  select.dispatchEvent(new window.Event('change') as unknown as Event);
  await until('the back-filled tail', () => requests.some(u => /step=big&offset=10000&limit=4000/.test(u)));
  await new Promise(resolve => setTimeout(resolve, 400)); // its answer is in (100 ms)
  return { el, model, view };
}

const rowTexts = (el: HTMLElement): string[] => Array.from(el.querySelectorAll('.af-rows .af-row')).map(r => text(r));

describe('load earlier', () => {
  it('fetches the page before the first line when the top is reached, without moving the view', async () => {
    const { el, view } = await attach();
    // Only the last 20,000 lines came at first: a small page, then the rest in pages.
    assert.ok(
      requests.some(u => /step=big&offset=29000&limit=1000/.test(u)),
      requests.join('\n')
    );
    const tail = requests.filter(u => u.includes('step=big')).map(u => new URL(u).search);
    assert.deepEqual(tail, [
      '?step=big&offset=29000&limit=1000',
      '?step=big&offset=24000&limit=5000',
      '?step=big&offset=19000&limit=5000',
      '?step=big&offset=14000&limit=5000',
      '?step=big&offset=10000&limit=4000'
    ]);
    const toTop = async (): Promise<void> => {
      view.scrollTop = 0;
      view.dispatchEvent(new window.Event('scroll') as unknown as Event);
      await frames();
    };
    await toTop();
    assert.match(text(el.querySelector('.af-earlier')), /^⋯ 10,000 earlier lines · loading…$/);
    // The page came in above: the view moved down by as many rows, the same lines in sight.
    await until('the first earlier page', () => view.scrollTop === 5_000 * 18);
    assert.ok(
      requests.some(u => /step=big&offset=5000&limit=5000/.test(u)),
      requests.join('\n')
    );
    assert.ok(
      rowTexts(el).some(t => t.endsWith('line 10000')),
      rowTexts(el).join('|')
    );
    assert.ok(
      rowTexts(el).some(t => t.endsWith('line 9999')),
      rowTexts(el).join('|')
    );
    await toTop();
    assert.match(text(el.querySelector('.af-earlier')), /^⋯ 5,000 earlier lines · loading…$/);
    await until('the beginning', () => view.scrollTop === 5_000 * 18);
    await toTop();
    assert.equal(text(el.querySelector('.af-earlier')), '— beginning of log —');
    assert.equal(rowTexts(el)[1], '1line 0');
  });

  it('loads earlier lines of every step in the all-steps view', async () => {
    const { el, view } = await attach();
    const select = el.querySelector('.af-logbar select') as HTMLSelectElement;
    select.value = '';
    select.dispatchEvent(new window.Event('change') as unknown as Event);
    await frames();
    view.scrollTop = 0;
    view.dispatchEvent(new window.Event('scroll') as unknown as Event);
    await frames();
    assert.match(
      text(el.querySelector('.af-earlier')),
      /^⋯ 10,000 earlier lines · loading…$/,
      `${view.scrollTop} ${rowTexts(el).slice(0, 3)}`
    );
    await until('the earlier page', () => requests.some(u => /step=big&offset=5000&limit=5000/.test(u)) && view.scrollTop > 0);
    assert.ok(!requests.some(u => /step=small&offset=0&limit=0/.test(u)), 'a step held from its first line is not asked again');
  });

  it('says what embedded mode shows: the lines the kernel sent, no paging', async () => {
    const el = container();
    const model = new FakeModel();
    mounted.push(mountExecutionView(el, model));
    model.push([
      {
        v: 1,
        seq: 1,
        type: 'snapshot',
        execution_id: EXEC,
        data: { execution: { execution_id: EXEC, status: 'success' }, steps: [{ step_id: 'a', status: 'success', log_lines: 10 }] }
      },
      { v: 1, seq: 2, type: 'log_update', execution_id: EXEC, data: { step_id: 'a', offset: 8, lines: ['x', 'y'] } }
    ]);
    await frames();
    assert.match(text(el.querySelector('.af-earlier')), /8 earlier lines not shown here — use Download/);
    assert.equal(el.querySelectorAll('.af-plink').length, 0, 'no permalinks without a server');
  });
});

describe('whole-log search on the server', () => {
  it('counts every match of the stored log and loads the lines around each hit', async () => {
    const { el } = await attach();
    const search = el.querySelector('.af-logbar input[type=search]') as HTMLInputElement;
    const count = el.querySelector('.af-mcount') as HTMLElement;
    search.value = 'needle';
    search.dispatchEvent(new window.Event('input') as unknown as Event);
    await until('the count', () => text(count) === '0 of 3 matches');
    assert.ok(
      requests.some(u => u.includes('count=1') && u.includes(encodeURIComponent('/(?i)needle/'))),
      requests.join('\n')
    );
    search.dispatchEvent(new window.KeyboardEvent('keydown', { key: 'Enter' }) as unknown as Event);
    await until('the first hit', () => text(count) === '1 of 3 matches' && /line 5 NeedLe/.test(text(el.querySelector('.af-row.af-cur'))));
    search.dispatchEvent(new window.KeyboardEvent('keydown', { key: 'Enter' }) as unknown as Event);
    await until('the second hit', () => /line 6 NeedLe/.test(text(el.querySelector('.af-row.af-cur'))));
    assert.equal(text(count), '2 of 3 matches');
    search.dispatchEvent(new window.KeyboardEvent('keydown', { key: 'Enter' }) as unknown as Event);
    await until('the third hit', () => /line 29990 NeedLe/.test(text(el.querySelector('.af-row.af-cur'))));
  });

  it('counts and steps through hits in the all-steps view too', async () => {
    const { el } = await attach();
    const select = el.querySelector('.af-logbar select') as HTMLSelectElement;
    select.value = '';
    select.dispatchEvent(new window.Event('change') as unknown as Event);
    const search = el.querySelector('.af-logbar input[type=search]') as HTMLInputElement;
    const count = el.querySelector('.af-mcount') as HTMLElement;
    search.value = 'NEEDLE';
    search.dispatchEvent(new window.Event('input') as unknown as Event);
    await until('the count', () => text(count) === '0 of 3 matches');
    assert.ok(
      requests.some(u => u.includes('count=1') && u.includes('limit=10000') && !u.includes('step=')),
      requests.join('\n')
    );
    search.dispatchEvent(new window.KeyboardEvent('keydown', { key: 'Enter' }) as unknown as Event);
    await until('the first hit', () => /big.*line 5 NeedLe/.test(text(el.querySelector('.af-row.af-cur'))));
    assert.equal(text(count), '1 of 3 matches');
  });

  it('searches held lines with /regex/ too, the way the server would', () => {
    const held = ['Error: boom', 'ok', 'error 42', 'a/b'];
    assert.deepEqual(
      findMatches(held.length, i => held[i], '/^[Ee]rror/'),
      [0, 2]
    );
    assert.deepEqual(
      findMatches(held.length, i => held[i], '/\\d+$/'),
      [2]
    );
    assert.deepEqual(
      findMatches(held.length, i => held[i], '/[/'),
      [],
      'an invalid regex is text'
    );
    assert.deepEqual(
      findMatches(held.length, i => held[i], 'a/b'),
      [3]
    );
  });

  it('escapes plain text and passes /regex/ through', () => {
    assert.equal(serverQuery('a.b (c)'), '/(?i)a\\.b \\(c\\)/');
    assert.equal(serverQuery('/err(or)?$/'), '/err(or)?$/');
  });
});

describe('line permalinks', () => {
  it('gives each line a link without the token, and a focus opens that line highlighted', async () => {
    const { el, model } = await attach();
    const link = el.querySelector('.af-row:not(.af-info) .af-plink') as HTMLAnchorElement;
    assert.ok(link, 'a link icon on the lines');
    assert.ok(!link.href.includes('sekrit') && !link.href.includes('token'), link.href);
    const target = parsePermalink(new URL(link.href).search);
    assert.equal(target?.executionId, EXEC);
    assert.equal(target?.stepId, 'big');
    assert.match(link.href, /^http:\/\/localhost:8888\/jupyter\/lab\?ansflow-execution=/);
    model.set('focus', { step_id: 'big', offset: 7 });
    await until('line 8 highlighted', () => text(el.querySelector('.af-row.af-focus')).endsWith('line 7'));
    assert.equal(text(el.querySelector('.af-row.af-focus .af-ln')), '8');
  });

  it('round-trips a link and refuses incomplete ones', () => {
    const url = permalinkUrl('/base/', { executionId: 'e1', stepId: 'test[python=3.13]', offset: 41 });
    assert.deepEqual(parsePermalink(new URL(url).search), { executionId: 'e1', stepId: 'test[python=3.13]', offset: 41 });
    assert.equal(parsePermalink('?ansflow-execution=e1&ansflow-step=a'), null);
    assert.equal(parsePermalink('?ansflow-execution=e1&ansflow-step=a&ansflow-line=0'), null);
  });
});

describe('groups over paged history', () => {
  const header = (el: HTMLElement, title: string): Element | undefined =>
    Array.from(el.querySelectorAll('.af-ghead')).find(h => text(h.querySelector('.af-gtitle')) === title);

  it('a permalink into a collapsed group of an unloaded page loads it and opens the group at the line', async () => {
    GROUPS = [group(0, 'Setup', 0, 100), group(1, 'Tail', 29_900, 30_000)];
    const { el, model } = await attach();
    assert.equal(header(el, 'Tail')?.getAttribute('aria-expanded'), 'false');
    model.set('focus', { step_id: 'big', offset: 7 });
    await until('line 8 highlighted', () => text(el.querySelector('.af-row.af-focus')).endsWith('line 7'));
    assert.equal(text(el.querySelector('.af-row.af-focus .af-ln')), '8');
    assert.equal(header(el, 'Setup')?.getAttribute('aria-expanded'), 'true');
    const rows = rowTexts(el);
    const at = rows.findIndex(t => t.endsWith('line 7'));
    assert.deepEqual(rows.slice(at - 2, at + 2), ['6line 5 NeedLe', '7line 6 NeedLe', '8line 7', '9line 8']);
  });

  it('a server search hit inside a collapsed group of an unloaded page opens it at the hit', async () => {
    GROUPS = [group(0, 'Setup', 0, 100)];
    const { el } = await attach();
    const search = el.querySelector('.af-logbar input[type=search]') as HTMLInputElement;
    search.value = 'needle';
    search.dispatchEvent(new window.Event('input') as unknown as Event);
    await until('the count', () => text(el.querySelector('.af-mcount')) === '0 of 3 matches');
    search.dispatchEvent(new window.KeyboardEvent('keydown', { key: 'Enter' }) as unknown as Event);
    await until('the first hit', () => /^6line 5 NeedLe$/.test(text(el.querySelector('.af-row.af-cur'))));
    assert.equal(header(el, 'Setup')?.getAttribute('aria-expanded'), 'true');
  });

  it('keeps the same line at the top when an earlier page brings a collapsed group', async () => {
    GROUPS = [group(0, 'Old', 6_000, 9_000)];
    const { el, view } = await attach();
    assert.equal(header(el, 'Old'), undefined, 'no header for a group before the held lines');
    view.scrollTop = 0;
    view.dispatchEvent(new window.Event('scroll') as unknown as Event);
    await frames();
    // Lines 5000..5999, the closed group's header, lines 9000..9999: 2,001 rows above line 10000.
    await until('the earlier page', () => view.scrollTop === 2_001 * 18);
    const rows = rowTexts(el);
    const at = rows.indexOf('10001line 10000');
    assert.ok(at > 0 && rows[at - 1] === '10000line 9999', rows.join('|'));
    view.scrollTop = 1_000 * 18;
    view.dispatchEvent(new window.Event('scroll') as unknown as Event);
    await until('the closed header in sight', () => header(el, 'Old')?.getAttribute('aria-expanded') === 'false');
    assert.ok(rowTexts(el).includes('6000line 5999'), rowTexts(el).join('|'));
  });
});
