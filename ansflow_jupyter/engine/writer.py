"""Seq assignment and the single writer task that hands events to the sink in order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Protocol

from ..events import Event, EventType

#: Events waiting for the sink before producers (the pipe readers) have to wait. With
#: log batches of at most ~64 KiB this bounds the executor's buffered logs to a few MiB.
MAX_PENDING = 64
#: The least time between the starts of two sink writes. Each write is a store
#: transaction whose cost barely depends on its size: an event that comes after a quiet
#: spell is written at once (a live line is not held up), while a burst (a DAG's short
#: steps starting and ending) gathers for what is left of the window. A 200-step run of
#: `true`s commits ~45 transactions instead of ~110; a line printed every 10 ms still
#: goes out at once.
LINGER = 0.005


class EventSink(Protocol):
    """Where an executor's events go (the store + bus in the service, a list in tests)."""

    async def write(self, events: list[Event]) -> None:
        """Take a batch of events in seq order; awaited, so a slow sink slows the run."""


class EventWriter:
    """Numbers events synchronously in emission order and writes them from one task.

    Emitting is synchronous so that ordering is decided at the call site (a step's last
    log batch is emitted before its final step_update, always); memory is bounded by
    producers awaiting `room()`.
    """

    def __init__(
        self,
        execution_id: str,
        sink: EventSink,
        *,
        first_seq: int = 1,
        max_pending: int = MAX_PENDING,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.execution_id = execution_id
        self.next_seq = first_seq
        self.error: BaseException | None = None
        self._sink = sink
        self._max_pending = max_pending
        self._on_error = on_error
        self._pending: list[Event] = []
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._flush = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the writer task (inside the running loop)."""
        self._task = asyncio.ensure_future(self._run())

    def emit(self, type_: EventType, data: dict[str, Any]) -> Event:
        """Number and queue one event; never blocks."""
        event = Event(type_, self.execution_id, self.next_seq, data, time.time())
        self.next_seq += 1
        self._pending.append(event)
        if len(self._pending) >= self._max_pending:
            self._room.clear()
            self._flush.set()  # no point gathering more: producers wait from now on
        self._wake.set()
        return event

    @property
    def full(self) -> bool:
        """True while producers should wait before emitting more."""
        return not self._room.is_set()

    async def room(self) -> None:
        """Wait until the sink has caught up (back-pressure for the pipe readers)."""
        await self._room.wait()

    async def close(self) -> None:
        """Write everything still queued, stop, and raise the sink's error if it failed."""
        self._closing = True
        self._flush.set()
        self._wake.set()
        if self._task is not None:
            await self._task
        if self.error is not None:
            raise self.error

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last_write = -LINGER
        while True:
            await self._wake.wait()
            wait = last_write + LINGER - loop.time()
            if wait > 0 and not self._closing and self._room.is_set():
                self._flush.clear()
                timer = loop.call_later(wait, self._flush.set)
                try:
                    await self._flush.wait()
                finally:
                    timer.cancel()
            self._wake.clear()
            # One batch per wake-up: what arrives during the write lingers like the rest
            # (writing it at once made a busy run commit a step or two at a time).
            batch, self._pending = self._pending, []
            if batch and self.error is None:
                last_write = loop.time()
                try:
                    await self._sink.write(batch)
                except Exception as exc:  # reported by close()
                    self.error = exc
                    if self._on_error is not None:
                        self._on_error(exc)
            if len(self._pending) < self._max_pending:
                self._room.set()
            if self._closing and not self._pending:
                return
