"""The command line of a workflow job: the job runner, and its plan as JSON."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..pipeline.github.evaluate import job_needs
from ..pipeline.spec import StepSpec


def job_argv(
    spec: StepSpec,
    execution_id: str,
    repo: Path,
    needs: Mapping[str, Any],
    legs: Mapping[str, str],
) -> list[str]:
    """`python -m ansflow_jupyter.engine.jobrunner PLAN` for one job (matrix leg)."""
    steps = []
    for sub in spec.substeps:
        entry = dataclasses.asdict(sub)
        entry["with"] = entry.pop("with_")
        steps.append(entry)
    plan = {
        **spec.job,
        "execution_id": execution_id,
        "leg_id": spec.id,
        "repo": str(repo),
        "needs": job_needs(needs, legs),
        "steps": steps,
    }
    return [sys.executable, "-u", "-m", "ansflow_jupyter.engine.jobrunner", json.dumps(plan)]
