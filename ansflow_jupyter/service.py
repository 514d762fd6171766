"""ExecutionManager: the one API every front door (REST, WebSocket, kernel, CLI) uses.

It composes the executor, the store and the bus, and keeps the reliability rules:
persist, then publish (service_runs.py); subscribe first, then replay, then live without
gap or duplicate (hub.py). Store calls are blocking, so they run on worker threads
(service_queries.py, with every read the manager answers).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from . import run_options
from .bus import Bus, Subscription
from .engine.backend import Backend, BackendUnavailable
from .engine.executor import Executor
from .engine.stepdata import DEFAULT_MAX_BYTES, StepData
from .errors import BadRequest, Conflict, NotFound, Unavailable
from .events import Event, EventType, ExecutionStatus
from .hub import REPLAY_PAGE, EventStream, Follower, Following, Hub
from .pipeline import load_pipeline, load_pipeline_file, validate
from .pipeline.errors import SpecIssue
from .pipeline.github import WorkflowOptions
from .pipeline.spec import PipelineSpec
from .service_queries import StoreQueries
from .service_runs import Run, StoreSink, reusable_steps
from .store import Owner, Store
from .watcher import StoreWatcher


class ExecutionManager(StoreQueries):
    """Start, follow, cancel and query executions (the reads: service_queries.py)."""

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
        data = DataStore(
            store,
            BlobStore(artifact_url, sqlite_file=sqlite_file),
            cache_max_bytes=cache_max_bytes or DEFAULT_CACHE_MAX_BYTES,
        )
        super().__init__(store, data)
        self._runs: dict[str, Run] = {}
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
            StoreSink(self),
            max_parallel=max_parallel or spec.max_parallel or self.max_parallel,
            log_line_max_bytes=self.log_line_max_bytes,
            reuse=dict(reuse or {}),
            kill_grace=self.kill_grace,
            env=dict(env or {}),
            summaries=StoreSink(self),
            reuse_outputs=reuse_outputs,
            data=data,
        )
        run = Run(executor)
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

    async def _drive(self, execution_id: str, run: Run) -> ExecutionStatus:
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

    # -- following -----------------------------------------------------------------

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


__all__ = ["REPLAY_PAGE", "EventStream", "ExecutionManager", "NotFound", "reusable_steps"]
