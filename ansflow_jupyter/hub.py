"""Following one execution: the one streaming path every front door relays.

`Hub`: one bus subscription per followed execution, however many followers it has. With
a subscription per follower, every event costs a queue put and a task wake-up per
client; a hub reads the bus once and hands each batch to its followers synchronously, so
a follower's cost per batch is what its `deliver` does (one frame write for a socket).
Each batch goes out as one `Batch`: what every follower would work out from it (is it
final, where its seqs start) and its encoding for a transport (a socket's frame) are
made once, however many follow it.

`Following`: the handover of one follower. It joins the hub *before* reading the store
(snapshot, or the stored events after `since` in pages), holds live batches meanwhile,
then delivers the held and later batches with `seq` above what it replayed: nothing
missed, nothing twice. Live events of an execution run by another process reach the bus
through the store watcher, so both cases take this path.

`EventStream`: the same following for pull-style consumers (the CLI, the widget
forwarder), handed out with `next_batch()`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from .bus import DEFAULT_QUEUE_EVENTS, Bus, SubscriberLagged
from .events import Event

if TYPE_CHECKING:
    from .service import ExecutionManager

log = logging.getLogger(__name__)

REPLAY_PAGE = 2_000
REPLAY_BUFFER_MAX = 100_000  # live events held for one follower while its replay runs

#: Why a following ended.
FINISHED, LAGGED, GONE = "finished", "lagged", "gone"


class Batch(list[Event]):
    """One live batch as the hub hands it to every following; never changed after.

    `encoded` holds transport encodings of the batch (e.g. the WebSocket frame), made by
    the first follower that needs one and reused by the others; `made` is when the hub
    made it (`time.monotonic()`)."""

    __slots__ = ("encoded", "final", "first_seq", "made")

    def __init__(self, events: Iterable[Event] = ()) -> None:
        super().__init__(events)
        self.final = any(event.is_final for event in self)
        self.first_seq = min((event.seq or 0 for event in self), default=0)
        self.encoded: dict[str, bytes] = {}
        self.made = time.monotonic()


class Follower(Protocol):
    """What relays one execution's events (a WebSocket, the CLI, a widget forwarder)."""

    def deliver(self, batch: Sequence[Event], live: bool) -> bool:
        """Take a batch in seq order (replayed or live); must not block nor change it (a
        live `Batch` is shared by every follower). Returning False says the follower is
        too far behind: a live following then ends `lagged`."""

    async def drained(self) -> None:
        """Return once the follower passed on what it got (paces the store replay)."""


#: A follower's shortcut for a live batch that is all new and not final: True when it
#: passed the batch on (e.g. wrote the shared frame to an idle socket), False when it did
#: nothing (the batch then takes the full `deliver` path).
Direct = Callable[[Batch], bool]


class Hub:
    """The bus subscription of one execution, shared by its followings."""

    def __init__(self, bus: Bus, execution_id: str, registry: dict[str, Hub]):
        self.execution_id = execution_id
        self.followers: set[Following] = set()
        self._registry = registry
        self._sub = bus.subscribe(execution_id)
        self._task = asyncio.create_task(self._run())
        self._reading: asyncio.Future[Event] | None = None  # the snapshot read under way
        self._next: asyncio.Future[Event] | None = None  # the one joiners now wait for

    async def snapshot(self, manager: ExecutionManager) -> Event:
        """A snapshot read from the store that started after the caller joined.

        Followers that join while a read is under way share the next one (started when
        it ends): thousands of subscribers connecting at once cost a few store reads,
        not one each, and none gets a snapshot older than its place in the hub."""
        waiting = self._next
        if waiting is None:
            waiting = self._next = asyncio.get_running_loop().create_future()
            waiting.add_done_callback(_retrieve)
            if self._reading is None:
                self._start_snapshot(manager)
        # Shielded: a follower that leaves meanwhile must not cancel the others' read.
        return await asyncio.shield(waiting)

    def _start_snapshot(self, manager: ExecutionManager) -> None:
        waiting, self._next = self._next, None
        assert waiting is not None
        self._reading = reading = asyncio.ensure_future(manager.snapshot(self.execution_id))

        def done(_: object) -> None:
            self._reading = None
            if reading.cancelled():
                waiting.cancel()
            elif (error := reading.exception()) is not None:
                waiting.set_exception(error)
            else:
                waiting.set_result(reading.result())
            if self._next is not None:
                self._start_snapshot(manager)

        reading.add_done_callback(done)

    def leave(self, following: Following) -> None:
        """Stop delivering to `following`; the last one out closes the hub."""
        self.followers.discard(following)
        if not self.followers:
            self.close()

    def close(self) -> None:
        """Release the bus subscription."""
        if self._registry.get(self.execution_id) is self:
            del self._registry[self.execution_id]
        self._sub.close()

    async def _run(self) -> None:
        lagged = False
        try:
            while True:
                try:
                    first = await self._sub.__anext__()
                except StopAsyncIteration:
                    break
                self._fan_out(Batch([first, *self._sub.pending()]))
        except SubscriberLagged:
            lagged = True
        finally:
            self.close()
            for following in list(self.followers):
                following.end(LAGGED if lagged else GONE)

    def _fan_out(self, batch: Batch) -> None:
        """Hand `batch` to every following, in one loop.

        With thousands of followers the loop is the cost of a live line: a live follower
        with a `direct` shortcut gets a fresh, non-final batch with one call (for an idle
        socket: one send() of the shared frame); everything else (replaying, held back,
        final, busy) takes `offer`, which decides what is fresh and when it ends."""
        last_seq = batch[-1].seq if batch else None
        shortcut = last_seq is not None and not batch.final
        first, last = batch.first_seq, last_seq or 0
        for following in list(self.followers):
            try:
                direct = following.direct
                if shortcut and direct is not None and following.last_seq < first and direct(batch):
                    following.last_seq = last
                    continue
                following.offer(batch)
            except Exception:  # one broken follower must not stop the others
                log.exception("ansflow: dropping a follower of %s", self.execution_id)
                self.followers.discard(following)


def _retrieve(future: asyncio.Future[Event]) -> None:
    """Mark a shared read's failure as seen (its followers may all have left)."""
    if not future.cancelled():
        future.exception()


def join(registry: dict[str, Hub], bus: Bus, execution_id: str, following: Following) -> Hub:
    """The hub of an execution (created on first use), with `following` in it."""
    hub = registry.get(execution_id)
    if hub is None:
        hub = registry[execution_id] = Hub(bus, execution_id, registry)
    hub.followers.add(following)
    return hub


class Following:
    """Replay-then-live for one follower (see the module docstring)."""

    def __init__(self, follower: Follower, since: int | None):
        self.follower = follower
        self.since = since
        self.last_seq = -1
        self.live = False
        self.direct: Direct | None = None  # the follower's shortcut, once live
        self._held: list[Event] = []
        self._ended = asyncio.Event()
        self.reason = ""

    async def run(self, manager: ExecutionManager, execution_id: str, finished: bool) -> str:
        """Follow until the execution ended, the follower lagged or the server stops."""
        if finished:  # nothing live to wait for: replay only
            await self._replay(manager, execution_id)
            return FINISHED
        hub = join(manager.hubs, manager.bus, execution_id, self)
        try:
            if await self._replay(manager, execution_id, hub):
                return FINISHED
            self.live = True
            held, self._held = self._held, []
            self._send_live(Batch(held))
            if not self._ended.is_set():
                self.direct = getattr(self.follower, "direct", None)
            await self._ended.wait()
        finally:
            hub.leave(self)
        return self.reason

    async def _replay(
        self, manager: ExecutionManager, execution_id: str, hub: Hub | None = None
    ) -> bool:
        """Deliver the snapshot, or every stored event after `since`; True if it ended."""
        if self.since is None:
            if hub is None:
                snapshot = await manager.snapshot(execution_id)
            else:
                snapshot = await hub.snapshot(manager)
            self.last_seq = snapshot.seq or 0
            self.follower.deliver([snapshot], False)
            return snapshot.is_final
        self.last_seq, ended = self.since, False
        while page := await manager._read(
            manager.store.events_since, execution_id, self.last_seq, REPLAY_PAGE
        ):
            self.last_seq = page[-1].seq or self.last_seq
            ended = ended or any(event.is_final for event in page)
            self.follower.deliver(page, False)
            await self.follower.drained()  # the store is the buffer: wait for the follower
        return ended

    def offer(self, batch: Batch) -> None:
        """A live batch from the hub: held during the replay, delivered afterwards."""
        if self.live:
            self._send_live(batch)
            return
        self._held.extend(batch)
        if len(self._held) > REPLAY_BUFFER_MAX:
            self.end(LAGGED)

    def _send_live(self, batch: Batch) -> None:
        if not batch or self._ended.is_set():
            return
        fresh = batch  # the usual case: all of it is new, and shared as it is
        if batch.first_seq <= self.last_seq:
            fresh = Batch(event for event in batch if (event.seq or 0) > self.last_seq)
            if not fresh:
                return
        self.last_seq = fresh[-1].seq or self.last_seq
        keeping_up = self.follower.deliver(fresh, True)
        if fresh.final:
            self.end(FINISHED)
        elif not keeping_up:
            self.end(LAGGED)

    def end(self, reason: str) -> None:
        """Stop following (the first reason wins)."""
        if not self._ended.is_set():
            self.reason = reason
            self.direct = None
            self._ended.set()


class EventStream:
    """Replay-then-live events of one execution, handed out in batches: the follower of
    pull-style consumers (the CLI, the widget forwarder). Its `next_batch()` returns []
    once the execution has ended and everything was handed out."""

    max_pending = DEFAULT_QUEUE_EVENTS  # undelivered live events before it counts as lagged

    def __init__(self, manager: ExecutionManager, execution: Mapping[str, Any], since: int | None):
        self.execution_id = str(execution["execution_id"])
        self.replaying = True
        self._batches: deque[tuple[list[Event], bool]] = deque()
        self._pending = 0
        self._wake = asyncio.Event()
        self._empty = asyncio.Event()
        self._empty.set()
        self._task = asyncio.create_task(manager._follow(execution, self, since))

    def deliver(self, batch: Sequence[Event], live: bool) -> bool:
        """Queue a batch for `next_batch` (called by the following)."""
        self._batches.append((list(batch), live))
        self._pending += len(batch)
        self._empty.clear()
        self._wake.set()
        return self._pending <= self.max_pending

    async def drained(self) -> None:
        """Wait until the consumer took every queued batch."""
        await self._empty.wait()

    async def next_batch(self) -> list[Event]:
        """The next events in seq order; [] once the execution has ended and all was sent.

        Raises SubscriberLagged when the consumer fell too far behind (resume with `since`)."""
        while not self._batches:
            if self._task.done():
                if self._task.result() == LAGGED:
                    raise SubscriberLagged
                return []
            self._wake.clear()
            waiter = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({waiter, self._task}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
        batch, live = self._batches.popleft()
        while self._batches and self._batches[0][1] == live:  # one frame's worth
            batch.extend(self._batches.popleft()[0])
        self._pending -= len(batch)
        if not self._batches:
            self._empty.set()
        self.replaying = not live
        return batch

    def close(self) -> None:
        """Stop following."""
        self._task.cancel()

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
