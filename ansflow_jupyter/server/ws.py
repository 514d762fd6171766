"""Live WebSockets: one execution, or every execution's updates (global monitor).

Every frame is a JSON list of envelopes: events are batched into frames because frames,
not bytes, cost CPU. A client that cannot keep up is closed with 4008 and resumes with
`?since=<last seq>`; the server never buffers more than `ws_queue_events` unsent events
per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado import web
from tornado.iostream import IOStream, StreamClosedError
from tornado.websocket import (
    WebSocketClosedError,
    WebSocketHandler,
    WebSocketProtocol,
    WebSocketProtocol13,
)

from .. import hub
from ..bus import SubscriberLagged, Subscription
from ..errors import AnsFlowError, BadRequest, NotFound
from ..events import Event, heartbeat
from ..hub import Batch
from .base import unavailable_error
from .discovery import KernelAuthMixin
from .errors import http_error
from .handlers import ID

AUTH_RESOURCE = "ansflow"
CLOSE_NOT_FOUND = 4004
CLOSE_LAGGED = 4008
MAX_CLIENT_MESSAGE = 64 * 1024
DRAIN_TIMEOUT = 30.0
# Bigger frames block the browser while it parses them (a 10 MB backlog frame: ~0.3 s).
FRAME_MAX_BYTES = 256 * 1024
MAX_SINCE = 2**62  # seqs are stored as 64-bit integers


class _EventSocket(KernelAuthMixin, WebSocketMixin, WebSocketHandler, JupyterHandler):
    """Relays batches of events to one client: bounded outbox, one frame in flight, heartbeats.

    Batches go into the outbox; whenever no frame is in flight, the outbox is sent as one
    frame (in frames of at most FRAME_MAX_BYTES when it grew bigger), and the next one
    goes when the socket took it. A client that stops reading keeps its frame in flight,
    the outbox passes `ws_queue_events` and the connection is closed with 4008, so memory
    per connection stays bounded."""

    auth_resource = AUTH_RESOURCE
    execution_id = ""

    def initialize(self) -> None:
        """Per-connection state."""
        self._pump: asyncio.Task[None] | None = None
        self.since: int | None = None
        self._outbox: list[Event] = []
        self._outbox_shared = False  # the outbox is a hub Batch: copy before extending
        self._bound = self.option("queue_events", 1_000)  # unsent events before 4008
        self._replies: list[bytes] = []  # answers to client messages, one frame each
        self._in_flight: asyncio.Future[None] | None = None
        self._drained = asyncio.Event()  # the outbox is empty and the last frame was flushed
        self._drained.set()
        self._last_frame = 0.0
        self._heartbeat: asyncio.TimerHandle | None = None
        #: The hub's shortcut for a fresh live batch (see `_direct`); None unless the
        #: connection is plain RFC 6455 over TCP, where the shared frame is the wire bytes.
        self.direct: Callable[[Batch], bool] | None = None

    @property
    def manager(self) -> Any:
        """The ExecutionManager the extension app created."""
        return self.settings["ansflow_manager"]

    def option(self, name: str, fallback: float) -> float:
        """A WebSocket setting of the extension app."""
        return float(self.settings.get("ansflow_ws", {}).get(name, fallback))

    async def authorize(self, action: str) -> None:
        """403 unless the server's authorizer lets the user do `action` on ansflow (503
        when the extension could not start)."""
        error = unavailable_error(self.settings)
        if error is not None:
            raise error
        allowed = await ensure_async(
            self.authorizer.is_authorized(self, self.current_user, action, AUTH_RESOURCE)
        )
        if not allowed:
            raise web.HTTPError(403, f"not authorized to {action} on {AUTH_RESOURCE}")

    def open(self, *args: Any, **kwargs: Any) -> None:
        """Start relaying once the handshake is done."""
        super().open(*args, **kwargs)
        # Live logs are latency-bound and already batched into frames: no Nagle delay.
        self.set_nodelay(True)
        send_buffer = int(self.option("send_buffer", 0))
        conn: Any = self.ws_connection
        if send_buffer > 0 and conn is not None:
            conn.stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
        if type(conn) is WebSocketProtocol13 and conn._compressor is None:
            stream = conn.stream
            if type(stream) is IOStream:  # plain TCP, not TLS
                # Looked up once here: the shortcut runs per subscriber per live batch.
                self._conn13, self._stream = conn, stream
                self._sock_send, self._stream_writing = stream.socket.send, stream.writing
                self.direct = self._direct
        self._last_frame = time.monotonic()
        self._schedule_heartbeat()
        self._pump = asyncio.create_task(self._run())

    def on_close(self) -> None:
        """The client left (or we closed): stop relaying, release the subscription."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        if self._pump is not None and not self._pump.done():
            self._pump.cancel()

    async def _run(self) -> None:
        try:
            await self.pump()
        except SubscriberLagged:
            self.close(CLOSE_LAGGED, "client too slow; resume with ?since=<last seq>")
        except NotFound as exc:
            self.close(CLOSE_NOT_FOUND, str(exc)[:120])
        except (WebSocketClosedError, StreamClosedError, asyncio.CancelledError):
            pass
        except AnsFlowError as exc:
            self.close(1011, str(exc)[:120])
        except Exception:
            self.log.exception("ansflow websocket relay failed")
            self.close(1011, "internal error")

    async def pump(self) -> None:
        """Feed the outbox until the source ends (subclasses)."""
        raise NotImplementedError

    async def relay(self, next_batch: Callable[[], Awaitable[list[Event]]]) -> None:
        """Move `await next_batch()` into the outbox until it returns [], then drain."""
        bound = self.option("queue_events", 1_000)
        while batch := await next_batch():
            self.push(batch)
            if self.queued() > bound:
                raise SubscriberLagged
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drained.wait(), DRAIN_TIMEOUT)

    def push(self, batch: Sequence[Event]) -> None:
        """Queue events; send them now unless a frame is in flight."""
        if not self._outbox and isinstance(batch, Batch):
            # Kept as it is (not copied): its frame is then the one every subscriber sends.
            self._outbox, self._outbox_shared = batch, True
        elif self._outbox_shared:
            self._outbox, self._outbox_shared = [*self._outbox, *batch], False
        else:
            self._outbox.extend(batch)
        if self._in_flight is None:
            self._flush()  # sets or clears _drained
        else:
            self._drained.clear()

    def queued(self) -> int:
        """Events and replies waiting behind the frame in flight."""
        return len(self._outbox) + len(self._replies)

    def _flush(self) -> None:
        conn = self.ws_connection
        while self._in_flight is None:
            if conn is None or conn.is_closing():
                if self.queued():
                    self._drained.clear()
                return
            if self._replies:
                payload = self._replies.pop(0)
                wire = _frame_header(len(payload)) + payload
            elif self._outbox:
                payload, wire, taken = next_frame(self._outbox)
                self._outbox, self._outbox_shared = self._outbox[taken:], False
            else:
                self._drained.set()
                return
            self._last_frame = time.monotonic()
            in_flight = self._write(conn, payload, wire)
            if in_flight is not None:
                self._in_flight = in_flight
                self._drained.clear()
                # The callback also retrieves a failed write's exception: none goes unretrieved.
                in_flight.add_done_callback(self._sent)

    def _write(
        self, conn: WebSocketProtocol, payload: bytes, wire: bytes
    ) -> asyncio.Future[None] | None:
        """Send one text frame; None when the kernel took it whole at once.

        Fan-out to thousands of sockets costs what each write costs. Tornado's
        `write_message` builds the frame again for every socket and wraps each write in
        a future and a task of its own; here the frame every subscriber shares is built
        once, and handed to the socket straight away when nothing is queued before it
        (what tornado's stream would do first too), so a client that keeps up costs one
        send() per batch. Only what the kernel did not take goes through the stream."""
        if type(conn) is not WebSocketProtocol13 or conn._compressor is not None:
            return self.write_message(payload)
        stream = conn.stream
        if type(stream) is IOStream and not stream.writing():  # plain TCP (not TLS), idle
            try:
                sent = stream.socket.send(wire)
            except OSError:  # full (EAGAIN) or broken: the stream's own write handles it
                sent = 0
            if sent == len(wire):
                return None
            wire = wire[sent:]
        try:
            return stream.write(wire)
        except StreamClosedError:
            raise WebSocketClosedError from None

    def _direct(self, batch: Batch) -> bool:
        """The shared frame of a fresh live batch straight to an idle socket: one send().

        The hub calls this per subscriber for every live batch, so it does what `push`,
        `_flush` and `_write` would do for an idle connection, and nothing else. False
        (nothing done) when anything is queued or in flight, the connection is closing,
        or the kernel takes none of it: the batch then takes `deliver`."""
        conn = self._conn13
        if (
            self._in_flight is not None
            or self._outbox
            or self._replies
            or conn.server_terminated
            or conn.client_terminated
            or self._stream_writing()
        ):
            return False
        wire = batch.encoded.get("ws") or wire_frame(batch)[1]
        if len(wire) > FRAME_MAX_BYTES:  # big frames: the outbox, where `_flush` cuts them
            return False
        try:
            sent = self._sock_send(wire)
        except OSError:  # full (EAGAIN) or broken: `deliver` queues it or sees it closed
            return False
        self._last_frame = batch.made
        if sent == len(wire):
            return True
        try:  # the rest goes through the stream, as `_write` does
            in_flight = self._stream.write(wire[sent:])
        except StreamClosedError:
            return True  # gone; on_close ends the relay
        self._in_flight = in_flight
        self._drained.clear()
        in_flight.add_done_callback(self._sent)
        return True

    def _sent(self, future: asyncio.Future[None]) -> None:
        self._in_flight = None
        if future.cancelled() or future.exception() is not None:
            return  # the connection is gone; on_close stops the relay
        if self.queued():
            self._flush()
        else:
            self._drained.set()

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Close; a client that is slow to read still gets the close frame for a while.

        Tornado drops the connection 5 s after sending the close frame if the client has
        not answered it; a client that stopped reading has not even received it (it sits
        behind the frame in flight), so it would see EOF without a code. We wait up to
        DRAIN_TIMEOUT instead: the frame in flight and the close frame are all the memory
        that costs. A client that never reads at all cannot be told anything."""
        conn: Any = self.ws_connection
        super().close(code, reason)
        waiting = getattr(conn, "_waiting", None)
        if waiting is not None and hasattr(conn, "_abort"):
            loop = conn.stream.io_loop
            loop.remove_timeout(waiting)
            conn._waiting = loop.call_later(DRAIN_TIMEOUT, conn._abort)

    def _schedule_heartbeat(self) -> None:
        interval = self.option("heartbeat_interval", 15.0)
        if interval > 0:
            due = self._last_frame + interval - time.monotonic()
            loop = asyncio.get_running_loop()
            self._heartbeat = loop.call_later(max(0.0, due), self._beat, interval)

    def _beat(self, interval: float) -> None:
        if time.monotonic() - self._last_frame >= interval * 0.99 and self._in_flight is None:
            with contextlib.suppress(WebSocketClosedError):
                self.push([heartbeat(self.execution_id)])
        self._schedule_heartbeat()

    async def on_message(self, message: str | bytes) -> None:
        """Client requests: ping, cancel (one execution); anything else gets an error frame.

        Replies queue behind the frame in flight like events and count against the same
        bound: a client that sends without reading is closed with 4008."""
        try:
            request = _parse_request(message)
            reply = await self.handle_request(request)
        except (web.HTTPError, AnsFlowError) as exc:
            reply = {"type": "error", "message": http_error(exc)[1]["message"]}
        if self.ws_connection is None or self.ws_connection.is_closing():
            return
        self._replies.append(json.dumps(reply).encode())
        self._drained.clear()
        if self.queued() > self._bound:
            self._replies.clear()
            self.close(CLOSE_LAGGED, "client too slow; resume with ?since=<last seq>")
            return
        with contextlib.suppress(WebSocketClosedError):
            self._flush()

    async def handle_request(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answer one parsed client message."""
        if request.get("type") == "ping":
            return {"type": "pong"}
        raise _ClientError(f"unknown message type {str(request.get('type'))[:100]!r}")


_FRAMES: OrderedDict[tuple[tuple[str, int, str], ...], bytes] = OrderedDict()
_FRAMES_MAX_BYTES = 8 * 2**20
_frames_bytes = 0


def encode_frame(batch: Sequence[Event]) -> bytes:
    """A JSON list of envelopes, UTF-8. Every subscriber of an execution usually gets the
    same batch: it is encoded once (a small cache of recent frames), however many follow it."""
    global _frames_bytes
    if any(event.seq is None for event in batch):
        return _encode(batch)
    key = tuple((event.execution_id, event.seq or 0, event.type.value) for event in batch)
    frame = _FRAMES.get(key)
    if frame is None:
        frame = _FRAMES[key] = _encode(batch)
        _frames_bytes += len(frame)
        while _frames_bytes > _FRAMES_MAX_BYTES and _FRAMES:
            _frames_bytes -= len(_FRAMES.popitem(last=False)[1])
    return frame


def wire_frame(batch: Sequence[Event]) -> tuple[bytes, bytes]:
    """(JSON payload, the whole unmasked, uncompressed text frame a server sends). A hub
    `Batch` keeps both, so every subscriber of the execution sends the same bytes."""
    if isinstance(batch, Batch):
        cached = batch.encoded.get("ws")
        if cached is not None:
            return batch.encoded["json"], cached
    payload = encode_frame(batch)
    wire = _frame_header(len(payload)) + payload
    if isinstance(batch, Batch):
        batch.encoded["json"], batch.encoded["ws"] = payload, wire
    return payload, wire


def next_frame(outbox: Sequence[Event]) -> tuple[bytes, bytes, int]:
    """(JSON payload, wire frame, events taken) of the next frame from `outbox`: at most
    FRAME_MAX_BYTES (a single bigger event goes alone), so a client that fell behind
    gets its backlog in frames it can parse without blocking, not in one huge one.

    A hub `Batch` that fits is sent whole: its frame is then the one every subscriber
    shares. A backlog is cut greedily, each event's JSON coming from the frame cache so
    sockets with the same backlog still encode each event once."""
    if isinstance(outbox, Batch) or len(outbox) == 1:
        payload, wire = wire_frame(outbox)
        if len(payload) <= FRAME_MAX_BYTES or len(outbox) == 1:
            return payload, wire, len(outbox)
    parts: list[bytes] = []
    size = 1
    for event in outbox:
        encoded = encode_frame([event])[1:-1]  # the event's JSON, without the list's []
        if parts and size + len(encoded) + 1 > FRAME_MAX_BYTES:
            break
        parts.append(encoded)
        size += len(encoded) + 1
    payload = b"[" + b",".join(parts) + b"]"
    return payload, _frame_header(len(payload)) + payload, len(parts)


def _frame_header(size: int) -> bytes:
    """The header of a final, unmasked text frame of `size` bytes (RFC 6455 5.2)."""
    if size < 126:
        return struct.pack("!BB", 0x81, size)
    if size <= 0xFFFF:
        return struct.pack("!BBH", 0x81, 126, size)
    return struct.pack("!BBQ", 0x81, 127, size)


def _encode(batch: Sequence[Event]) -> bytes:
    return json.dumps([e.to_dict() for e in batch], separators=(",", ":")).encode()


class _ClientError(BadRequest):
    """A client message the server cannot act on."""


def _parse_request(message: str | bytes) -> dict[str, Any]:
    """A client message as a JSON object with a string `type`."""
    if len(message) > MAX_CLIENT_MESSAGE:
        raise _ClientError(f"message too large ({len(message)} bytes)")
    try:
        request = json.loads(message)
    except RecursionError:
        raise _ClientError("message is nested too deeply") from None
    except (ValueError, UnicodeDecodeError):
        raise _ClientError("message is not valid JSON") from None
    if not isinstance(request, dict) or not isinstance(request.get("type"), str):
        raise _ClientError('message must be a JSON object with a "type"')
    return request


class ExecutionSocket(_EventSocket):
    """`ansflow/ws/executions/{id}`: snapshot (or replay after `since`), then live events.

    It only relays the manager's following (service: replay-then-live through the shared
    hub of the execution); it never reads the store itself."""

    @ws_authenticated
    async def get(self, execution_id: str) -> None:
        """Authorize, parse `since` (400 when bad), then upgrade."""
        await self.authorize("read")
        self.execution_id = execution_id
        raw = self.get_query_argument("since", None)
        if raw is not None:
            try:
                self.since = int(raw)
            except ValueError:
                raise web.HTTPError(400, f"'since' must be an integer, got {raw!r}") from None
            if not 0 <= self.since <= MAX_SINCE:
                raise web.HTTPError(400, f"'since' must be between 0 and {MAX_SINCE}")
        await super().get(execution_id)

    async def pump(self) -> None:
        """Replay, then live; close 1000 once the final execution_update was sent."""
        reason = await self.manager.follow(self.execution_id, self, since=self.since)
        if reason == hub.LAGGED:
            raise SubscriberLagged
        if reason == hub.GONE:
            self.close(1001, "server shutting down")
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drained.wait(), DRAIN_TIMEOUT)
        self.close(1000, "execution finished")

    def deliver(self, batch: Sequence[Event], live: bool) -> bool:
        """Queue a batch for the client; False once the outbox passed `ws_queue_events`."""
        with contextlib.suppress(WebSocketClosedError):  # on_close ends the relay
            self.push(batch)
        return self.queued() <= self._bound

    async def drained(self) -> None:
        """Wait until the client took every frame."""
        await self._drained.wait()

    async def handle_request(self, request: dict[str, Any]) -> dict[str, Any]:
        """`cancel` is authorized like the REST cancel (action execute)."""
        if request.get("type") == "cancel":
            await self.authorize("execute")
            await self.manager.cancel(self.execution_id)
            return {"type": "ack", "for": "cancel"}
        return await super().handle_request(request)


class MonitorSocket(_EventSocket):
    """`ansflow/ws/executions`: a snapshot of recent executions, then every execution_update."""

    @ws_authenticated
    async def get(self) -> None:
        """Authorize, then upgrade."""
        await self.authorize("read")
        await super().get()

    async def pump(self) -> None:
        """Send the snapshot, then batches of execution_update events until shutdown."""
        snapshot, sub = await self.manager.subscribe_all()
        with sub:
            first = [snapshot]
            await self.relay(lambda: _next_updates(sub, first))
        self.close(1001, "server shutting down")


async def _next_updates(sub: Subscription, first: list[Event]) -> list[Event]:
    """One batch: `first` once (the snapshot), then the next update and whatever queued
    up behind it ([] when the subscription ends)."""
    if first:
        batch = first[:]
        first.clear()
        return batch
    try:
        event = await sub.__anext__()
    except StopAsyncIteration:
        return []
    return [event, *sub.pending()]


default_handlers: list[tuple[str, type[_EventSocket]]] = [
    (r"/ansflow/ws/executions", MonitorSocket),
    (rf"/ansflow/ws/executions/{ID}", ExecutionSocket),
]
