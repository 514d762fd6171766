"""Live WebSockets (SPEC §4): one execution, or every execution's updates (global monitor).

Every frame is a JSON list of envelopes: events are batched into frames because frames,
not bytes, cost CPU. A client that cannot keep up is closed with 4008 and resumes with
`?since=<last seq>`; the server never buffers more than `ws_queue_events` unsent events
per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado import web
from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from ..bus import SubscriberLagged, Subscription
from ..errors import AnsFlowError, BadRequest, NotFound
from ..events import Event, heartbeat
from .discovery import KernelAuthMixin
from .errors import http_error
from .handlers import ID

AUTH_RESOURCE = "ansflow"
CLOSE_NOT_FOUND = 4004
CLOSE_LAGGED = 4008
CLOSE_BAD_REQUEST = 4400
MAX_CLIENT_MESSAGE = 64 * 1024
DRAIN_TIMEOUT = 30.0


class _EventSocket(KernelAuthMixin, WebSocketMixin, WebSocketHandler, JupyterHandler):
    """Relays batches of events to one client: bounded outbox, one frame in flight, heartbeats.

    A reader moves batches from the source into the outbox; a writer sends everything in
    the outbox as one frame and waits until the socket took it. A client that stops reading
    stalls the writer, the outbox passes `ws_queue_events` and the connection is closed
    with 4008, so memory per connection stays bounded."""

    auth_resource = AUTH_RESOURCE
    execution_id = ""

    def initialize(self) -> None:
        """Per-connection state."""
        self._pump: asyncio.Task[None] | None = None
        self.since: int | None = None
        self._outbox: list[Event] = []
        self._ready = asyncio.Event()  # the outbox has events
        self._drained = asyncio.Event()  # the outbox is empty and the last frame was flushed
        self._drained.set()

    @property
    def manager(self) -> Any:
        """The ExecutionManager the extension app created."""
        return self.settings["ansflow_manager"]

    def option(self, name: str, fallback: float) -> float:
        """A WebSocket setting of the extension app."""
        return float(self.settings.get("ansflow_ws", {}).get(name, fallback))

    async def authorize(self, action: str) -> None:
        """403 unless the server's authorizer lets the user do `action` on ansflow."""
        allowed = await ensure_async(
            self.authorizer.is_authorized(self, self.current_user, action, AUTH_RESOURCE)
        )
        if not allowed:
            raise web.HTTPError(403, f"not authorized to {action} on {AUTH_RESOURCE}")

    def open(self, *args: Any, **kwargs: Any) -> None:
        """Start relaying once the handshake is done."""
        super().open(*args, **kwargs)
        self._pump = asyncio.create_task(self._run())

    def on_close(self) -> None:
        """The client left (or we closed): stop relaying, release the subscription."""
        if self._pump is not None and not self._pump.done():
            self._pump.cancel()

    async def _run(self) -> None:
        writer = asyncio.create_task(self._write_frames())
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
        finally:
            writer.cancel()

    async def pump(self) -> None:
        """Feed the outbox until the source ends (subclasses)."""
        raise NotImplementedError

    async def relay(self, next_batch: Callable[[], Awaitable[list[Event]]],
                    replaying: Callable[[], bool] = lambda: False) -> None:
        """Move `await next_batch()` into the outbox until it returns [], then drain."""
        bound = self.option("queue_events", 1_000)
        while batch := await next_batch():
            self._outbox.extend(batch)
            self._drained.clear()
            self._ready.set()
            if replaying():
                # Replay comes from the store, which is the buffer: wait for the client.
                await self._drained.wait()
            elif len(self._outbox) > bound:
                raise SubscriberLagged
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drained.wait(), DRAIN_TIMEOUT)

    async def _write_frames(self) -> None:
        """Send the whole outbox as one frame at a time; a heartbeat after idle seconds."""
        interval = self.option("heartbeat_interval", 15.0) or None
        while True:
            try:
                await asyncio.wait_for(self._ready.wait(), interval)
            except TimeoutError:
                await self.send([heartbeat(self.execution_id)])
                continue
            self._ready.clear()
            batch, self._outbox = self._outbox, []
            await self.send(batch)
            if not self._outbox:
                self._drained.set()

    async def send(self, batch: Sequence[Event]) -> None:
        """Write one frame (a JSON list of envelopes) and wait until the socket took it."""
        frame = json.dumps([event.to_dict() for event in batch], separators=(",", ":"))
        await self.write_message(frame)

    async def on_message(self, message: str | bytes) -> None:
        """Client requests: ping, cancel (one execution); anything else gets an error frame."""
        try:
            request = _parse_request(message)
            reply = await self.handle_request(request)
        except (web.HTTPError, AnsFlowError) as exc:
            reply = {"type": "error", "message": http_error(exc)[1]["message"]}
        with contextlib.suppress(WebSocketClosedError):
            self.write_message(json.dumps(reply))

    async def handle_request(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answer one parsed client message."""
        if request.get("type") == "ping":
            return {"type": "pong"}
        raise _ClientError(f"unknown message type {request.get('type')!r}")


class _ClientError(BadRequest):
    """A client message the server cannot act on."""


def _parse_request(message: str | bytes) -> dict[str, Any]:
    """A client message as a JSON object with a string `type`."""
    if len(message) > MAX_CLIENT_MESSAGE:
        raise _ClientError(f"message too large ({len(message)} bytes)")
    try:
        request = json.loads(message)
    except (ValueError, UnicodeDecodeError):
        raise _ClientError("message is not valid JSON") from None
    if not isinstance(request, dict) or not isinstance(request.get("type"), str):
        raise _ClientError('message must be a JSON object with a "type"')
    return request


class ExecutionSocket(_EventSocket):
    """`ansflow/ws/executions/{id}`: snapshot (or replay after `since`), then live events."""

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
            if self.since < 0:
                raise web.HTTPError(400, "'since' must be >= 0")
        await super().get(execution_id)

    async def pump(self) -> None:
        """Replay-then-live through the manager's EventStream; close 1000 when finished."""
        stream = await self.manager.subscribe(self.execution_id, since=self.since)
        try:
            await self.relay(stream.next_batch, lambda: bool(stream.replaying))
        finally:
            stream.close()
        self.close(1000, "execution finished")

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
