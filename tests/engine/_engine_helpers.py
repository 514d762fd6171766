"""Shared helpers of the engine tests: spec builders, a test-only Condition, a list sink."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ansflow_jupyter.events import Event, EventType
from ansflow_jupyter.pipeline.spec import ConditionContext, PipelineSpec, RetrySpec, StepSpec

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
    """Run a coroutine on a fresh loop (no pytest-asyncio), failing after `timeout` s."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


@dataclass
class Cond:
    """A tiny stand-in for pipeline/conditions.py: `fn(ctx)` is the expression."""

    source: str
    fn: Callable[[ConditionContext], bool]
    uses_status_function: bool = True

    @property
    def calls(self) -> frozenset[str]:
        return frozenset(re.findall(r"(\w+)\s*\(", self.source))

    def evaluate(self, ctx: ConditionContext) -> bool:
        return self.fn(ctx)


ALWAYS = Cond("always()", lambda ctx: True)
FAILURE = Cond("failure()", lambda ctx: ctx.needs_failed and not ctx.cancelled)
CANCELLED = Cond("cancelled()", lambda ctx: ctx.cancelled)


def env_equals(name: str, value: str) -> Cond:
    """`env.NAME == 'value'` without a status function (implies success())."""
    return Cond(f"env.{name} == '{value}'", lambda ctx: ctx.env.get(name) == value, False)


def step(
    sid: str,
    run: str = "true",
    *,
    needs: Sequence[str] = (),
    shell: str = "bash",
    env: Mapping[str, str] | None = None,
    working_directory: str = ".",
    timeout: float | None = None,
    retry: RetrySpec | None = None,
    continue_on_error: bool = False,
    condition: Cond | None = None,
) -> StepSpec:
    """A StepSpec with test defaults."""
    return StepSpec(
        id=sid,
        name=sid,
        run=run,
        shell=shell,
        needs=tuple(needs),
        env=dict(env or {}),
        working_directory=working_directory,
        timeout=timeout,
        retry=retry or RetrySpec(),
        continue_on_error=continue_on_error,
        condition=condition,
    )


def pipeline(
    *steps: StepSpec,
    env: Mapping[str, str] | None = None,
    secrets: Sequence[str] = (),
    max_parallel: int | None = None,
    base_dir: Path | None = None,
) -> PipelineSpec:
    """A PipelineSpec of `steps` in order."""
    return PipelineSpec(
        name="test",
        steps={s.id: s for s in steps},
        env=dict(env or {}),
        secrets=tuple(secrets),
        max_parallel=max_parallel,
        source="",
        path=None,
        base_dir=base_dir or Path.cwd(),
    )


@dataclass
class ListSink:
    """Collects events; optionally slow, to exercise back-pressure."""

    delay: float = 0.0
    events: list[Event] = field(default_factory=list)
    batches: int = 0
    largest_batch: int = 0

    async def write(self, events: list[Event]) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        self.batches += 1
        self.largest_batch = max(self.largest_batch, len(events))
        self.events.extend(events)

    def of(self, type_: EventType) -> list[dict[str, Any]]:
        return [e.data for e in self.events if e.type is type_]

    def steps(self, sid: str) -> list[dict[str, Any]]:
        return [d for d in self.of(EventType.STEP_UPDATE) if d["step_id"] == sid]

    def final(self, sid: str) -> dict[str, Any]:
        return self.steps(sid)[-1]

    def lines(self, sid: str, stream: str | None = None) -> list[str]:
        out: list[str] = []
        for d in self.of(EventType.LOG_UPDATE):
            if d["step_id"] == sid and (stream is None or d["stream"] == stream):
                out.extend(d["lines"])
        return out

    def check_invariants(self, first_seq: int = 1) -> None:
        """seq contiguity, first/last events, and logs before each step's final update."""
        seqs = [e.seq for e in self.events]
        assert seqs == list(range(first_seq, first_seq + len(seqs)))
        first, last = self.events[0], self.events[-1]
        assert first.type is EventType.EXECUTION_UPDATE and first.data["status"] == "running"
        assert last.type is EventType.EXECUTION_UPDATE
        assert last.data["steps_done"] == last.data["steps_total"]
        assert last.data["status"] in ("success", "failed", "cancelled")
        finals: dict[str, int] = {}
        offsets: dict[str, int] = {}
        for index, event in enumerate(self.events):
            data = event.data
            if event.type is EventType.STEP_UPDATE and data["status"] not in ("running", "pending"):
                finals[data["step_id"]] = index
            if event.type is EventType.LOG_UPDATE:
                sid = data["step_id"]
                assert sid not in finals, f"log of {sid} after its final step_update"
                assert data["offset"] == offsets.get(sid, 0), "offsets must be contiguous"
                offsets[sid] = data["offset"] + len(data["lines"])
                assert len(data["ts"]) == len(data["lines"])
