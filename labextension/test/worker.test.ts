import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { packFrame } from '../widget/packed';
import { ReconnectingSocket } from '../widget/transport';
import type { Envelope } from '../widget/types';

/** The page's frame worker, answering a little later as a real one does (same packFrame). */
class FakeWorker {
  static started = 0;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onerror: ((ev: { preventDefault(): void }) => void) | null = null;
  constructor(readonly url: string) {
    FakeWorker.started++;
  }
  postMessage([id, text]: [number, string]): void {
    setTimeout(() => this.onmessage?.({ data: [id, packFrame(text).events, null] }), 5);
  }
  terminate(): void {}
}

class FakeSocket {
  static all: FakeSocket[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((ev: { data: string }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  close(): void {}
}

const g = globalThis as Record<string, unknown>;
g.Worker = FakeWorker;
g.WebSocket = FakeSocket;
const settle = (): Promise<void> => new Promise(resolve => setTimeout(resolve, 40));
const lines = (n: number, from: number): string[] => Array.from({ length: n }, (_, i) => `line ${from + i}`);

describe('frames parsed in a worker', () => {
  it('arrive in order, packed, and a close right after the final frame ends the stream', async () => {
    const events: Envelope[] = [];
    const states: string[] = [];
    const socket = new ReconnectingSocket({
      url: () => 'ws://x/ws',
      since: () => 0,
      onEvents: evs => events.push(...evs),
      onState: state => states.push(state),
      done: () => false // the view has not applied the final update yet
    });
    try {
      const ws = FakeSocket.all[0];
      ws.onopen?.();
      // A small frame with nothing in the worker is parsed at once: a trickle gets no extra hop.
      ws.onmessage?.({ data: JSON.stringify([{ seq: 1, type: 'snapshot', execution_id: 'e', data: {} }]) });
      assert.deepEqual(
        events.map(e => e.seq),
        [1]
      );
      const log = (seq: number, offset: number) => ({
        seq,
        type: 'log_update',
        execution_id: 'e',
        data: { step_id: 's', offset, lines: lines(4000, offset), ts: lines(4000, 0).map((_, i) => 1 + offset + i) }
      });
      ws.onmessage?.({ data: JSON.stringify([log(2, 0)]) });
      // Small, but behind a frame in the worker: it waits its turn.
      ws.onmessage?.({ data: JSON.stringify([{ seq: 3, type: 'step_update', execution_id: 'e', data: { step_id: 's' } }]) });
      ws.onmessage?.({
        data: JSON.stringify([log(4, 4000), { seq: 5, type: 'execution_update', execution_id: 'e', data: { status: 'success' } }])
      });
      ws.onclose?.({ code: 1000, reason: 'execution finished' }); // before the worker answered
      assert.equal(events.length, 1, 'big frames are not parsed on the main thread');
      await settle();
      assert.equal(FakeWorker.started, 1);
      assert.deepEqual(
        events.map(e => e.seq),
        [1, 2, 3, 4, 5]
      );
      assert.ok(events[1].data.packed, 'a big log batch comes packed');
      assert.deepEqual(states, ['connecting', 'live', 'closed'], 'no reconnect after the end');
      assert.equal(FakeSocket.all.length, 1);
    } finally {
      socket.dispose();
    }
  });
});
