"""How a workflow file is run locally."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..spec import PipelineSpec


@dataclass(frozen=True, slots=True)
class WorkflowOptions:
    """How a workflow is run locally: its event, dispatch inputs, a job to run, strictness."""

    event: str = "push"
    inputs: Mapping[str, str] = field(default_factory=dict)
    job: str | None = None
    strict: bool = False

    def to_json(self) -> dict[str, Any]:
        """The options as stored with an execution (so a re-run repeats them)."""
        return {
            "job": self.job,
            "event": self.event,
            "inputs": dict(self.inputs),
            "strict": self.strict,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WorkflowOptions:
        """The options `to_json` stored (missing keys take their defaults)."""
        inputs = data.get("inputs") or {}
        return cls(
            event=str(data.get("event") or "push"),
            inputs={str(k): _text(v) for k, v in inputs.items()},
            job=str(data["job"]) if data.get("job") else None,
            strict=bool(data.get("strict")),
        )


def is_workflow_spec(spec: PipelineSpec) -> bool:
    """True when `spec` was loaded from a workflow file (its steps are jobs)."""
    return any(step.job and not step.job.get("in_place") for step in spec.steps.values())


def _text(value: Any) -> str:
    """An input value as the workflow sees it (`true`, not Python's `True`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
