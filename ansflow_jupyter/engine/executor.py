"""The execution state machine: ready-set scheduling, retries, timeouts, conditions, cancel.

A step starts the moment its own needs are finished (never level by level), limited by
`max_parallel`. All state changes happen on the event loop thread in plain synchronous
code, so the order of events is the order of decisions.

Cancellation follows GitHub Actions: running trees are terminated and queued steps end
`cancelled` without starting, except steps whose `if:` explicitly calls `always()` or
`cancelled()` -- cleanup steps still run (to completion) once their needs are finished;
`cancel(force=True)` stops those too.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import os
import time
from collections.abc import Awaitable, Coroutine, Mapping
from typing import Any

from ..events import EventType, ExecutionStatus, StepReason, StepStatus
from ..pipeline.expr_values import ExpressionRuntimeError
from ..pipeline.expressions import Scope
from ..pipeline.spec import PipelineSpec, StepSpec
from .backend import Backend, SpawnError, StepLaunch, StepProcess, WorkerLost
from .dynamic import Groups, MatrixError, aggregate, is_dynamic
from .environment import ExecutionEnvironment, StepEnvironment
from .jobplan import job_argv
from .notebook.control import NotebookControl, notebook_argv
from .output import LineProcessor
from .shell import shell_argv
from .state import ConditionValues, StepResult, StepState, runs_when_cancelled
from .stepdata import StepData
from .stepfiles import (
    StepFiles,
    SummarySink,
    collect_outputs,
    mask,
    needs_context,
    render_runtime,
)
from .writer import EventSink, EventWriter

__all__ = ["EventSink", "Executor", "default_max_parallel", "shell_argv"]


def default_max_parallel() -> int:
    """CPU count + 2, like ninja: steps often wait on I/O, so a few extra keep CPUs busy."""
    return (os.cpu_count() or 1) + 2


class Executor:
    """Runs one execution of a pipeline and emits its events through `sink`."""

    def __init__(
        self,
        spec: PipelineSpec,
        execution_id: str,
        backend: Backend,
        sink: EventSink,
        *,
        max_parallel: int | None = None,
        log_line_max_bytes: int = 65536,
        first_seq: int = 1,
        reuse: Mapping[str, str] | None = None,
        kill_grace: float = 5.0,
        env: Mapping[str, str] | None = None,
        summaries: SummarySink | None = None,
        reuse_outputs: Mapping[str, Mapping[str, str]] | None = None,
        data: StepData | None = None,
    ) -> None:
        self.spec = spec
        self.execution_id = execution_id
        self.max_parallel = max(1, max_parallel or spec.max_parallel or default_max_parallel())
        self._backend = backend
        self._line_max = log_line_max_bytes
        self._reuse = dict(reuse or {})
        self._kill_grace = kill_grace
        self._env_overrides = dict(env or {})  # run-time overrides win over needs reads
        self._summaries = summaries
        self._reuse_outputs = dict(reuse_outputs or {})
        self._files = StepFiles()  # $ANSFLOW_OUTPUT / $ANSFLOW_STEP_SUMMARY of each attempt
        self._environment = ExecutionEnvironment(
            execution_id, spec.env, spec.secrets, env or {}, inherit=spec.env_inherit
        )
        self._data = data  # artifacts and cache (None: neither)
        self._writer = EventWriter(execution_id, sink, first_seq=first_seq, on_error=self._fail)
        self._steps = {sid: StepState(step) for sid, step in spec.steps.items()}
        # Incremental ready set: unfinished-needs counters and a heap of file positions, so
        # a finished step costs O(its dependents), not a scan of the whole pipeline.
        self._order = list(self._steps.values())
        self._position = {sid: index for index, sid in enumerate(self._steps)}
        self._waiting = dict.fromkeys(self._steps, 0)
        self._dependents: dict[str, list[str]] = {sid: [] for sid in self._steps}
        for sid, step in spec.steps.items():
            for need in dict.fromkeys(step.needs):
                if need in self._steps:
                    self._waiting[sid] += 1
                    self._dependents[need].append(sid)
        self._ready = [self._position[sid] for sid, n in self._waiting.items() if n == 0]
        self._swept = False
        self._forced = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._finished = False
        self._running = 0
        self._running_legs: dict[str, int] = {}  # running legs of a matrix with max-parallel
        self._groups = Groups()  # matrices built at run time (engine/dynamic.py)
        self._done = 0
        self._cancelled = False
        self._started = False
        self._started_at = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        self._all_done: asyncio.Event | None = None
        self._cancel_event: asyncio.Event | None = None
        self.status = ExecutionStatus.PENDING

    # -- public -------------------------------------------------------------------------

    async def run(self) -> ExecutionStatus:
        """Run every step to a final state; returns the execution's final status."""
        if self._started:
            raise RuntimeError("an Executor runs once")
        self._started = True
        self._loop = asyncio.get_running_loop()
        self._all_done = asyncio.Event()
        self._cancel_event = asyncio.Event()
        if self._cancelled:
            self._cancel_event.set()
        self._started_at = time.time()
        self._writer.start()
        self.status = ExecutionStatus.RUNNING
        self._emit_execution()
        for step_id, source in self._reuse.items():
            step = self._steps.get(step_id)
            if step is not None and step.status is StepStatus.PENDING:
                step.extra["reused_from"] = source
                if self._reuse_outputs.get(step_id):
                    step.extra["outputs"] = dict(self._reuse_outputs[step_id])
                self._finish(step, StepStatus.SUCCESS, StepReason.REUSED)
        try:
            self._advance()
            await self._all_done.wait()
        except asyncio.CancelledError:
            # Our caller gave up on us: kill everything, but still leave a complete record.
            self._cancel_now(force=True)
            await self._drain_tasks()
            await self._conclude()
            raise
        await self._drain_tasks()
        return await self._conclude()

    async def _conclude(self) -> ExecutionStatus:
        """The final execution_update (after every step's last log batch), then flush."""
        if self._cancelled:
            self.status = ExecutionStatus.CANCELLED
        elif any(
            s.status is StepStatus.FAILED and not s.counts_as_success for s in self._steps.values()
        ):
            self.status = ExecutionStatus.FAILED
        else:
            self.status = ExecutionStatus.SUCCESS
        self._emit_execution()
        self._finished = True
        self._files.remove()
        await self._writer.close()
        return self.status

    def cancel(self, *, force: bool = False) -> None:
        """Stop the execution: queued steps never start, running trees are terminated.

        Idempotent. Cleanup steps (`if:` with always()/cancelled()) still run unless
        `force` is given (e.g. a second Ctrl-C), which stops them too. Safe from any thread
        and from a signal handler: while running, the work is handed to the loop.
        """
        if self._loop is not None and not self._finished:
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                self._loop.call_soon_threadsafe(self._cancel_now, force)
        elif self._loop is None:
            self._cancel_now(force)

    def _cancel_now(self, force: bool) -> None:
        if self._cancelled and (self._forced or not force):
            return
        self._cancelled = True
        if force:
            self._forced = True
            self._swept = False  # sweep again, cleanup steps included
        if self._cancel_event is None:
            return  # not running yet: run() cancels everything at once
        self._cancel_event.set()
        for step in self._steps.values():
            if step.process is not None and self._stopped(step):
                self._spawn(step.process.terminate(self._kill_grace))
        self._advance()

    def _stopped(self, step: StepState) -> bool:
        """True when cancel() applies to this started step."""
        return self._cancelled and (self._forced or not step.cleanup)

    # -- scheduling ---------------------------------------------------------------------

    def _advance(self) -> None:
        """Decide the steps whose needs are finished, in file order; start what fits."""
        if self._cancelled and not self._swept:
            self._swept = True
            for step in self._order:
                if step.status is StepStatus.PENDING and (
                    self._forced or not runs_when_cancelled(step.spec)
                ):
                    self._finish(step, StepStatus.CANCELLED, StepReason.CANCELLED)
        deferred: list[int] = []
        while self._ready:
            position = heapq.heappop(self._ready)
            step = self._order[position]
            if step.status is not StepStatus.PENDING:
                continue
            needs = [self._steps[n] for n in step.spec.needs if n in self._steps]
            verdict = self._verdict(step, needs)
            if verdict is None and is_dynamic(step.spec):
                self._grow(step)
                continue
            if verdict is None:
                if self._running < self.max_parallel and self._leg_fits(step.spec):
                    self._start(step)
                else:
                    deferred.append(position)  # waits for a free slot
                continue
            status = StepStatus.CANCELLED if self._cancelled else StepStatus.SKIPPED
            self._finish(step, status, verdict)  # may make dependents ready
        for position in deferred:
            heapq.heappush(self._ready, position)
        if self._done == len(self._steps) and self._all_done is not None:
            self._all_done.set()

    def _grow(self, step: StepState) -> None:
        """A job whose matrix reads `needs`: add its legs now; it is their group."""
        step.status, step.started_at = StepStatus.RUNNING, time.time()
        log = LineProcessor(step.spec.id, self._emit_log, on_event=self._writer.emit)
        legs = {sid: s.spec.template_id for sid, s in self._steps.items()}
        try:
            found = self._groups.expand(step.spec, self._needs(step.spec), legs)
        except MatrixError as exc:
            log.add_line("stderr", f"ansflow: {exc}")
            log.finish()
            step.extra["message"] = str(exc)
            self._finish(step, StepStatus.FAILED, StepReason.SPAWN_ERROR)
            return
        log.add_line("stdout", f"Matrix: {len(found)} legs: {', '.join(s.id for s in found)}")
        log.finish()
        self._emit_step(step, running=True)
        for spec in found:
            state = self._steps[spec.id] = StepState(spec)
            self._position[spec.id] = len(self._order)
            self._order.append(state)
            self._waiting[spec.id] = 0
            self._dependents[spec.id] = []
            heapq.heappush(self._ready, self._position[spec.id])
            self._emit_step(state)  # pending: the store and the views list it from now on
        self._emit_execution()

    def _leg_fits(self, spec: StepSpec) -> bool:
        """A matrix with `max-parallel: N` runs at most N of its legs at once."""
        limit = leg_limit(spec)
        return not limit or self._running_legs.get(spec.template_id, 0) < limit

    def _verdict(self, step: StepState, needs: list[StepState]) -> StepReason | None:
        """None to run the step, else why it does not run."""
        if step.spec.skip_reason:  # a workflow job this machine cannot run (runner-os, ...)
            step.extra["message"] = step.spec.note
            return StepReason(step.spec.skip_reason)
        succeeded = all(n.counts_as_success for n in needs)
        step.failed_upstream = any(
            n.failed_upstream or (n.status is StepStatus.FAILED and not n.spec.continue_on_error)
            for n in needs
        )
        condition = step.spec.condition
        try:
            if condition is None or not condition.uses_status_function:
                # No status function means `success() && (expr)`, like GitHub Actions.
                run = succeeded and not self._cancelled
                if run and condition is not None:
                    run = condition.evaluate(self._context(step, succeeded))
            else:
                run = condition.evaluate(self._context(step, succeeded))
        except Exception as exc:  # never let one bad expression stall the whole run
            step.extra["message"] = f"if: {condition.source if condition else ''}: {exc}"
            run = False
        if run:
            return None
        if self._cancelled:
            return StepReason.CANCELLED
        return StepReason.NEEDS_FAILED if not succeeded else StepReason.CONDITION_FALSE

    def _context(self, step: StepState, succeeded: bool) -> ConditionValues:
        return ConditionValues(
            needs_succeeded=succeeded,
            needs_failed=step.failed_upstream,
            cancelled=self._cancelled,
            env=self._environment.resolve(self._env_of(step.spec)),
            matrix=step.spec.matrix,
            needs=self._needs(step.spec),
            workdir=self.spec.base_dir / step.spec.working_directory,
        )

    def _needs(self, spec: StepSpec) -> dict[str, Any]:
        """The `needs` context: result and outputs of each need."""
        return needs_context(self._steps[n] for n in spec.needs if n in self._steps)

    def _start(self, step: StepState) -> None:
        step.status = StepStatus.RUNNING
        step.cleanup = self._cancelled
        self._running += 1
        if leg_limit(step.spec):
            tid = step.spec.template_id
            self._running_legs[tid] = self._running_legs.get(tid, 0) + 1
        self._spawn(self._run_step(step))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain_tasks(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _fail(self, exc: BaseException) -> None:
        """The sink failed: nothing more can be recorded, so stop everything."""
        self._cancel_now(force=True)

    # -- one step -------------------------------------------------------------------------

    async def _run_step(self, step: StepState) -> None:
        try:
            await self._attempts(step)
        except Exception as exc:  # a bug or a consumer error: end the step, keep the run sane
            if not step.status.finished:
                step.extra["message"] = f"internal error: {exc!r}"
                self._finish(step, StepStatus.FAILED, StepReason.EXIT)
        finally:
            self._running -= 1
            if leg_limit(step.spec):
                self._running_legs[step.spec.template_id] -= 1
            if self._all_done is not None:
                self._advance()

    async def _attempts(self, step: StepState) -> None:
        spec = step.spec
        environment = self._env_of(spec)
        env, overrides = self._environment.resolve(environment), dict(environment.overrides)
        secrets = {name: env.get(name, "") for name in self.spec.secrets}
        log = LineProcessor(
            spec.id,
            self._emit_log,
            max_line_bytes=self._line_max,
            secrets=secrets,
            on_event=self._writer.emit,
        )
        writer = self._writer
        control = (
            NotebookControl(step.extra, log, lambda: self._emit_step(step, running=True))
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

        cwd = str(self.spec.base_dir / spec.working_directory)
        result: StepResult = (StepStatus.FAILED, StepReason.EXIT, None)
        script = spec.run
        if spec.runtime:  # `${{ needs... }}` in run/env: resolved now, at the step's start
            try:
                scope = Scope(
                    {"env": env, "matrix": spec.matrix, "needs": self._needs(spec)},
                    workdir=self.spec.base_dir / spec.working_directory,
                    bool_text=True,
                )
                script = render_runtime(spec, env, scope, self._env_overrides, log)
                overrides.update({k: env[k] for k in spec.env if k in env})  # for Dask too
            except ExpressionRuntimeError as exc:
                log.add_line("stderr", f"ansflow: {exc}")
                log.finish()
                step.extra["message"] = str(exc)
                self._finish(step, StepStatus.FAILED, StepReason.SPAWN_ERROR)
                return
        if self._data is not None:
            step.started_at = time.time()
            needs = [self._steps[n] for n in spec.needs if n in self._steps]
            if await self._data.before(step, needs, cwd, env, log):
                self._finish(step, StepStatus.SUCCESS, StepReason.CACHED)
                return
        summary = ""
        for attempt in range(1, spec.retry.max + 2):
            if attempt > 1:
                delay = spec.retry.delay * spec.retry.backoff ** (attempt - 2)
                # Views say it now: "attempt 1 failed (exit 1), retrying in 2s".
                step.extra["retry_in"] = delay
                self._emit_step(step, running=True)
                step.extra["retry_in"] = None  # later updates must not repeat it
                await self._sleep_unless_cancelled(delay)
            if self._stopped(step):
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
                    argv = notebook_argv(spec, self.spec.base_dir, cwd)
                else:
                    argv = self._argv(spec, script)
                launch = StepLaunch(
                    self.execution_id,
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
                result = self._lost(step, log, exc)
                continue
            step.process = process
            self._emit_step(step, running=True)
            if self._stopped(step):
                self._spawn(process.terminate(self._kill_grace))
            code: int | None = None
            try:
                code, timed_out = await self._wait(process, spec.timeout)
            except WorkerLost as exc:
                result = self._lost(step, log, exc)
                if self._stopped(step):
                    result = (StepStatus.CANCELLED, StepReason.CANCELLED, None)
                    break
                continue
            except Exception:
                # Reading failed (a bug, or the consumer raised): never orphan the tree.
                self._spawn(process.terminate(self._kill_grace))
                raise
            finally:
                step.process = None
                log.finish(failed=code != 0)
            step.exit_code = code
            summary = mask(files.summary(), secrets.values())
            problem = collect_outputs(step.extra, files, secrets.values())
            self._files.discard(files)
            if self._stopped(step):
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
                    self.execution_id, spec.id, step.attempt, summary
                )
            step.extra["summary"] = len(summary.encode())
        if self._data is not None:
            status, reason = await self._data.after(step, cwd, status, reason, log)
        self._finish(step, status, reason)

    def _argv(self, spec: StepSpec, script: str) -> list[str]:
        """The step's command line: its shell, or the job runner for a workflow job."""
        if not spec.substeps:
            return shell_argv(spec.shell, script)
        legs = {sid: s.spec.template_id for sid, s in self._steps.items()}
        return job_argv(spec, self.execution_id, self.spec.base_dir, self._needs(spec), legs)

    def _lost(self, step: StepState, log: LineProcessor, exc: WorkerLost) -> StepResult:
        """A failed attempt whose machine went away (retried like any failure)."""
        step.process = None
        log.finish()  # the attempt's last partial line first, then why it ended
        log.add_line("stderr", f"ansflow: {exc}")
        log.finish()
        step.extra["message"] = str(exc)
        return (StepStatus.FAILED, StepReason.WORKER_LOST, None)

    async def _wait(self, process: StepProcess, timeout: float | None) -> tuple[int, bool]:
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
            await process.terminate(self._kill_grace)
            return await waiter, True
        finally:
            waiter.cancel()

    async def _sleep_unless_cancelled(self, delay: float) -> None:
        """Sleep `delay` seconds, waking early on cancel()."""
        assert self._cancel_event is not None
        if delay > 0 and not self._cancel_event.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._cancel_event.wait(), delay)

    def _env_of(self, spec: StepSpec) -> StepEnvironment:
        return self._environment.of(spec.id, spec.env, spec.env_inherit)

    # -- events -----------------------------------------------------------------------

    def _fail_fast(self, failed: StepState) -> None:
        """A failed matrix leg with `fail-fast` cancels its sibling legs (as on GitHub)."""
        for step in self._order:
            if step is failed or step.spec.template_id != failed.spec.template_id:
                continue
            if step.status is StepStatus.PENDING:
                self._finish(step, StepStatus.CANCELLED, StepReason.FAIL_FAST)
            elif step.process is not None and not step.status.finished:
                step.extra["fail_fast"] = True
                self._spawn(step.process.terminate(self._kill_grace))

    def _finish(self, step: StepState, status: StepStatus, reason: StepReason) -> None:
        if step.extra.pop("fail_fast", False) and status is not StepStatus.SUCCESS:
            status, reason = StepStatus.CANCELLED, StepReason.FAIL_FAST
        step.status = status
        step.reason = reason
        step.finished_at = time.time()
        self._done += 1
        for dependent in self._dependents[step.spec.id]:
            self._waiting[dependent] -= 1
            if self._waiting[dependent] == 0:
                heapq.heappush(self._ready, self._position[dependent])
        self._emit_step(step)
        self._emit_execution()
        spec = step.spec
        if status is StepStatus.FAILED and spec.job.get("fail_fast") and not spec.continue_on_error:
            self._fail_fast(step)
        group = self._groups.closing(spec.id, self._steps)
        if group is not None:  # the last leg of a matrix built at run time
            state = self._steps[group]
            status, reason, state.extra["outputs"] = aggregate(
                self._steps[sid] for sid in self._groups.legs[group]
            )
            self._finish(state, status, reason)

    def _emit_step(self, step: StepState, *, running: bool = False) -> None:
        self._writer.emit(EventType.STEP_UPDATE, step.update_data(running=running))

    def _emit_execution(self) -> None:
        final = self.status.finished
        now = time.time()
        message = ""
        if self.status is ExecutionStatus.CANCELLED:
            message = "cancelled"
        elif final:  # only the final event names them: no scan of every step per update
            failed = [
                s.spec.id
                for s in self._steps.values()
                if s.status is StepStatus.FAILED and not s.counts_as_success
            ]
            if failed:
                message = f"failed steps: {', '.join(failed)}"
        self._writer.emit(
            EventType.EXECUTION_UPDATE,
            {
                "execution_id": self.execution_id,
                "pipeline_name": self.spec.name,
                "status": self.status.value,
                "message": message,
                "started_at": self._started_at,
                "finished_at": now if final else None,
                "duration": now - self._started_at if final else None,
                "steps_total": len(self._steps),
                "steps_done": self._done,
            },
        )

    def _emit_log(self, data: dict[str, Any]) -> None:
        self._writer.emit(EventType.LOG_UPDATE, data)


def leg_limit(spec: StepSpec) -> int:
    """The `strategy.max-parallel` of a workflow job's matrix (0: no limit of its own)."""
    limit = spec.job.get("max_parallel") if spec.job else None
    return limit if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0 else 0
