"""In-process fan-out of committed events to live subscribers.

The bus never blocks the publisher: each subscription has a bounded queue, and a
subscriber that falls behind is cut off (`SubscriberLagged`) rather than slowing the
executor or growing memory. It resumes from the store with `since`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from .events import Event, EventType

DEFAULT_QUEUE_EVENTS = 10_000


class SubscriberLagged(Exception):
    """The subscriber's queue overflowed; it must resume from the store with `since`."""


class Subscription:
    """One subscriber's bounded queue of events, consumed as an async iterator."""

    def __init__(self, bus: Bus, key: str | None, maxsize: int):
        self._bus = bus
        self.key = key
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize)
        self.lagged = False
        self.closed = False

    def _offer(self, event: Event) -> None:
        if self.lagged or self.closed:
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.lagged = True
            self._wake()

    def _wake(self) -> None:
        # A None sentinel wakes a waiting consumer; if the queue is full, drop one event
        # to make room: the subscription is dead anyway once lagged or closed.
        while True:
            try:
                self._queue.put_nowait(None)
                return
            except asyncio.QueueFull:
                self._queue.get_nowait()

    def close(self) -> None:
        """Stop receiving; the iterator ends."""
        if not self.closed:
            self.closed = True
            self._bus._remove(self)
            self._wake()

    def pending(self) -> list[Event]:
        """Take every queued event without waiting (for batching into frames)."""
        out: list[Event] = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is None:
                self._queue.put_nowait(None)  # keep the sentinel for __anext__
                break
            out.append(item)
        return out

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        if self.lagged:
            raise SubscriberLagged
        item = await self._queue.get()
        if item is None:
            if self.lagged:
                raise SubscriberLagged
            raise StopAsyncIteration
        return item

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Bus:
    """Fan-out by execution id; key None receives every execution's updates (global monitor)."""

    def __init__(self) -> None:
        self._subs: dict[str | None, set[Subscription]] = {}

    def subscribe(
        self, execution_id: str | None, maxsize: int = DEFAULT_QUEUE_EVENTS
    ) -> Subscription:
        """Register a subscriber for one execution (or all when None)."""
        sub = Subscription(self, execution_id, maxsize)
        self._subs.setdefault(execution_id, set()).add(sub)
        return sub

    def publish(self, events: Sequence[Event]) -> None:
        """Hand committed events to every matching subscriber; never blocks.

        Subscribers of one execution get all its events; global subscribers (key None)
        get only `execution_update`s, so log floods never reach the global monitor."""
        everyone = tuple(self._subs.get(None, ()))
        for event in events:
            for sub in tuple(self._subs.get(event.execution_id, ())):
                sub._offer(event)
            if everyone and event.type is EventType.EXECUTION_UPDATE:
                for sub in everyone:
                    sub._offer(event)

    def close_all(self) -> None:
        """End every subscription (server shutdown)."""
        for subs in list(self._subs.values()):
            for sub in list(subs):
                sub.close()

    def subscriber_count(self, execution_id: str | None = None) -> int:
        """How many subscribers one key has."""
        return len(self._subs.get(execution_id, ()))

    def _remove(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.key)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.key]
