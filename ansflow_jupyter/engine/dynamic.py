"""Matrix legs decided at run time (a workflow job whose matrix reads `needs`).

The job is one placeholder node until the jobs it needs have finished; then its legs
become nodes of the execution (announced with a pending step_update, so the store and
every view list them) and the placeholder stays running as their group. It ends when its
last leg ends, with the legs' result aggregated as GitHub does, so `needs: JOB` and
`needs.JOB.result`/`outputs` of its dependents behave as for a matrix known at load time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..events import StepReason, StepStatus
from ..pipeline.github.dynamic import DynamicMatrix, MatrixError
from ..pipeline.spec import StepSpec
from .state import StepState

__all__ = ["Groups", "MatrixError", "is_dynamic"]


def is_dynamic(spec: StepSpec) -> bool:
    """True for the placeholder of a job whose matrix is built at run time."""
    return bool(spec.job) and isinstance(spec.job.get("dynamic"), DynamicMatrix)


class Groups:
    """Which legs belong to which placeholder, and when a placeholder is done."""

    def __init__(self) -> None:
        self.legs: dict[str, list[str]] = {}  # placeholder id -> its legs' ids
        self.group_of: dict[str, str] = {}  # leg id -> placeholder id

    def expand(
        self, spec: StepSpec, needs: Mapping[str, Any], legs: Mapping[str, str]
    ) -> list[StepSpec]:
        """The legs of a placeholder (raises MatrixError: the job fails with it)."""
        dynamic = spec.job["dynamic"]
        assert isinstance(dynamic, DynamicMatrix)
        found = dynamic.legs(needs, legs)
        taken = [s.id for s in found if s.id in legs]
        if taken:
            raise MatrixError(f"a leg would have the id of another job: {taken[0]}")
        self.legs[spec.id] = [s.id for s in found]
        self.group_of.update(dict.fromkeys(self.legs[spec.id], spec.id))
        return found

    def closing(self, leg_id: str, steps: Mapping[str, StepState]) -> str | None:
        """The placeholder to end now that `leg_id` ended (None while legs remain)."""
        group = self.group_of.get(leg_id)
        if group is None or steps[group].status.finished:
            return None
        if all(steps[sid].status.finished for sid in self.legs[group]):
            return group
        return None


def aggregate(legs: Iterable[StepState]) -> tuple[StepStatus, StepReason, dict[str, str]]:
    """The job's status over its legs (a failure wins over cancelled, cancelled over
    success; skipped only when every leg was), and their outputs (the last non-empty
    value of each wins, as for a matrix known at load time)."""
    states = list(legs)
    outputs: dict[str, str] = {}
    for state in states:
        for key, value in (state.extra.get("outputs") or {}).items():
            if value != "" or key not in outputs:
                outputs[key] = value
    failed = [s for s in states if s.status is StepStatus.FAILED and not s.counts_as_success]
    if failed:
        return StepStatus.FAILED, failed[0].reason or StepReason.EXIT, outputs
    cancelled = [s for s in states if s.status is StepStatus.CANCELLED]
    if cancelled:
        return StepStatus.CANCELLED, cancelled[0].reason or StepReason.CANCELLED, outputs
    if all(s.status is StepStatus.SKIPPED for s in states):
        return StepStatus.SKIPPED, states[0].reason or StepReason.CONDITION_FALSE, outputs
    return StepStatus.SUCCESS, StepReason.EXIT, outputs
