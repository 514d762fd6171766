import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KernelData, parseKernelUrl } from '../widget/kerneldata';

const FILE = new TextEncoder().encode('a,b\n1,2\n3,4\n');
const URL_ = 'ansflow-kernel:ex-1/build/out/t%20able.csv';

/** A kernel answering as kernel/widget_data.py does, with 5-byte pieces instead of 8 MiB. */
function kernel(): { data: KernelData; requests: Array<Record<string, unknown>> } {
  const requests: Array<Record<string, unknown>> = [];
  const data: KernelData = new KernelData(content => {
    const req = content as Record<string, unknown>;
    requests.push(req);
    queueMicrotask(() => {
      const id = req.id;
      if (req.execution_id !== 'ex-1') {
        data.onMessage({ type: 'data_reply', id, ok: false, error: 'not the one this view shows' }, []);
      } else if (req.op === 'artifacts') {
        const row = { step_id: 'build', path: 'out/t able.csv', size: FILE.length, url: URL_ };
        data.onMessage({ type: 'data_reply', id, ok: true, artifacts: [row] }, []);
      } else if (req.op === 'summary') {
        data.onMessage({ type: 'data_reply', id, ok: true, markdown: '# Done' }, []);
      } else {
        const offset = Number(req.offset);
        const end = Math.min(FILE.length, offset + Math.min(Number(req.length ?? 5), 5));
        const piece = FILE.slice(offset, end);
        const reply = { type: 'data_reply', id, ok: true, size: FILE.length, offset, length: piece.length, media_type: 'text/csv' };
        data.onMessage(reply, [new DataView(piece.buffer)]);
      }
    });
  });
  return { data, requests };
}

describe('embedded artifacts over widget messages', () => {
  it('lists artifacts and reads a summary', async () => {
    const { data } = kernel();
    const rows = await data.artifacts('ex-1');
    assert.equal(rows[0]?.url, URL_);
    assert.equal(await data.summary('ex-1', 'build'), '# Done');
  });

  it('reads a whole file piece by piece, and only the first bytes a preview asks for', async () => {
    const { data, requests } = kernel();
    const whole = await data.blob(URL_);
    assert.equal(whole.type, 'text/csv');
    assert.equal(await whole.text(), 'a,b\n1,2\n3,4\n');
    assert.deepEqual(
      requests.map(r => r.offset),
      [0, 5, 10]
    );
    assert.equal(requests[0]?.path, 'out/t able.csv');
    requests.length = 0;
    const head = await data.blob(URL_, 4);
    assert.equal(await head.text(), 'a,b\n');
    assert.deepEqual(
      requests.map(r => [r.offset, r.length]),
      [[0, 4]]
    );
  });

  it('rejects what the kernel refuses, and what is still waiting when the view closes', async () => {
    const { data } = kernel();
    await assert.rejects(data.artifacts('other'), /not the one this view shows/);
    const silent = new KernelData(() => {});
    const waiting = silent.summary('ex-1', 'build');
    silent.dispose();
    await assert.rejects(waiting, /closed/);
    assert.throws(() => parseKernelUrl('/ansflow/api/x'), /not an embedded artifact address/);
    assert.deepEqual(parseKernelUrl('ansflow-kernel:e/s%5Bx%3D1%5D/a/b%20c'), ['e', 's[x=1]', 'a/b c']);
  });
});
