"""Which steps may start: the ready set, the parallel limits and the `if:` verdict.

A step becomes ready the moment its own needs are finished (never level by level); among
ready steps, file order wins. `max_parallel` bounds the running steps of the execution,
and a matrix's own `strategy.max-parallel` the running legs of that matrix.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator

from ..events import StepReason, StepStatus
from ..pipeline.spec import StepSpec
from .state import ConditionValues, StepState


class Schedule:
    """The ready set and running counts of one execution (event loop thread only)."""

    def __init__(self, steps: dict[str, StepState]) -> None:
        self.steps = steps  # the executor's own dict: legs built at run time join it here
        # Incremental ready set: unfinished-needs counters and a heap of file positions, so
        # a finished step costs O(its dependents), not a scan of the whole pipeline.
        self.order = list(steps.values())
        self._position = {sid: index for index, sid in enumerate(steps)}
        self._waiting = dict.fromkeys(steps, 0)
        self._dependents: dict[str, list[str]] = {sid: [] for sid in steps}
        for sid, step in steps.items():
            for need in dict.fromkeys(step.spec.needs):
                if need in steps:
                    self._waiting[sid] += 1
                    self._dependents[need].append(sid)
        self._ready = [self._position[sid] for sid, n in self._waiting.items() if n == 0]
        self.running = 0
        self._running_legs: dict[str, int] = {}  # running legs of a matrix with max-parallel
        self.done = 0

    @property
    def all_done(self) -> bool:
        """Every step has reached a final state."""
        return self.done == len(self.steps)

    def ready(self) -> Iterator[StepState]:
        """Take ready steps out of the ready set in file order, until it is empty (steps
        made ready meanwhile are taken too)."""
        while self._ready:
            yield self.order[heapq.heappop(self._ready)]

    def defer(self, steps: list[StepState]) -> None:
        """Put back ready steps that wait for a free slot."""
        for step in steps:
            heapq.heappush(self._ready, self._position[step.spec.id])

    def fits(self, spec: StepSpec, max_parallel: int) -> bool:
        """A slot is free for `spec`: under `max_parallel`, and under its matrix's limit."""
        if self.running >= max_parallel:
            return False
        limit = leg_limit(spec)
        return not limit or self._running_legs.get(spec.template_id, 0) < limit

    def started(self, spec: StepSpec) -> None:
        """Count a step that starts running."""
        self.running += 1
        if leg_limit(spec):
            tid = spec.template_id
            self._running_legs[tid] = self._running_legs.get(tid, 0) + 1

    def ended(self, spec: StepSpec) -> None:
        """Count a step that stopped running."""
        self.running -= 1
        if leg_limit(spec):
            self._running_legs[spec.template_id] -= 1

    def finished(self, step: StepState) -> None:
        """Count a step that reached its final state; its dependents may become ready."""
        self.done += 1
        for dependent in self._dependents[step.spec.id]:
            self._waiting[dependent] -= 1
            if self._waiting[dependent] == 0:
                heapq.heappush(self._ready, self._position[dependent])

    def add(self, spec: StepSpec) -> StepState:
        """A matrix leg built at run time: a new step, ready at once (its needs are done)."""
        state = self.steps[spec.id] = StepState(spec)
        self._position[spec.id] = len(self.order)
        self.order.append(state)
        self._waiting[spec.id] = 0
        self._dependents[spec.id] = []
        heapq.heappush(self._ready, self._position[spec.id])
        return state

    def legs(self) -> dict[str, str]:
        """Every step id with its template id (the matrix it is a leg of)."""
        return {sid: s.spec.template_id for sid, s in self.steps.items()}

    def siblings(self, step: StepState) -> Iterator[StepState]:
        """The other legs of the matrix `step` is a leg of."""
        for other in self.order:
            if other is not step and other.spec.template_id == step.spec.template_id:
                yield other


def verdict(
    step: StepState,
    needs: list[StepState],
    *,
    cancelled: bool,
    context: Callable[[StepState, bool], ConditionValues],
) -> StepReason | None:
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
            run = succeeded and not cancelled
            if run and condition is not None:
                run = condition.evaluate(context(step, succeeded))
        else:
            run = condition.evaluate(context(step, succeeded))
    except Exception as exc:  # never let one bad expression stall the whole run
        step.extra["message"] = f"if: {condition.source if condition else ''}: {exc}"
        run = False
    if run:
        return None
    if cancelled:
        return StepReason.CANCELLED
    return StepReason.NEEDS_FAILED if not succeeded else StepReason.CONDITION_FALSE


def leg_limit(spec: StepSpec) -> int:
    """The `strategy.max-parallel` of a workflow job's matrix (0: no limit of its own)."""
    limit = spec.job.get("max_parallel") if spec.job else None
    return limit if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0 else 0
