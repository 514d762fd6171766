"""The execution state machine: ready-set scheduling, conditions, cancel, final states.

A step starts the moment its own needs are finished (never level by level), limited by
`max_parallel` (the ready set and limits: engine/schedule.py; a started step's attempts,
retries and timeouts: engine/attempt.py). All state changes happen on the event loop
thread in plain synchronous code, so the order of events is the order of decisions.

Cancellation follows GitHub Actions: running trees are terminated and queued steps end
`cancelled` without starting, except steps whose `if:` explicitly calls `always()` or
`cancelled()` -- cleanup steps still run (to completion) once their needs are finished;
`cancel(force=True)` stops those too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Coroutine, Mapping
from typing import Any

from ..events import EventType, ExecutionStatus, StepReason, StepStatus
from ..pipeline.spec import PipelineSpec, StepSpec
from .attempt import StepRunner
from .backend import Backend
from .dynamic import Groups, MatrixError, aggregate, is_dynamic
from .environment import ExecutionEnvironment, StepEnvironment
from .jobplan import job_argv
from .output import LineProcessor
from .schedule import Schedule, verdict
from .shell import shell_argv
from .state import ConditionValues, StepState, runs_when_cancelled
from .stepdata import StepData
from .stepfiles import StepFiles, SummarySink, needs_context
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
        self._reuse = dict(reuse or {})
        self._kill_grace = kill_grace
        self._reuse_outputs = dict(reuse_outputs or {})
        self._files = StepFiles()  # $ANSFLOW_OUTPUT / $ANSFLOW_STEP_SUMMARY of each attempt
        self._environment = ExecutionEnvironment(
            execution_id, spec.env, spec.secrets, env or {}, inherit=spec.env_inherit
        )
        self._writer = EventWriter(execution_id, sink, first_seq=first_seq, on_error=self._fail)
        self._runner = StepRunner(
            self,
            backend,
            self._writer,
            self._environment,
            self._files,
            line_max=log_line_max_bytes,
            kill_grace=kill_grace,
            env_overrides=env or {},
            summaries=summaries,
            data=data,
        )
        self._steps = {sid: StepState(step) for sid, step in spec.steps.items()}
        self._schedule = Schedule(self._steps)
        self._swept = False
        self._forced = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._finished = False
        self._groups = Groups()  # matrices built at run time (engine/dynamic.py)
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
            if step.process is not None and self.stopped(step):
                self.spawn(step.process.terminate(self._kill_grace))
        self._advance()

    def stopped(self, step: StepState) -> bool:
        """True when cancel() applies to this started step."""
        return self._cancelled and (self._forced or not step.cleanup)

    # -- scheduling ---------------------------------------------------------------------

    def _advance(self) -> None:
        """Decide the steps whose needs are finished, in file order; start what fits."""
        if self._cancelled and not self._swept:
            self._swept = True
            for step in self._schedule.order:
                if step.status is StepStatus.PENDING and (
                    self._forced or not runs_when_cancelled(step.spec)
                ):
                    self._finish(step, StepStatus.CANCELLED, StepReason.CANCELLED)
        schedule = self._schedule
        deferred: list[StepState] = []
        for step in schedule.ready():
            if step.status is not StepStatus.PENDING:
                continue
            reason = verdict(
                step, self.need_states(step.spec), cancelled=self._cancelled, context=self._context
            )
            if reason is None and is_dynamic(step.spec):
                self._grow(step)
                continue
            if reason is None:
                if schedule.fits(step.spec, self.max_parallel):
                    self._start(step)
                else:
                    deferred.append(step)  # waits for a free slot
                continue
            status = StepStatus.CANCELLED if self._cancelled else StepStatus.SKIPPED
            self._finish(step, status, reason)  # may make dependents ready
        schedule.defer(deferred)
        if schedule.all_done and self._all_done is not None:
            self._all_done.set()

    def _grow(self, step: StepState) -> None:
        """A job whose matrix reads `needs`: add its legs now; it is their group."""
        step.status, step.started_at = StepStatus.RUNNING, time.time()
        log = LineProcessor(step.spec.id, self.emit_log, on_event=self._writer.emit)
        try:
            found = self._groups.expand(step.spec, self.needs(step.spec), self._schedule.legs())
        except MatrixError as exc:
            log.add_line("stderr", f"ansflow: {exc}")
            log.finish()
            step.extra["message"] = str(exc)
            self._finish(step, StepStatus.FAILED, StepReason.SPAWN_ERROR)
            return
        log.add_line("stdout", f"Matrix: {len(found)} legs: {', '.join(s.id for s in found)}")
        log.finish()
        self.emit_step(step, running=True)
        for spec in found:
            state = self._schedule.add(spec)
            self.emit_step(state)  # pending: the store and the views list it from now on
        self._emit_execution()

    def _context(self, step: StepState, succeeded: bool) -> ConditionValues:
        return ConditionValues(
            needs_succeeded=succeeded,
            needs_failed=step.failed_upstream,
            cancelled=self._cancelled,
            env=self._environment.resolve(self.env_of(step.spec)),
            matrix=step.spec.matrix,
            needs=self.needs(step.spec),
            workdir=self.spec.base_dir / step.spec.working_directory,
        )

    def needs(self, spec: StepSpec) -> dict[str, Any]:
        """The `needs` context: result and outputs of each need."""
        return needs_context(self.need_states(spec))

    def need_states(self, spec: StepSpec) -> list[StepState]:
        """The states of the step's needs."""
        return [self._steps[n] for n in spec.needs if n in self._steps]

    def _start(self, step: StepState) -> None:
        step.status = StepStatus.RUNNING
        step.cleanup = self._cancelled
        self._schedule.started(step.spec)
        self.spawn(self._run_step(step))

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run `coro` as a task the execution waits for before it ends."""
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
            status, reason = await self._runner.run(step)
            self._finish(step, status, reason)
        except Exception as exc:  # a bug or a consumer error: end the step, keep the run sane
            if not step.status.finished:
                step.extra["message"] = f"internal error: {exc!r}"
                self._finish(step, StepStatus.FAILED, StepReason.EXIT)
        finally:
            self._schedule.ended(step.spec)
            if self._all_done is not None:
                self._advance()

    # -- hooks of the step runner (engine/attempt.py) -------------------------------------

    def argv(self, spec: StepSpec, script: str) -> list[str]:
        """The step's command line: its shell, or the job runner for a workflow job."""
        if not spec.substeps:
            return shell_argv(spec.shell, script)
        legs = self._schedule.legs()
        return job_argv(spec, self.execution_id, self.spec.base_dir, self.needs(spec), legs)

    async def sleep_unless_cancelled(self, delay: float) -> None:
        """Sleep `delay` seconds, waking early on cancel()."""
        assert self._cancel_event is not None
        if delay > 0 and not self._cancel_event.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._cancel_event.wait(), delay)

    def env_of(self, spec: StepSpec) -> StepEnvironment:
        """How the step's environment is built."""
        return self._environment.of(spec.id, spec.env, spec.env_inherit)

    # -- events -----------------------------------------------------------------------

    def _fail_fast(self, failed: StepState) -> None:
        """A failed matrix leg with `fail-fast` cancels its sibling legs (as on GitHub)."""
        for step in self._schedule.siblings(failed):
            if step.status is StepStatus.PENDING:
                self._finish(step, StepStatus.CANCELLED, StepReason.FAIL_FAST)
            elif step.process is not None and not step.status.finished:
                step.extra["fail_fast"] = True
                self.spawn(step.process.terminate(self._kill_grace))

    def _finish(self, step: StepState, status: StepStatus, reason: StepReason) -> None:
        if step.extra.pop("fail_fast", False) and status is not StepStatus.SUCCESS:
            status, reason = StepStatus.CANCELLED, StepReason.FAIL_FAST
        step.status = status
        step.reason = reason
        step.finished_at = time.time()
        self._schedule.finished(step)
        self.emit_step(step)
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

    def emit_step(self, step: StepState, *, running: bool = False) -> None:
        """Emit the step's step_update."""
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
                "steps_done": self._schedule.done,
            },
        )

    def emit_log(self, data: dict[str, Any]) -> None:
        """Emit a log_update."""
        self._writer.emit(EventType.LOG_UPDATE, data)
