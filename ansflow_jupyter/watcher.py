"""The store watcher: one task per process that keeps it in step with every other process
on the same store.

- Relay: events of runs owned by other processes (the CLI, a kernel, another server) are
  read from the store once per execution, however many sockets follow them, and handed to
  the bus like local ones. The global monitor needs only `execution_update`s, so a run
  nobody follows costs one small query per change, not its log lines.
- Owner duties: move the heartbeat of this process's runs; act on a cancel recorded in
  the store by another process; stop a run that another process declared `interrupted`.
- Reaping: mark runs whose owner died or stopped beating `interrupted` (store.recover).

It wakes when the store changes (PostgreSQL NOTIFY on commit, SQLite `data_version`
polling; see store/liveness.py) and at least every `tick` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from .errors import AnsFlowError, NotFound
from .events import Event, ExecutionStatus
from .store.liveness import ChangeSignal

if TYPE_CHECKING:
    from .service import ExecutionManager

log = logging.getLogger("ansflow_jupyter.watcher")

PAGE = 2_000


class StoreWatcher:
    """Relays other processes' runs into the bus and keeps this process's runs honest."""

    def __init__(
        self,
        manager: ExecutionManager,
        *,
        heartbeat: float = 3.0,
        owner_timeout: float = 10.0,
        poll_interval: float = 0.05,
    ):
        self._manager = manager
        self.heartbeat = heartbeat
        self.owner_timeout = owner_timeout
        self.poll_interval = poll_interval
        # Reaping often enough that a dead owner is marked within owner_timeout + 2 s.
        self.reap_interval = min(2.0, owner_timeout / 3)
        # The change signal is the fast path; the tick bounds the delay if one is missed
        # (a round is one indexed query of the active runs).
        self.tick = min(0.25, heartbeat, self.reap_interval)
        # The last seq this process has published of each execution it relays or runs.
        self._known: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._signal: ChangeSignal | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started_at = 0.0

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        """Start watching (idempotent; inside the running loop)."""
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._signal = ChangeSignal(
            self._manager.store.engine.url, self._poke_threadsafe, self.poll_interval
        )
        self._signal.start()
        self._started_at = time.time()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop watching."""
        if self._signal is not None:
            self._signal.stop()
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=5)
            self._task = None

    def poke(self) -> None:
        """Look at the store now rather than at the next tick."""
        if self._wake is not None:
            self._wake.set()

    def _poke_threadsafe(self) -> None:
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed
                self._loop.call_soon_threadsafe(self.poke)

    # -- bookkeeping by the manager -------------------------------------------------

    def published(self, execution_id: str, seq: int | None) -> None:
        """This process published the events of an execution up to `seq`."""
        if seq is not None and seq > self._known.get(execution_id, -1):
            self._known[execution_id] = seq

    def follow(self, execution_id: str, stored_seq: int) -> None:
        """A subscriber will replay an execution from the store up to at least `stored_seq`:
        relay what comes after it (what it has seen is filtered out by seq)."""
        self._known.setdefault(execution_id, stored_seq)
        self.poke()

    # -- the loop -------------------------------------------------------------------

    async def _run(self) -> None:
        assert self._wake is not None
        next_beat = next_reap = 0.0
        while True:
            # A timer rather than wait_for: cancelling wait_for at the moment its inner
            # wait completes can lose the cancellation on Python 3.11 (stop() then hangs).
            timer = asyncio.get_running_loop().call_later(self.tick, self._wake.set)
            try:
                await self._wake.wait()
            finally:
                timer.cancel()
            self._wake.clear()
            try:
                await self._round()
                now = time.monotonic()
                if now >= next_beat:
                    next_beat = now + self.heartbeat
                    await self._beat()
                if now >= next_reap:
                    next_reap = now + self.reap_interval
                    await self._reap()
            except asyncio.CancelledError:
                raise
            except AnsFlowError as exc:  # a locked or unreachable store: try again later
                log.warning("ansflow: store watch: %s", exc)
            except Exception:
                log.exception("ansflow: store watch failed")

    async def _round(self) -> None:
        manager = self._manager
        rows = await manager._read(manager.store.watch_rows, list(self._known))
        for row in rows:
            run = manager._runs.get(row.id)
            if run is not None:
                self._as_owner(row, run)
            else:
                await self._relay(row)

    def _as_owner(self, row: Any, run: Any) -> None:
        executor = run.executor
        if ExecutionStatus(row.status).finished and not executor.status.finished:
            # Another process declared us gone (we stalled): its record stands, stop.
            log.warning("ansflow: execution %s was marked %s; stopping it", row.id, row.status)
            run.abandoned = True
            executor.cancel(force=True)
        elif row.cancel_requested_at is not None and not run.cancel_requested:
            run.cancel_requested = True
            executor.cancel()

    async def _relay(self, row: Any) -> None:
        manager = self._manager
        # A run that was going before we started watching has a past nobody here waits
        # for; one created since is relayed from its first event.
        known = self._known.get(row.id, row.last_seq if row.created_at < self._started_at else 0)
        if row.last_seq > known:
            try:
                events = await self._fetch(row.id, known)
            except NotFound:
                events = []  # deleted meanwhile
            if events:
                manager.bus.publish(events)
                known = max(known, events[-1].seq or 0)
            known = max(known, row.last_seq)
        if ExecutionStatus(row.status).finished:
            self._known.pop(row.id, None)
        else:
            self._known[row.id] = known

    async def _fetch(self, execution_id: str, since: int) -> list[Event]:
        """What this process's subscribers need of an execution after `since`."""
        manager = self._manager
        bus, store = manager.bus, manager.store
        if bus.subscriber_count(execution_id):
            events: list[Event] = []
            while True:
                page = await manager._read(store.events_since, execution_id, since, PAGE)
                events.extend(page)
                if len(page) < PAGE:
                    return events
                since = page[-1].seq or since
        if bus.subscriber_count(None):
            return await manager._read(store.updates_since, execution_id, since)
        return []

    async def _beat(self) -> None:
        manager = self._manager
        if manager._runs:
            await manager._write(manager.store.heartbeat, list(manager._runs))

    async def _reap(self) -> None:
        manager = self._manager
        recovered = await manager._write(manager.store.recover, self.owner_timeout)
        if recovered:
            log.warning("ansflow: marked %d executions interrupted: %s", len(recovered), recovered)
            self.poke()
