"""Per-step state of an execution and the small pure helpers the executor decides with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..events import StepReason, StepStatus
from ..pipeline.spec import StepSpec
from .backend import StepProcess
from .shell import shell_argv

__all__ = ["ConditionValues", "StepResult", "StepState", "runs_when_cancelled", "shell_argv"]

#: (final status, reason, exit code) of a step run.
StepResult = tuple[StepStatus, StepReason, int | None]
#: An `if:` that calls one of these makes a cleanup step: it still runs after cancel().
CLEANUP_FUNCTIONS = frozenset({"always", "cancelled"})


@dataclass(frozen=True, slots=True)
class ConditionValues:
    """What an `if:` expression sees (implements pipeline.spec.ConditionContext)."""

    needs_succeeded: bool
    needs_failed: bool
    cancelled: bool
    env: Mapping[str, str]
    matrix: Mapping[str, str] = field(default_factory=dict)
    needs: Mapping[str, Any] = field(default_factory=dict)  # id -> {result, outputs}
    workdir: Path | None = None  # where hashFiles() looks


@dataclass(slots=True)
class StepState:
    """Where one step is; mutated only on the event loop thread."""

    spec: StepSpec
    status: StepStatus = StepStatus.PENDING
    attempt: int = 0
    exit_code: int | None = None
    reason: StepReason | None = None
    started_at: float | None = None
    finished_at: float | None = None
    failed_upstream: bool = False  # this step or one of its ancestors failed
    cleanup: bool = False  # started after cancel(): runs to completion
    process: StepProcess | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def counts_as_success(self) -> bool:
        """Success, or a failure with continue-on-error (dependents treat it as success)."""
        return self.status is StepStatus.SUCCESS or (
            self.status is StepStatus.FAILED and self.spec.continue_on_error
        )

    def update_data(self, *, running: bool = False) -> dict[str, Any]:
        """The `data` of a step_update; a running attempt also says where its tree lives."""
        started, finished = self.started_at, self.finished_at
        data: dict[str, Any] = {
            "step_id": self.spec.id,
            "name": self.spec.name,
            "template_id": self.spec.template_id or self.spec.id,
            "matrix": dict(self.spec.matrix),
            "status": (StepStatus.RUNNING if running else self.status).value,
            "attempt": self.attempt,
            "exit_code": self.exit_code,
            "reason": None if running or self.reason is None else self.reason.value,
            "started_at": started,
            "finished_at": None if running else finished,
            "duration": None
            if running or started is None or finished is None
            else finished - started,
        }
        info = self.process.info if running and self.process is not None else None
        if info is not None:
            data.update(pid=info.pid, pgid=info.pgid, host=info.host, create_time=info.create_time)
        data.update(self.extra)
        return data


def runs_when_cancelled(spec: StepSpec) -> bool:
    """Cleanup steps: their `if:` explicitly calls always() or cancelled()."""
    return spec.condition is not None and not CLEANUP_FUNCTIONS.isdisjoint(spec.condition.calls)
