"""How a workflow file is run locally."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class WorkflowOptions:
    """How a workflow is run locally: its event, dispatch inputs, a job to run, strictness."""

    event: str = "push"
    inputs: Mapping[str, str] = field(default_factory=dict)
    job: str | None = None
    strict: bool = False
