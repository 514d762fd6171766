"""The executor state machine, driven by the scripted FakeBackend (no processes)."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from _engine_helpers import (
    ALWAYS,
    CANCELLED,
    FAILURE,
    Cond,
    ListSink,
    env_equals,
    pipeline,
    run,
    step,
)
from _fake_backend import FakeBackend, FakeStep

from ansflow_jupyter.engine import Executor
from ansflow_jupyter.engine.writer import MAX_PENDING
from ansflow_jupyter.events import EventType, ExecutionStatus
from ansflow_jupyter.pipeline.spec import PipelineSpec, RetrySpec


def execute(
    spec: PipelineSpec, backend: FakeBackend, **kwargs: object
) -> tuple[ExecutionStatus, ListSink]:
    sink = ListSink()
    executor = Executor(spec, "exec-1", backend, sink, **kwargs)  # type: ignore[arg-type]
    status = run(executor.run())
    sink.check_invariants(int(kwargs.get("first_seq", 1)))  # type: ignore[call-overload]
    return status, sink


def test_ready_set_not_levels() -> None:
    # a1 -> a2 is fast; b is a slow sibling of a1. a2 must start long before b ends.
    spec = pipeline(step("a1"), step("b"), step("a2", needs=["a1"]), max_parallel=4)
    backend = FakeBackend({"a1": FakeStep(duration=0.01), "b": FakeStep(duration=0.3)})
    status, sink = execute(spec, backend)
    assert status is ExecutionStatus.SUCCESS
    a2, b = backend.attempts("a2")[0], backend.attempts("b")[0]
    assert b.ended is not None and a2.started < b.ended - 0.2
    assert [sink.final(s)["status"] for s in ("a1", "b", "a2")] == ["success"] * 3


def test_max_parallel_respected() -> None:
    spec = pipeline(*[step(f"s{i}") for i in range(10)], max_parallel=3)
    backend = FakeBackend({f"s{i}": FakeStep(duration=0.02) for i in range(10)})
    status, _ = execute(spec, backend)
    assert status is ExecutionStatus.SUCCESS
    assert backend.max_running == 3
    # The argument overrides the pipeline's max-parallel.
    backend = FakeBackend({f"s{i}": FakeStep(duration=0.02) for i in range(10)})
    execute(spec, backend, max_parallel=1)
    assert backend.max_running == 1


def test_retries_with_backoff() -> None:
    spec = pipeline(step("flaky", retry=RetrySpec(max=3, delay=0.05, backoff=2.0)))
    backend = FakeBackend({"flaky": [FakeStep(exit_code=1)] * 3 + [FakeStep(exit_code=0)]})
    status, sink = execute(spec, backend)
    assert status is ExecutionStatus.SUCCESS
    attempts = backend.attempts("flaky")
    assert [a.attempt for a in attempts] == [1, 2, 3, 4]
    gaps = [b.started - a.started for a, b in itertools.pairwise(attempts)]
    for gap, expected in zip(gaps, [0.05, 0.1, 0.2], strict=True):
        assert expected - 0.005 <= gap < expected + 0.25
    running = [d for d in sink.steps("flaky") if d["status"] == "running"]
    # Each failed attempt is announced with its exit code and the delay before the next.
    retries = [d for d in running if d.get("retry_in") is not None]
    assert [(d["attempt"], d["exit_code"]) for d in retries] == [(1, 1), (2, 1), (3, 1)]
    assert [d["retry_in"] for d in retries] == pytest.approx([0.05, 0.1, 0.2])
    running = [d for d in running if d.get("retry_in") is None]
    assert [d["attempt"] for d in running] == [1, 2, 3, 4]
    assert all("pid" in d for d in running)
    final = sink.final("flaky")
    assert (final["status"], final["attempt"], final["exit_code"]) == ("success", 4, 0)


def test_retries_exhausted_fail_and_log_offsets_continue() -> None:
    spec = pipeline(step("bad", retry=RetrySpec(max=1)), step("after", needs=["bad"]))
    out = FakeStep(exit_code=3, output=[("stdout", b"one\ntwo\n")])
    status, sink = execute(spec, FakeBackend({"bad": out}))
    assert status is ExecutionStatus.FAILED
    final = sink.final("bad")
    assert (final["status"], final["exit_code"], final["attempt"], final["reason"]) == (
        "failed",
        3,
        2,
        "exit",
    )
    offsets = [d["offset"] for d in sink.of(EventType.LOG_UPDATE)]
    assert offsets == [0, 2]
    assert sink.final("after")["status"] == "skipped"
    assert sink.final("after")["reason"] == "needs-failed"
    assert "failed steps: bad" in sink.events[-1].data["message"]


def test_timeout_kills_and_fails() -> None:
    spec = pipeline(step("slow", timeout=0.05), step("next", needs=["slow"]))
    backend = FakeBackend({"slow": FakeStep(hang=True)})
    status, sink = execute(spec, backend)
    assert status is ExecutionStatus.FAILED
    final = sink.final("slow")
    assert (final["status"], final["reason"], final["exit_code"]) == ("failed", "timeout", -15)
    assert backend.attempts("slow")[0].terminated
    assert sink.final("next")["reason"] == "needs-failed"


def test_timeout_waits_grace_then_kills() -> None:
    spec = pipeline(step("stubborn", timeout=0.05))
    backend = FakeBackend({"stubborn": FakeStep(hang=True, ignore_term=True)})
    status, sink = execute(spec, backend, kill_grace=0.1)
    assert status is ExecutionStatus.FAILED
    assert sink.final("stubborn")["exit_code"] == -9
    assert sink.final("stubborn")["duration"] >= 0.14


def test_continue_on_error() -> None:
    spec = pipeline(
        step("lint", continue_on_error=True),
        step("build", needs=["lint"]),
    )
    status, sink = execute(spec, FakeBackend({"lint": FakeStep(exit_code=2)}))
    assert status is ExecutionStatus.SUCCESS
    assert sink.final("lint")["status"] == "failed"
    assert sink.final("build")["status"] == "success"


def test_conditions_and_skip_reasons() -> None:
    spec = pipeline(
        step("fails"),
        step("ok"),
        step("skipped", needs=["fails"]),
        step("grandchild", needs=["skipped"]),
        step("on-failure", needs=["grandchild"], condition=FAILURE),
        step("always", needs=["fails"], condition=ALWAYS),
        step("env-true", needs=["ok"], condition=env_equals("MODE", "prod")),
        step("env-false", needs=["ok"], condition=env_equals("MODE", "dev")),
        step("env-after-failure", needs=["fails"], condition=env_equals("MODE", "prod")),
        step("on-failure-not", needs=["ok"], condition=FAILURE),
        env={"MODE": "prod"},
    )
    status, sink = execute(spec, FakeBackend({"fails": FakeStep(exit_code=1)}))
    assert status is ExecutionStatus.FAILED
    got = {sid: (sink.final(sid)["status"], sink.final(sid)["reason"]) for sid in spec.steps}
    assert got == {
        "fails": ("failed", "exit"),
        "ok": ("success", "exit"),
        "skipped": ("skipped", "needs-failed"),
        "grandchild": ("skipped", "needs-failed"),
        "on-failure": ("success", "exit"),  # an ancestor failed
        "always": ("success", "exit"),
        "env-true": ("success", "exit"),
        "env-false": ("skipped", "condition-false"),
        "env-after-failure": ("skipped", "needs-failed"),
        "on-failure-not": ("skipped", "condition-false"),
    }
    skipped = sink.final("skipped")
    assert skipped["started_at"] is None and skipped["duration"] is None
    assert skipped["finished_at"] is not None


def test_cancel_runs_cleanup_steps_only() -> None:
    spec = pipeline(
        step("long"),
        step("queued", needs=["long"]),
        step("cleanup", needs=["long"], condition=ALWAYS),
        step("on-cancel", needs=["queued"], condition=CANCELLED),
        step("never", needs=["cleanup"]),
    )
    backend = FakeBackend({"long": FakeStep(hang=True)})
    sink = ListSink()
    executor = Executor(spec, "exec-1", backend, sink)

    async def scenario() -> ExecutionStatus:
        task = asyncio.ensure_future(executor.run())
        await asyncio.sleep(0.05)
        executor.cancel()
        executor.cancel()  # idempotent
        return await task

    assert run(scenario()) is ExecutionStatus.CANCELLED
    sink.check_invariants()
    got = {sid: (sink.final(sid)["status"], sink.final(sid)["reason"]) for sid in spec.steps}
    assert got == {
        "long": ("cancelled", "cancelled"),
        "queued": ("cancelled", "cancelled"),
        "cleanup": ("success", "exit"),
        "on-cancel": ("success", "exit"),
        "never": ("cancelled", "cancelled"),
    }
    assert {r.step_id for r in backend.records} == {"long", "cleanup", "on-cancel"}
    assert sink.events[-1].data["message"] == "cancelled"


def test_cancel_before_run_and_during_retry_delay() -> None:
    spec = pipeline(step("a"), step("b"))
    backend = FakeBackend()
    sink = ListSink()
    executor = Executor(spec, "e", backend, sink)
    executor.cancel()
    assert run(executor.run()) is ExecutionStatus.CANCELLED
    assert backend.records == []
    sink.check_invariants()

    spec = pipeline(step("r", retry=RetrySpec(max=5, delay=10.0)))
    backend = FakeBackend({"r": FakeStep(exit_code=1)})
    sink = ListSink()
    executor = Executor(spec, "e", backend, sink)

    async def scenario() -> ExecutionStatus:
        task = asyncio.ensure_future(executor.run())
        await asyncio.sleep(0.05)
        executor.cancel()
        return await task

    assert run(scenario(), timeout=5) is ExecutionStatus.CANCELLED
    assert sink.final("r")["status"] == "cancelled"
    assert len(backend.records) == 1


def test_spawn_error_reuse_and_seq() -> None:
    spec = pipeline(step("old"), step("broken", needs=["old"]), step("x", needs=["broken"]))
    backend = FakeBackend({"broken": FakeStep(spawn_error="no such shell")})
    status, sink = execute(spec, backend, reuse={"old": "exec-0"}, first_seq=41)
    assert status is ExecutionStatus.FAILED
    assert sink.events[0].seq == 41
    old = sink.final("old")
    assert (old["status"], old["reason"], old["reused_from"]) == ("success", "reused", "exec-0")
    assert backend.attempts("old") == []
    broken = sink.final("broken")
    assert (broken["status"], broken["reason"]) == ("failed", "spawn-error")
    assert sink.lines("broken", "stderr") == ["ansflow: no such shell"]


def test_final_event_after_all_logs_and_progress() -> None:
    spec = pipeline(*[step(f"s{i}") for i in range(5)])
    chunks = [("stdout", b"a\n"), ("stderr", b"b\n"), ("stdout", b"tail-without-newline")]
    backend = FakeBackend({f"s{i}": FakeStep(output=chunks) for i in range(5)})
    status, sink = execute(spec, backend)
    assert status is ExecutionStatus.SUCCESS
    for i in range(5):
        assert sink.lines(f"s{i}") == ["a", "b", "tail-without-newline"]
    done = [d["steps_done"] for d in sink.of(EventType.EXECUTION_UPDATE)]
    assert done == [0, 1, 2, 3, 4, 5, 5]
    final = sink.events[-1].data
    assert final["finished_at"] >= final["started_at"] and final["duration"] >= 0


def test_slow_sink_back_pressure_keeps_order() -> None:
    spec = pipeline(step("chatty"))
    chunks = [("stdout", b"x" * 70000 + b"\n")] * 200
    sink = ListSink(delay=0.005)
    executor = Executor(spec, "e", FakeBackend({"chatty": FakeStep(output=chunks)}), sink)
    assert run(executor.run()) is ExecutionStatus.SUCCESS
    sink.check_invariants()
    assert len(sink.lines("chatty")) == 200
    # The producer waited for the sink: never more than ~2x the pending bound at once.
    assert sink.batches > 2 and sink.largest_batch <= 2 * MAX_PENDING


def test_failing_sink_stops_the_run() -> None:
    class Broken:
        async def write(self, events: object) -> None:
            raise OSError("disk full")

    executor = Executor(pipeline(step("a")), "e", FakeBackend({"a": FakeStep(hang=True)}), Broken())
    with pytest.raises(OSError, match="disk full"):
        run(executor.run(), timeout=5)


def test_env_and_cwd_of_launch(tmp_path: object) -> None:
    spec = pipeline(
        step("a", env={"B": "step", "C": "step"}, working_directory="sub"),
        env={"A": "pipe", "B": "pipe"},
    )
    backend = FakeBackend()
    execute(spec, backend, env={"C": "override"})
    launch = backend.records[0].launch
    assert launch.env["A"] == "pipe" and launch.env["B"] == "step"
    assert launch.env["C"] == "override" and launch.env["ANSFLOW_STEP_ID"] == "a"
    assert launch.env["PATH"]
    assert launch.cwd == str(spec.base_dir / "sub")
    assert launch.argv[:5] == ["bash", "--noprofile", "--norc", "-eo", "pipefail"]


def test_force_cancel_stops_cleanup_steps() -> None:
    spec = pipeline(
        step("long"),
        step("cleanup", needs=["long"], condition=ALWAYS),
        step("cleanup-2", needs=["cleanup"], condition=ALWAYS),
    )
    backend = FakeBackend({"long": FakeStep(hang=True), "cleanup": FakeStep(hang=True)})
    sink = ListSink()
    executor = Executor(spec, "e", backend, sink)

    async def scenario() -> ExecutionStatus:
        task = asyncio.ensure_future(executor.run())
        await asyncio.sleep(0.02)
        executor.cancel()
        while not backend.attempts("cleanup"):
            await asyncio.sleep(0.01)
        executor.cancel()  # not forced: the cleanup step keeps running
        await asyncio.sleep(0.02)
        assert not task.done()
        executor.cancel(force=True)
        return await task

    assert run(scenario(), timeout=5) is ExecutionStatus.CANCELLED
    sink.check_invariants()
    assert [sink.final(s)["status"] for s in spec.steps] == ["cancelled"] * 3
    assert backend.attempts("cleanup-2") == []


def test_broken_condition_skips_instead_of_hanging() -> None:
    def boom(ctx: object) -> bool:
        raise ValueError("bad expression")

    spec = pipeline(step("a"), step("b", needs=["a"], condition=Cond("x()", boom)))
    status, sink = execute(spec, FakeBackend())
    assert status is ExecutionStatus.SUCCESS
    final = sink.final("b")
    assert (final["status"], final["reason"]) == ("skipped", "condition-false")
    assert "bad expression" in final["message"]


def test_cancelling_the_run_task_still_records_the_end() -> None:
    spec = pipeline(step("hang"), step("after", needs=["hang"], condition=ALWAYS))
    backend = FakeBackend({"hang": FakeStep(hang=True)})
    sink = ListSink()
    executor = Executor(spec, "e", backend, sink)

    async def scenario() -> None:
        task = asyncio.ensure_future(executor.run())
        await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(scenario(), timeout=5)
    sink.check_invariants()
    assert sink.events[-1].data["status"] == "cancelled"
    assert backend.attempts("after") == []  # forced: even cleanup steps do not start
