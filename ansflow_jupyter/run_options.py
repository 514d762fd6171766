"""The options an execution was started with, stored with it so a re-run repeats them.

A workflow file's `job`, `event`, `inputs` and `strict`, and the run's `max_parallel`.
`env` is not stored: its values are often credentials, and the store keeps no secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import BadRequest
from .pipeline import load_pipeline
from .pipeline.github import WorkflowOptions, is_workflow_spec
from .pipeline.spec import PipelineSpec

#: The start fields that apply to workflow files only.
WORKFLOW_FIELDS = ("job", "event", "inputs", "strict")


def workflow_from_body(body: Mapping[str, Any]) -> WorkflowOptions | None:
    """The workflow options of a start request (None when it gives none)."""
    if not any(name in body for name in WORKFLOW_FIELDS):
        return None
    return WorkflowOptions.from_json(body)


def check_applies(spec: PipelineSpec, workflow: WorkflowOptions | None) -> None:
    """Workflow options given for a native pipeline are a mistake worth saying."""
    if workflow is not None and not is_workflow_spec(spec):
        raise BadRequest(
            "'job', 'event', 'inputs' and 'strict' apply to GitHub Actions workflow files "
            f"only; {spec.path or 'this pipeline'} is a native pipeline"
        )


def encode(
    spec: PipelineSpec, workflow: WorkflowOptions | None, max_parallel: int | None
) -> str | None:
    """The JSON text stored with a new execution (None: nothing beyond the defaults)."""
    data: dict[str, Any] = {}
    if workflow is not None and is_workflow_spec(spec):
        data.update(workflow.to_json())
    if max_parallel is not None:
        data["max_parallel"] = max_parallel
    return json.dumps(data, sort_keys=True) if data else None


def decode(text: str | None) -> tuple[WorkflowOptions | None, int | None]:
    """(workflow options, max_parallel) of a stored execution."""
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        data = {}  # a hand-edited row: run with the defaults rather than not at all
    if not isinstance(data, dict):
        data = {}
    workflow = WorkflowOptions.from_json(data) if "event" in data else None
    max_parallel = data.get("max_parallel")
    return workflow, max_parallel if isinstance(max_parallel, int) else None


def stored_spec(execution: Mapping[str, Any], base_dir: Path | None = None) -> PipelineSpec:
    """The pipeline of a stored execution, loaded again with the options it ran with.

    `base_dir` is where YAML text without a file resolves (a file's own folder otherwise)."""
    path = execution.get("path")
    folder = Path(path).parent if path else (base_dir or Path.cwd())
    workflow, _ = decode(execution.get("options"))
    return load_pipeline(execution["source"], path=path, base_dir=folder, workflow=workflow)
