import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { CLOSE_LAGGED, CLOSE_UNKNOWN, ReconnectingSocket, type ConnectionState } from '../widget/transport';
import type { Envelope } from '../widget/types';

/** A stand-in for the browser WebSocket: records URLs, lets the test drive events. */
class FakeSocket {
  static all: FakeSocket[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((ev: { data: string }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  closed = false;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  close(): void {
    this.closed = true;
  }
}

describe('ReconnectingSocket', () => {
  let states: string[];
  let events: Envelope[];
  let seq: number;
  let done: boolean;

  beforeEach(() => {
    FakeSocket.all = [];
    (globalThis as { WebSocket?: unknown }).WebSocket = FakeSocket;
    mock.timers.enable({ apis: ['setTimeout'] });
    states = [];
    events = [];
    seq = 0;
    done = false;
  });
  afterEach(() => mock.timers.reset());

  const open = (): ReconnectingSocket =>
    new ReconnectingSocket({
      url: since => (since ? `ws://x/ws?since=${since}` : 'ws://x/ws'),
      since: () => seq,
      onEvents: evs => {
        events.push(...evs);
        seq = Math.max(seq, ...evs.map(e => e.seq ?? 0));
      },
      onState: (s: ConnectionState, detail?: string) => states.push(detail ? `${s}:${detail}` : s),
      done: () => done
    });

  it('delivers frames with one envelope or a list, and resumes with since after a drop', () => {
    const sock = open();
    const first = FakeSocket.all[0];
    first.onopen?.();
    first.onmessage?.({ data: JSON.stringify({ seq: 1, type: 'snapshot', execution_id: 'e', data: {} }) });
    first.onmessage?.({ data: JSON.stringify([{ seq: 2 }, { seq: 3 }]) });
    const warn = mock.method(console, 'warn', () => undefined);
    first.onmessage?.({ data: 'not json' }); // logged and skipped
    assert.equal(warn.mock.callCount(), 1);
    warn.mock.restore();
    assert.equal(events.length, 3);
    first.onclose?.({ code: 1006, reason: '' });
    assert.equal(FakeSocket.all.length, 1, 'waits before reconnecting');
    mock.timers.tick(500);
    assert.equal(FakeSocket.all[1].url, 'ws://x/ws?since=3');
    assert.deepEqual(states, ['connecting', 'live', 'reconnecting', 'reconnecting']);
    sock.dispose();
    assert.ok(FakeSocket.all[1].closed);
  });

  it('backs off exponentially while the server is down', () => {
    const sock = open();
    const delays = [500, 1000, 2000, 4000];
    for (const delay of delays) {
      FakeSocket.all[FakeSocket.all.length - 1].onclose?.({ code: 1006, reason: '' });
      const before = FakeSocket.all.length;
      mock.timers.tick(delay - 1);
      assert.equal(FakeSocket.all.length, before);
      mock.timers.tick(1);
      assert.equal(FakeSocket.all.length, before + 1);
    }
    sock.dispose();
  });

  it('reconnects at once when lagged (4008) and gives up on an unknown execution (4004)', () => {
    const sock = open();
    seq = 41;
    FakeSocket.all[0].onclose?.({ code: CLOSE_LAGGED, reason: 'lagged' });
    mock.timers.tick(0);
    assert.equal(FakeSocket.all[1].url, 'ws://x/ws?since=41');
    FakeSocket.all[1].onclose?.({ code: CLOSE_UNKNOWN, reason: '' });
    mock.timers.tick(60_000);
    assert.equal(FakeSocket.all.length, 2);
    assert.equal(states[states.length - 1], 'closed:unknown execution');
    sock.dispose();
  });

  it('does not reconnect once the execution is finished', () => {
    const sock = open();
    done = true;
    FakeSocket.all[0].onclose?.({ code: 1000, reason: '' });
    mock.timers.tick(60_000);
    assert.equal(FakeSocket.all.length, 1);
    assert.equal(states[states.length - 1], 'closed');
    sock.dispose();
  });
});
