"""One step's attempts: spawn, wait, timeout, retry with backoff, outputs, cache.

The executor decides when a step starts and records how it ends; everything in between
happens here: the step's environment and `${{ needs }}` rendering, the cache lookup, each
attempt's process (its output into the log, its `$ANSFLOW_OUTPUT`/summary files), the
wait for it under the step's timeout, and the retries (`retry_in` announced on the step).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Coroutine, Mapping
from typing import Any, Protocol

from ..events import StepReason, StepStatus
from ..pipeline.expr_values import ExpressionRuntimeError
from ..pipeline.expressions import Scope
from ..pipeline.spec import PipelineSpec, StepSpec
from .backend import Backend, SpawnError, StepLaunch, StepProcess, WorkerLost
from .environment import ExecutionEnvironment, StepEnvironment
from .notebook.control import NotebookControl, notebook_argv
from .output import LineProcessor
from .state import StepResult, StepState
from .stepdata import StepData
from .stepfiles import StepFiles, SummarySink, collect_outputs, mask, render_runtime
from .writer import EventWriter


class StepHost(Protocol):
    """The executor's side of a step's attempts: its pipeline, its state and its events."""

    spec: PipelineSpec
    execution_id: str

    def stopped(self, step: StepState) -> bool:
        """True when cancel() applies to this started step."""

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run `coro` as a task the execution waits for before it ends."""

    def emit_step(self, step: StepState, *, running: bool = False) -> None:
        """Emit the step's step_update."""

    def emit_log(self, data: dict[str, Any]) -> None:
        """Emit a log_update."""

    def needs(self, spec: StepSpec) -> dict[str, Any]:
        """The `needs` context: result and outputs of each need."""

    def need_states(self, spec: StepSpec) -> list[StepState]:
        """The states of the step's needs."""

    def argv(self, spec: StepSpec, script: str) -> list[str]:
        """The step's command line."""

    def env_of(self, spec: StepSpec) -> StepEnvironment:
        """How the step's environment is built."""

    async def sleep_unless_cancelled(self, delay: float) -> None:
        """Sleep `delay` seconds, waking early on cancel()."""


class StepRunner:
    """Runs the attempts of an execution's steps, one `run(step)` per started step."""

    def __init__(
        self,
        host: StepHost,
        backend: Backend,
        writer: EventWriter,
        environment: ExecutionEnvironment,
        files: StepFiles,
        *,
        line_max: int,
        kill_grace: float,
        env_overrides: Mapping[str, str],
        summaries: SummarySink | None,
        data: StepData | None,
    ) -> None:
        self._host = host
        self._backend = backend
        self._writer = writer
        self._environment = environment
        self._files = files  # $ANSFLOW_OUTPUT / $ANSFLOW_STEP_SUMMARY of each attempt
        self._line_max = line_max
        self._kill_grace = kill_grace
        self._env_overrides = dict(env_overrides)  # run-time overrides win over needs reads
        self._summaries = summaries
        self._data = data  # artifacts and cache (None: neither)

    async def run(self, step: StepState) -> tuple[StepStatus, StepReason]:
        """Run `step` (attempts, retries, outputs, cache); returns how it ends."""
        host, spec = self._host, step.spec
        environment = host.env_of(spec)
        env, overrides = self._environment.resolve(environment), dict(environment.overrides)
        secrets = {name: env.get(name, "") for name in host.spec.secrets}
        log = LineProcessor(
            spec.id,
            host.emit_log,
            max_line_bytes=self._line_max,
            secrets=secrets,
            on_event=self._writer.emit,
        )
        writer = self._writer
        control = (
            NotebookControl(step.extra, log, lambda: host.emit_step(step, running=True))
            if spec.notebook
            else None
        )

        def on_output(stream: str, chunk: bytes) -> Awaitable[None] | None:
            if stream == "control":
                if control is not None:
                    control.feed(chunk)
            else:
                log.feed(stream, chunk)
            return writer.room() if writer.full else None

        cwd = str(host.spec.base_dir / spec.working_directory)
        result: StepResult = (StepStatus.FAILED, StepReason.EXIT, None)
        script = spec.run
        if spec.runtime:  # `${{ needs... }}` in run/env: resolved now, at the step's start
            try:
                scope = Scope(
                    {"env": env, "matrix": spec.matrix, "needs": host.needs(spec)},
                    workdir=host.spec.base_dir / spec.working_directory,
                    bool_text=True,
                )
                script = render_runtime(spec, env, scope, self._env_overrides, log)
                overrides.update({k: env[k] for k in spec.env if k in env})  # for Dask too
            except ExpressionRuntimeError as exc:
                log.add_line("stderr", f"ansflow: {exc}")
                log.finish()
                step.extra["message"] = str(exc)
                return StepStatus.FAILED, StepReason.SPAWN_ERROR
        if self._data is not None:
            step.started_at = time.time()
            if await self._data.before(step, host.need_states(spec), cwd, env, log):
                return StepStatus.SUCCESS, StepReason.CACHED
        summary = ""
        for attempt in range(1, spec.retry.max + 2):
            if attempt > 1:
                delay = spec.retry.delay * spec.retry.backoff ** (attempt - 2)
                # Views say it now: "attempt 1 failed (exit 1), retrying in 2s".
                # The failed attempt's end goes with it: a snapshot keeps it (the step's
                # own started_at/finished_at span every attempt).
                step.extra.update(retry_in=delay, finished_at=time.time())
                host.emit_step(step, running=True)
                step.extra["retry_in"] = None  # later updates must not repeat it
                del step.extra["finished_at"]
                await host.sleep_unless_cancelled(delay)
            if host.stopped(step):
                result = (StepStatus.CANCELLED, StepReason.CANCELLED, step.exit_code)
                break
            step.attempt = attempt
            step.exit_code = None
            if step.started_at is None:
                step.started_at = time.time()
            env["ANSFLOW_ATTEMPT"] = overrides["ANSFLOW_ATTEMPT"] = str(attempt)
            step.extra.pop("message", None)  # a retry starts with a clean slate
            files = self._files.attempt()
            env.update(files.env())
            overrides.update(files.env())
            built = StepEnvironment(environment.inherit, dict(overrides))
            try:
                if control is not None:
                    control.attempt()
                    argv = notebook_argv(spec, host.spec.base_dir, cwd)
                else:
                    argv = host.argv(spec, script)
                launch = StepLaunch(
                    host.execution_id,
                    spec.id,
                    attempt,
                    argv,
                    dict(env),
                    cwd,
                    built,
                    control=control is not None,
                )
                process = await self._backend.start(launch, on_output)
            except SpawnError as exc:
                log.add_line("stderr", f"ansflow: {exc}")
                log.finish()
                result = (StepStatus.FAILED, StepReason.SPAWN_ERROR, None)
                break
            except WorkerLost as exc:
                result = worker_lost(step, log, exc)
                continue
            step.process = process
            host.emit_step(step, running=True)
            if host.stopped(step):
                host.spawn(process.terminate(self._kill_grace))
            code: int | None = None
            try:
                code, timed_out = await wait_exit(process, spec.timeout, self._kill_grace)
            except WorkerLost as exc:
                result = worker_lost(step, log, exc)
                if host.stopped(step):
                    result = (StepStatus.CANCELLED, StepReason.CANCELLED, None)
                    break
                continue
            except Exception:
                # Reading failed (a bug, or the consumer raised): never orphan the tree.
                host.spawn(process.terminate(self._kill_grace))
                raise
            finally:
                step.process = None
                log.finish(failed=code != 0)
            step.exit_code = code
            summary = mask(files.summary(), secrets.values())
            problem = collect_outputs(step.extra, files, secrets.values())
            self._files.discard(files)
            if host.stopped(step):
                result = (StepStatus.CANCELLED, StepReason.CANCELLED, code)
                break
            if problem:
                log.add_line("stderr", f"ansflow: {problem}")
                log.flush()
            if problem and code == 0:
                step.extra["message"] = problem
                result = (StepStatus.FAILED, StepReason.OUTPUT_ERROR, code)
                break
            if code == 0:
                result = (StepStatus.SUCCESS, StepReason.EXIT, code)
                break
            result = (StepStatus.FAILED, StepReason.TIMEOUT if timed_out else StepReason.EXIT, code)
            if control is not None and control.message and not timed_out:
                step.extra["message"] = control.message  # the failed cell and its error
                if control.kernel_died:
                    result = (StepStatus.FAILED, StepReason.KERNEL_DIED, code)
        status, reason, step.exit_code = result
        if summary:
            if self._summaries is not None:
                await self._summaries.save_summary(
                    host.execution_id, spec.id, step.attempt, summary
                )
            step.extra["summary"] = len(summary.encode())
        if self._data is not None:
            status, reason = await self._data.after(step, cwd, status, reason, log)
        return status, reason


def worker_lost(step: StepState, log: LineProcessor, exc: WorkerLost) -> StepResult:
    """A failed attempt whose machine went away (retried like any failure)."""
    step.process = None
    log.finish()  # the attempt's last partial line first, then why it ended
    log.add_line("stderr", f"ansflow: {exc}")
    log.finish()
    step.extra["message"] = str(exc)
    return (StepStatus.FAILED, StepReason.WORKER_LOST, None)


async def wait_exit(
    process: StepProcess, timeout: float | None, kill_grace: float
) -> tuple[int, bool]:
    """The exit code, and whether the attempt was killed for its timeout."""
    if timeout is None:
        return await process.wait(), False
    waiter = asyncio.ensure_future(process.wait())
    try:
        done, _ = await asyncio.wait({waiter}, timeout=timeout)
        if done:
            return waiter.result(), False
        if process.exited:  # it ended in time: only storing its output is slow
            return await waiter, False
        await process.terminate(kill_grace)
        return await waiter, True
    finally:
        waiter.cancel()
