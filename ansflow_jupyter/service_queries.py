"""Store access for the ExecutionManager: its store threads and every read it answers.

Store calls are blocking, so they run on worker threads: one writer thread (SQLite has
one writer anyway, and it keeps each execution's batches in order) and a small reader
pool. A long log download runs on a thread of its own, so it never holds a reader.
"""

from __future__ import annotations

import asyncio
import builtins
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from .events import Event
from .store import Store

if TYPE_CHECKING:
    from .store.data import DataStore

P = ParamSpec("P")
T = TypeVar("T")


class StoreQueries:
    """The store and its data (artifacts, cache) behind threads: the manager's reads."""

    def __init__(self, store: Store, data: DataStore) -> None:
        self.store = store
        self.data = data
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="ansflow-store-write")
        self._readers = ThreadPoolExecutor(4, thread_name_prefix="ansflow-store-read")

    # -- queries -------------------------------------------------------------------

    async def snapshot(self, execution_id: str) -> Event:
        """The whole state of one execution (a `snapshot` envelope)."""
        return await self._read(self.store.snapshot, execution_id)

    async def resolve_id(self, prefix: str) -> str:
        """The full id of the execution a unique id prefix names (as `ansflow list` shows)."""
        return await self._read(self.store.resolve_execution_id, prefix)

    async def get(self, execution_id: str) -> dict[str, Any]:
        """The stored execution row (fields, source, path)."""
        return await self._read(self.store.get_execution, execution_id)

    async def list(
        self,
        *,
        status: str | None = None,
        pipeline: str | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> list[dict[str, Any]]:
        """Executions, newest first."""
        return await self._read(
            self.store.list_executions, status=status, pipeline=pipeline, limit=limit, before=before
        )

    async def logs(
        self,
        execution_id: str,
        *,
        step: str | None = None,
        offset: int = 0,
        limit: int | None = None,
        tail: int | None = None,
        q: str | None = None,
    ) -> builtins.list[dict[str, Any]]:
        """Stored log lines (see Store.log_lines)."""
        return await self._read(
            self.store.log_lines,
            execution_id,
            step=step,
            offset=offset,
            limit=limit,
            tail=tail,
            q=q,
        )

    async def log_search(
        self, execution_id: str, **query: Any
    ) -> tuple[builtins.list[dict[str, Any]], int]:
        """Stored lines and the exact number of matching lines (see Store.log_search)."""
        return await self._read(self.store.log_search, execution_id, **query)

    async def log_text(
        self, execution_id: str, *, prefix: bool, strip: bool, **query: Any
    ) -> AsyncIterator[str]:
        """Stored log lines as text chunks (see Store.log_text), read in one pass on a
        thread of their own: a long download never holds one of the reader threads that
        REST and sockets share, and at most a few chunks wait in memory for the client."""
        chunks = self.store.log_text(execution_id, prefix=prefix, strip=strip, **query)
        async for chunk in iterate_in_thread(_one_at_a_time(chunks)):
            yield chunk

    async def summaries(
        self, execution_id: str, step: str | None = None
    ) -> builtins.list[dict[str, Any]]:
        """Step summaries: `{step_id, attempt, markdown}` per step that wrote one."""
        return await self._read(self.store.summaries, execution_id, step)

    async def artifacts(self, execution_id: str) -> builtins.list[dict[str, Any]]:
        """Every artifact of an execution: `{step_id, path, size, sha256, media_type}`."""
        return await self._read(self.data.list_artifacts, execution_id)

    async def artifact(self, execution_id: str, step_id: str, path: str) -> dict[str, Any]:
        """One artifact row; NotFound when absent."""
        return await self._read(self.data.artifact, execution_id, step_id, path)

    async def cache_entries(self) -> builtins.list[dict[str, Any]]:
        """Every cache entry, most recently used first."""
        return await self._read(self.data.cache_entries)

    async def clear_cache(self) -> int:
        """Delete every cache entry; how many."""
        return await self._write(self.data.clear_cache)

    async def stats(self, pipeline: str | None = None) -> dict[str, Any]:
        """Runs, success rate and duration percentiles."""
        return await self._read(self.store.stats, pipeline)

    # -- threads -------------------------------------------------------------------

    async def _write(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, lambda: fn(*args, **kwargs))

    async def _read(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, lambda: fn(*args, **kwargs))


# Concurrent downloads take turns chunk by chunk: the event loop then competes for the GIL
# with one producer, not with one per download (4 at once put REST p99 at ~0.3 s).
_PRODUCING = threading.Lock()
_END = object()


def _one_at_a_time(items: Iterator[T]) -> Iterator[T]:
    """`items`, each produced while holding the process-wide download lock."""
    try:
        while True:
            with _PRODUCING:
                item = next(items, _END)
            if item is _END:
                return
            # A voluntary GIL release is often re-taken at once by the same thread; a
            # short sleep lets the event loop's thread in between chunks for sure.
            time.sleep(0.0005)
            yield item  # type: ignore[misc]
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


async def iterate_in_thread(items: Iterator[T], depth: int = 4) -> AsyncIterator[T]:
    """`items` consumed on a worker thread, at most `depth` ahead of the caller.

    The thread hands items over through a thread-safe queue and only wakes the loop: it
    never waits for a loop iteration per item (that round trip cost more than the work)."""
    loop = asyncio.get_running_loop()
    handoff: queue.Queue[tuple[bool, Any]] = queue.Queue(depth)
    ready = asyncio.Event()
    stop = threading.Event()

    def put(item: tuple[bool, Any]) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
            except queue.Full:
                continue
            loop.call_soon_threadsafe(ready.set)
            return True
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((False, item)):
                    return
            put((True, None))
        except BaseException as exc:  # handed to the caller, raised there
            put((True, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    done = loop.run_in_executor(None, produce)
    try:
        while True:
            try:
                last, item = handoff.get_nowait()
            except queue.Empty:
                ready.clear()
                if handoff.empty():
                    await ready.wait()
                continue
            if last:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stop.set()
        await done
