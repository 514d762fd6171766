"""ExecutionManager: the one API every front door (REST, WebSocket, kernel, CLI) uses.

It composes the executor, the store and the bus, and keeps the reliability rules:
persist, then publish; subscribe first, then replay, then live without gap or duplicate.
Store calls are blocking, so they run on worker threads: one writer thread (SQLite has
one writer anyway, and it keeps each execution's batches in order) and a small reader pool.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import queue
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from .bus import Bus, Subscription
from .engine.backend import Backend
from .engine.executor import Executor
from .errors import BadRequest, Conflict, NotFound
from .events import Event, EventType, ExecutionStatus, StepStatus
from .pipeline import load_pipeline, load_pipeline_file, validate
from .pipeline.errors import SpecIssue
from .pipeline.spec import PipelineSpec
from .store import Owner, Store

P = ParamSpec("P")
T = TypeVar("T")

REPLAY_PAGE = 2_000


@dataclass
class _Run:
    """An execution running in this process."""

    executor: Executor
    task: asyncio.Task[ExecutionStatus] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


class ExecutionManager:
    """Start, follow, cancel and query executions."""

    def __init__(
        self,
        store: Store,
        backend: Backend | None = None,
        *,
        max_parallel: int | None = None,
        log_line_max_bytes: int = 65_536,
        retention_days: float | None = None,
        max_executions: int | None = None,
        kill_grace: float = 5.0,
    ):
        if backend is None:
            from .engine.backends.local import LocalBackend

            backend = LocalBackend()
        self.store = store
        self.backend = backend
        self.bus = Bus()
        self.max_parallel = max_parallel
        self.log_line_max_bytes = log_line_max_bytes
        self.retention_days = retention_days
        self.max_executions = max_executions
        self.kill_grace = kill_grace
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="ansflow-store-write")
        self._readers = ThreadPoolExecutor(4, thread_name_prefix="ansflow-store-read")
        self._runs: dict[str, _Run] = {}
        self._persisting = True  # False while abandoning executions at shutdown

    # -- lifecycle -----------------------------------------------------------------

    async def start_up(self) -> list[str]:
        """Recover the store (interrupted executions, leftover processes) and apply retention."""
        recovered = await self._write(self.store.recover)
        await self.apply_retention()
        return recovered

    async def apply_retention(self) -> int:
        """Delete finished executions beyond `retention_days` / `max_executions`."""
        if self.retention_days is None and self.max_executions is None:
            return 0
        return await self._write(
            self.store.apply_retention, self.retention_days, self.max_executions
        )

    async def shutdown(self, *, cancel_running: bool = True) -> None:
        """Stop every execution of this process; no step process outlives it.

        `cancel_running` ends them `cancelled` (like a user's cancel); otherwise their
        trees are killed without recording the executor's reaction, and they end
        `interrupted` -- what the next start would decide had the process died."""
        runs = dict(self._runs)
        if not cancel_running:
            self._persisting = False
        for run in runs.values():
            if cancel_running:
                run.executor.cancel()
            elif run.task is not None:
                run.task.cancel()  # the executor kills every tree on cancellation
        for run in runs.values():
            if run.task is not None:
                with contextlib.suppress(BaseException):
                    await run.task
        if not cancel_running:
            for execution_id in runs:
                await self._write(
                    self.store.interrupt, execution_id, "interrupted: the server stopped"
                )
        await self.backend.close()
        self.bus.close_all()
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        self.store.close()

    # -- commands ------------------------------------------------------------------

    def validate(self, *, path: str | None = None, yaml: str | None = None) -> list[SpecIssue]:
        """Every problem of a pipeline (empty when valid)."""
        if path is not None:
            try:
                data = Path(path).read_bytes()
            except OSError as exc:
                return [SpecIssue(f"cannot read pipeline file: {exc.strerror}", 0, 0, "", path)]
            return validate(data, path=path)
        return validate(yaml or "")

    def load(
        self,
        *,
        path: str | None = None,
        yaml: str | None = None,
        env: Mapping[str, str] | None = None,
        base_dir: Path | None = None,
    ) -> PipelineSpec:
        """Parse a pipeline from a file or YAML text; raises SpecError."""
        if (path is None) == (yaml is None):
            raise BadRequest("give exactly one of 'path' or 'yaml'")
        if path is not None:
            return load_pipeline_file(path, env=env)
        return load_pipeline(yaml or "", base_dir=base_dir or Path.cwd(), env=env)

    async def start(
        self,
        spec: PipelineSpec,
        *,
        env: Mapping[str, str] | None = None,
        max_parallel: int | None = None,
        reuse: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Record a new execution and run it in the background; returns its summary."""
        execution_id = uuid.uuid4().hex
        steps = [
            {
                "step_id": s.id,
                "name": s.name,
                "needs": list(s.needs),
                "continue_on_error": s.continue_on_error,
            }
            for s in spec.steps.values()
        ]
        await self._write(
            self.store.create_execution,
            execution_id,
            spec.name,
            spec.source,
            spec.path,
            Owner.current(),
            steps,
        )
        executor = Executor(
            spec,
            execution_id,
            self.backend,
            _StoreSink(self),
            max_parallel=max_parallel or spec.max_parallel or self.max_parallel,
            log_line_max_bytes=self.log_line_max_bytes,
            reuse=dict(reuse or {}),
            kill_grace=self.kill_grace,
            env=dict(env or {}),
        )
        run = _Run(executor)
        self._runs[execution_id] = run
        run.task = asyncio.create_task(self._drive(execution_id, run))
        return {
            "execution_id": execution_id,
            "pipeline_name": spec.name,
            "status": ExecutionStatus.PENDING.value,
            "path": spec.path,
            "steps_total": len(steps),
            "steps_done": 0,
        }

    async def _drive(self, execution_id: str, run: _Run) -> ExecutionStatus:
        try:
            return await run.executor.run()
        finally:
            run.done.set()
            self._runs.pop(execution_id, None)

    def cancel_local(self, execution_id: str) -> bool:
        """Cancel an execution of this process now (safe in a signal handler); False if none."""
        run = self._runs.get(execution_id)
        if run is not None:
            run.executor.cancel()
        return run is not None

    async def cancel(self, execution_id: str) -> None:
        """Cancel a running execution; finished ones are left as they are (no error)."""
        if self.cancel_local(execution_id):
            return
        execution = await self._read(self.store.get_execution, execution_id)
        if not ExecutionStatus(execution["status"]).finished:
            raise Conflict(f"execution {execution_id} is running in another process")

    async def rerun(
        self, execution_id: str, *, failed_only: bool = False, base_dir: Path | None = None
    ) -> dict[str, Any]:
        """A new execution of the same pipeline source; `failed_only` reuses what succeeded.

        `base_dir` is where a pipeline that came as YAML text resolves its working
        directories (a file's own folder otherwise), as when it was first started."""
        execution = await self._read(self.store.get_execution, execution_id)
        path = execution.get("path")
        base_dir = Path(path).parent if path else (base_dir or Path.cwd())
        spec = load_pipeline(execution["source"], path=path, base_dir=base_dir)
        reuse: dict[str, str] = {}
        if failed_only:
            snapshot = await self._read(self.store.snapshot, execution_id)
            reuse = reusable_steps(spec, snapshot.data["steps"], execution_id)
        return await self.start(spec, reuse=reuse)

    async def delete(self, execution_id: str) -> None:
        """Remove an execution with its events and logs; Conflict while it runs."""
        if execution_id in self._runs:
            raise Conflict(f"execution {execution_id} is still running; cancel it first")
        await self._write(self.store.delete_execution, execution_id)

    async def wait(self, execution_id: str) -> ExecutionStatus:
        """Wait for an execution of this process to end; return its final status."""
        run = self._runs.get(execution_id)
        if run is not None:
            await run.done.wait()
        execution = await self._read(self.store.get_execution, execution_id)
        return ExecutionStatus(execution["status"])

    def running(self) -> list[str]:
        """Ids of the executions this process is running."""
        return list(self._runs)

    # -- queries -------------------------------------------------------------------

    async def snapshot(self, execution_id: str) -> Event:
        """The whole state of one execution (a `snapshot` envelope)."""
        return await self._read(self.store.snapshot, execution_id)

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

    async def log_text(
        self, execution_id: str, *, prefix: bool, strip: bool, **query: Any
    ) -> AsyncIterator[str]:
        """Stored log lines as text chunks (see Store.log_text), read in one pass on a
        thread of their own: a long download never holds one of the reader threads that
        REST and sockets share, and at most a few chunks wait in memory for the client."""
        chunks = self.store.log_text(execution_id, prefix=prefix, strip=strip, **query)
        async for chunk in iterate_in_thread(_one_at_a_time(chunks)):
            yield chunk

    async def stats(self, pipeline: str | None = None) -> dict[str, Any]:
        """Runs, success rate and duration percentiles."""
        return await self._read(self.store.stats, pipeline)

    async def subscribe(self, execution_id: str, since: int | None = None) -> EventStream:
        """Follow one execution: a snapshot (or the events after `since`), then live.

        Raises NotFound before anything is sent. The bus subscription comes first, so an
        event committed while we read the store is either in the replay or in the queue,
        and `seq <= last` filters the overlap."""
        sub = self.bus.subscribe(execution_id)
        try:
            execution = await self._read(self.store.get_execution, execution_id)
        except BaseException:
            sub.close()
            raise
        stream = EventStream(self, execution_id, sub, since, local=execution_id in self._runs)
        stream.finished = ExecutionStatus(execution["status"]).finished
        return stream

    async def subscribe_all(self, limit: int = 50) -> tuple[Event, Subscription]:
        """The global monitor: a snapshot of recent executions, then every execution_update."""
        sub = self.bus.subscribe(None)
        try:
            recent = await self.list(limit=limit)
        except BaseException:
            sub.close()
            raise
        return Event(EventType.SNAPSHOT, "", None, {"executions": recent}), sub

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


class _StoreSink:
    """The executor's sink: commit the batch in the writer thread, then publish it."""

    def __init__(self, manager: ExecutionManager):
        self._manager = manager

    async def write(self, events: list[Event]) -> None:
        if not self._manager._persisting:
            return  # shutting down without finishing: the store records `interrupted`
        await self._manager._write(self._manager.store.append, events)
        self._manager.bus.publish(events)


class EventStream:
    """Replay-then-live events of one execution, handed out in batches (one per frame).

    An execution run by another process (the CLI following a server run, or the other
    way round) never reaches this process's bus; its live phase polls the store."""

    poll_interval = 0.2

    def __init__(
        self,
        manager: ExecutionManager,
        execution_id: str,
        sub: Subscription,
        since: int | None,
        *,
        local: bool,
    ):
        self._manager = manager
        self.execution_id = execution_id
        self._sub = sub
        self._since = since
        self._local = local
        self.last_seq = since if since is not None else -1
        self.finished = False
        self.replaying = True

    async def next_batch(self) -> list[Event]:
        """The next events in seq order; [] once the execution has ended and all was sent.

        Raises SubscriberLagged when the live queue overflowed (resume with `since`)."""
        if self.replaying:
            batch = await self._replay_page()
            if batch:
                return batch
            self.replaying = False
        while not self._done():
            if not self._local:
                page = await self._replay_page()
                if page:
                    return page
                await asyncio.sleep(self.poll_interval)
                continue
            first = await self._sub.__anext__()
            batch = [e for e in [first, *self._sub.pending()] if (e.seq or 0) > self.last_seq]
            if batch:
                self._note(batch)
                return batch
        return []

    async def _replay_page(self) -> list[Event]:
        if self._since is None:
            snapshot = await self._manager.snapshot(self.execution_id)
            self._since = snapshot.seq or 0
            self._note([snapshot])
            return [snapshot]
        page: list[Event] = await self._manager._read(
            self._manager.store.events_since, self.execution_id, self.last_seq, REPLAY_PAGE
        )
        self._note(page)
        return page

    def _note(self, batch: Sequence[Event]) -> None:
        for event in batch:
            self.last_seq = max(self.last_seq, event.seq or 0)
            if event.type is EventType.SNAPSHOT:
                status = event.data["execution"].get("status")
                self.finished = ExecutionStatus(status).finished
            elif event.type is EventType.EXECUTION_UPDATE:
                self.finished = ExecutionStatus(event.data["status"]).finished

    def _done(self) -> bool:
        return self.finished or self._sub.closed

    def close(self) -> None:
        """Stop following."""
        self._sub.close()

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


def reusable_steps(
    spec: PipelineSpec, steps: Sequence[Mapping[str, Any]], execution_id: str
) -> dict[str, str]:
    """For a re-run of failed steps: every step that succeeded and does not depend on a
    step being re-run, mapped to the execution its result comes from."""
    status = {s["step_id"]: s for s in steps}
    rerun = {
        sid for sid in spec.steps if status.get(sid, {}).get("status") != StepStatus.SUCCESS.value
    }
    grew = True
    while grew:  # add dependents until nothing changes (steps may be written in any order)
        grown = {s.id for s in spec.steps.values() if rerun.intersection(s.needs)}
        grew = not grown <= rerun
        rerun |= grown
    return {
        sid: str(status[sid].get("reused_from") or execution_id)
        for sid in spec.steps
        if sid not in rerun
    }


__all__ = ["EventStream", "ExecutionManager", "NotFound", "reusable_steps"]
