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
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from . import run_options
from .bus import Bus, Subscription
from .engine.backend import Backend, BackendUnavailable
from .engine.executor import Executor
from .engine.stepdata import DEFAULT_MAX_BYTES, StepData
from .errors import BadRequest, Conflict, NotFound, Unavailable
from .events import Event, EventType, ExecutionStatus, StepStatus
from .hub import REPLAY_PAGE, EventStream, Follower, Following, Hub
from .pipeline import load_pipeline, load_pipeline_file, validate
from .pipeline.errors import SpecIssue
from .pipeline.github import WorkflowOptions
from .pipeline.spec import PipelineSpec
from .store import Owner, Store
from .watcher import StoreWatcher

P = ParamSpec("P")
T = TypeVar("T")


@dataclass
class _Run:
    """An execution running in this process."""

    executor: Executor
    task: asyncio.Task[ExecutionStatus] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    cancel_requested: bool = False  # another process asked (through the store)
    abandoned: bool = False  # another process recorded its end: record nothing more


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
        owner_heartbeat: float = 3.0,
        owner_timeout: float = 10.0,
        watch_interval: float = 0.05,
        artifact_url: str | None = None,
        artifact_max_bytes: int = DEFAULT_MAX_BYTES,
        cache_max_bytes: int | None = None,
    ):
        from .store.artifacts import BlobStore
        from .store.data import DEFAULT_CACHE_MAX_BYTES, DataStore

        if backend is None:
            from .engine.backends.local import LocalBackend

            backend = LocalBackend()
        self.store = store
        self.backend = backend
        self.bus = Bus()
        self.hubs: dict[str, Hub] = {}  # the shared live fan-out of followed executions
        self.max_parallel = max_parallel
        self.log_line_max_bytes = log_line_max_bytes
        self.retention_days = retention_days
        self.max_executions = max_executions
        self.kill_grace = kill_grace
        self.artifact_max_bytes = artifact_max_bytes
        sqlite_file = (
            store.engine.url.database if store.engine.url.get_backend_name() == "sqlite" else None
        )
        self.data = DataStore(
            store,
            BlobStore(artifact_url, sqlite_file=sqlite_file),
            cache_max_bytes=cache_max_bytes or DEFAULT_CACHE_MAX_BYTES,
        )
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="ansflow-store-write")
        self._readers = ThreadPoolExecutor(4, thread_name_prefix="ansflow-store-read")
        self._runs: dict[str, _Run] = {}
        self._persisting = True  # False while abandoning executions at shutdown
        self.watcher = StoreWatcher(
            self,
            heartbeat=owner_heartbeat,
            owner_timeout=owner_timeout,
            poll_interval=watch_interval,
        )

    # -- lifecycle -----------------------------------------------------------------

    async def start_up(self) -> list[str]:
        """Recover the store (interrupted executions, leftover processes) and apply retention."""
        recovered = await self._write(self.store.recover)
        await self.apply_retention()
        self.watcher.start()
        return recovered

    async def apply_retention(self) -> int:
        """Delete finished executions beyond `retention_days` / `max_executions`."""
        if self.retention_days is None and self.max_executions is None:
            return 0
        deleted = await self._write(
            self.store.apply_retention, self.retention_days, self.max_executions
        )
        await self._write(self.data.collect_garbage)
        return deleted

    async def shutdown(self, *, cancel_running: bool = True) -> None:
        """Stop every execution of this process; no step process outlives it.

        `cancel_running` ends them `cancelled` (like a user's cancel); otherwise their
        trees are killed without recording the executor's reaction, and they end
        `interrupted` -- what the next start would decide had the process died."""
        await self.watcher.stop()
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
        workflow: WorkflowOptions | None = None,
    ) -> PipelineSpec:
        """Parse a pipeline from a file or YAML text; raises SpecError.

        `workflow` (job, event, inputs, strict) applies to workflow files only: BadRequest
        for a native pipeline."""
        if (path is None) == (yaml is None):
            raise BadRequest("give exactly one of 'path' or 'yaml'")
        if path is not None:
            spec = load_pipeline_file(path, env=env, workflow=workflow)
        else:
            folder = base_dir or Path.cwd()
            spec = load_pipeline(yaml or "", base_dir=folder, env=env, workflow=workflow)
        run_options.check_applies(spec, workflow)
        return spec

    async def start(
        self,
        spec: PipelineSpec,
        *,
        env: Mapping[str, str] | None = None,
        max_parallel: int | None = None,
        reuse: Mapping[str, str] | None = None,
        reuse_outputs: Mapping[str, Mapping[str, str]] | None = None,
        force: bool | Sequence[str] = False,
        workflow: WorkflowOptions | None = None,
    ) -> dict[str, Any]:
        """Record a new execution and run it in the background; returns its summary.

        `force` bypasses the cache (True: every step; a list: those step ids). `workflow`
        (the options a workflow file was loaded with) and `max_parallel` are stored with
        the execution, so a re-run repeats them."""
        if not isinstance(force, bool):
            unknown = sorted(set(force) - set(spec.steps))
            if unknown:
                raise BadRequest(f"force: unknown step id(s) {unknown}")
        try:
            await self.backend.open()  # an unreachable cluster is an error now, not per step
        except BackendUnavailable as exc:
            raise Unavailable(str(exc)) from None
        execution_id = uuid.uuid4().hex
        steps = [s.view_fields() for s in spec.steps.values()]
        await self._write(
            self.store.create_execution,
            execution_id,
            spec.name,
            spec.source,
            spec.path,
            Owner.current(),
            steps,
            options=run_options.encode(spec, workflow, max_parallel),
        )
        if self.backend.moves_files and self.data.blobs.local:
            await self._check_shared_store(spec)
        reused = await self._write(self._carry_artifacts, execution_id, dict(reuse or {}))
        data = StepData(
            self.data,
            self.data,
            pipeline_name=spec.name,
            execution_id=execution_id,
            env={**spec.env, **(env or {})},
            max_bytes=self.artifact_max_bytes,
            force=force if isinstance(force, bool) else frozenset(force),
            reused=reused,
        )
        executor = Executor(
            spec,
            execution_id,
            data.wrap(self.backend),
            _StoreSink(self),
            max_parallel=max_parallel or spec.max_parallel or self.max_parallel,
            log_line_max_bytes=self.log_line_max_bytes,
            reuse=dict(reuse or {}),
            kill_grace=self.kill_grace,
            env=dict(env or {}),
            summaries=_StoreSink(self),
            reuse_outputs=reuse_outputs,
            data=data,
        )
        run = _Run(executor)
        self._runs[execution_id] = run
        self.watcher.start()
        run.task = asyncio.create_task(self._drive(execution_id, run))
        return {
            "execution_id": execution_id,
            "pipeline_name": spec.name,
            "status": ExecutionStatus.PENDING.value,
            "path": spec.path,
            "steps_total": len(steps),
            "steps_done": 0,
        }

    async def _check_shared_store(self, spec: PipelineSpec) -> None:
        """A local artifact folder cannot carry files between machines: refuse at start."""
        if not any(s.artifacts is not None for s in spec.steps.values()):
            return
        here = {"127.0.0.1", "localhost", "::1", socket.gethostname()}
        with contextlib.suppress(OSError):
            here.add(socket.gethostbyname(socket.gethostname()))
        away = [h for h in await self.backend.worker_hosts() if h not in here]
        if away:
            raise BadRequest(
                f"artifact store {self.data.blobs.location} is a local folder, but Dask "
                f"workers run on other hosts ({', '.join(away)}): set artifact_url to a "
                "URL every worker reaches (s3://..., a shared mount)"
            )

    def _carry_artifacts(self, execution_id: str, reuse: dict[str, str]) -> dict[str, Any]:
        """Reused steps keep their artifacts: recorded for the new execution too."""
        carried = {}
        for step_id, source in reuse.items():
            files = self.data.files(source, step_id) if source != execution_id else []
            if files:
                self.data.record(execution_id, step_id, files)
                carried[step_id] = files
        return carried

    async def _drive(self, execution_id: str, run: _Run) -> ExecutionStatus:
        try:
            return await run.executor.run()
        finally:
            run.done.set()
            self._runs.pop(execution_id, None)
            if run.abandoned:
                self.watcher.poke()  # relay the end another process recorded

    def cancel_local(self, execution_id: str) -> bool:
        """Cancel an execution of this process now (safe in a signal handler); False if none."""
        run = self._runs.get(execution_id)
        if run is not None:
            run.executor.cancel()
        return run is not None

    async def cancel(self, execution_id: str) -> None:
        """Cancel a running execution; finished ones are left as they are (no error).

        An execution of another process is cancelled by recording the request in the
        store: its owner sees it within a second and cancels it there."""
        if self.cancel_local(execution_id):
            return
        await self._write(self.store.request_cancel, execution_id)

    async def rerun(
        self,
        execution_id: str,
        *,
        failed_only: bool = False,
        base_dir: Path | None = None,
        force: bool | Sequence[str] = False,
    ) -> dict[str, Any]:
        """A new execution of the same pipeline source; `failed_only` reuses what succeeded.

        `base_dir` is where a pipeline that came as YAML text resolves its working
        directories (a file's own folder otherwise), as when it was first started."""
        execution = await self._read(self.store.get_execution, execution_id)
        spec = run_options.stored_spec(execution, base_dir)
        workflow, max_parallel = run_options.decode(execution.get("options"))
        reuse: dict[str, str] = {}
        outputs: dict[str, Any] = {}
        if failed_only:
            snapshot = await self._read(self.store.snapshot, execution_id)
            reuse = reusable_steps(spec, snapshot.data["steps"], execution_id)
            outputs = {s["step_id"]: s.get("outputs") for s in snapshot.data["steps"]}
        return await self.start(
            spec,
            reuse=reuse,
            reuse_outputs=outputs,
            force=force,
            workflow=workflow,
            max_parallel=max_parallel,
        )

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

    async def subscribe(self, execution_id: str, since: int | None = None) -> EventStream:
        """Follow one execution as a pull-style stream (see `follow`); NotFound first."""
        execution = await self._read(self.store.get_execution, execution_id)
        return EventStream(self, execution, since)

    async def follow(self, execution_id: str, follower: Follower, since: int | None = None) -> str:
        """Hand `follower` a snapshot (or the stored events after `since`), then the live
        events, until the execution ends; returns why it stopped (hub.FINISHED, LAGGED or
        GONE). Raises NotFound before anything is delivered. Every front door relays this."""
        execution = await self._read(self.store.get_execution, execution_id)
        return await self._follow(execution, follower, since)

    async def _follow(
        self, execution: Mapping[str, Any], follower: Follower, since: int | None
    ) -> str:
        execution_id = str(execution["execution_id"])
        finished = ExecutionStatus(execution["status"]).finished
        if not finished and execution_id not in self._runs:
            # Run by another process: its live events come through the store watcher.
            self.watcher.start()
            self.watcher.follow(execution_id, int(execution["last_seq"]))
        return await Following(follower, since).run(self, execution_id, finished)

    async def subscribe_all(self, limit: int = 50) -> tuple[Event, Subscription]:
        """The global monitor: a snapshot of recent executions, then every execution_update."""
        sub = self.bus.subscribe(None)
        self.watcher.start()
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
        manager = self._manager
        execution_id = events[0].execution_id
        run = manager._runs.get(execution_id)
        if not manager._persisting or (run is not None and run.abandoned):
            return  # the store records `interrupted` (we are stopping, or were declared gone)
        try:
            await manager._write(manager.store.append, events)
        except Conflict:
            execution = await manager._read(manager.store.get_execution, execution_id)
            if run is None or not ExecutionStatus(execution["status"]).finished:
                raise
            # Another process recorded the end while we stalled: its record stands.
            run.abandoned = True
            run.executor.cancel(force=True)
            return
        manager.watcher.published(execution_id, events[-1].seq)
        manager.bus.publish(events)

    async def save_summary(
        self, execution_id: str, step_id: str, attempt: int, markdown: str
    ) -> None:
        """Kept by the writer thread, so before the step's final update is stored."""
        if self._manager._persisting:
            await self._manager._write(
                self._manager.store.save_summary, execution_id, step_id, attempt, markdown
            )


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


__all__ = ["REPLAY_PAGE", "EventStream", "ExecutionManager", "NotFound", "reusable_steps"]
