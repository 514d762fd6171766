"""The workflow options of `ansflow run/validate` and what validate reports for a workflow."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass

from .pipeline.conditions import ParsedCondition
from .pipeline.github import WorkflowOptions
from .pipeline.spec import PipelineSpec, StepSpec


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--job, --event, --input, --strict (they only apply to workflow files)."""
    parser.add_argument("--job", metavar="ID", help="workflow: run this job and what it needs")
    parser.add_argument(
        "--event", default="push", help="workflow: github.event_name (default: push)"
    )
    parser.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="workflow: a workflow_dispatch input (repeatable)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="workflow: an unsupported action is an error"
    )


def options(args: argparse.Namespace) -> WorkflowOptions:
    """The WorkflowOptions the command line asks for."""
    from .settings import env_pairs

    return WorkflowOptions(
        event=args.event, inputs=env_pairs(args.input), job=args.job, strict=args.strict
    )


def check_applies(spec: PipelineSpec, args: argparse.Namespace) -> None:
    """--job, --event, --input and --strict on a native pipeline are a mistake to say."""
    from .errors import AnsFlowError
    from .pipeline.github import is_workflow_spec

    given = args.job or args.input or args.strict or args.event != "push"
    if given and not is_workflow_spec(spec):
        raise AnsFlowError(
            "--job, --event, --input and --strict apply to GitHub Actions workflow files only"
        )


@dataclass(frozen=True)
class _BeforeRunning:
    """A job's `if:` evaluated before anything ran: its needs count as succeeded."""

    env: Mapping[str, str]
    matrix: Mapping[str, str]
    needs_succeeded: bool = True
    needs_failed: bool = False
    cancelled: bool = False


def _false_already(step: StepSpec) -> bool:
    """A job whose `if:` reads only what is known before the run (github, inputs, vars,
    matrix) and is false: GitHub skips it whatever its needs do."""
    condition = step.condition
    if not isinstance(condition, ParsedCondition) or condition.uses_status_function:
        return False
    known = ("github", "inputs", "vars", "matrix")
    if any(ref.context not in known for ref in condition.expression.refs):
        return False
    try:
        return not condition.evaluate(_BeforeRunning(step.env, step.matrix))
    except Exception:  # undecided here: the run decides (and says why)
        return False


def _needs_words(spec: PipelineSpec, needs: tuple[str, ...]) -> str:
    """The jobs a job waits for: a matrix job's legs as one (`test (36 legs)`)."""
    legs: dict[str, list[str]] = {}
    for need in needs:
        other = spec.steps.get(need)
        legs.setdefault((other.template_id if other else "") or need, []).append(need)
    return ", ".join(
        f"{job} ({len(ids)} legs)" if len(ids) > 1 else ids[0] for job, ids in legs.items()
    )


def plan(spec: PipelineSpec, event: str = "push") -> list[str]:
    """What will run and what is skipped, and why (one line per job and job step)."""
    lines: list[str] = []
    if not any(step.substeps or step.skip_reason for step in spec.steps.values()):
        return lines  # a native pipeline
    for step in spec.steps.values():
        if step.skip_reason:
            lines.append(f"skip  {step.id}: {step.skip_reason} ({step.note})")
            continue
        if step.condition is not None and _false_already(step):
            words = f"its if: is false for event {event}: {step.condition.source.strip()}"
            lines.append(f"skip  {step.id}: condition-false ({words})")
            continue
        needs = f" (after {_needs_words(spec, step.needs)})" if step.needs else ""
        lines.append(f"run   {step.id}{needs}")
        for sub in step.substeps:
            if sub.skip_reason:
                lines.append(f"        skip {sub.name}: {sub.skip_reason} ({sub.note})")
            else:
                lines.append(f"        {sub.name}")
        if step.note:
            lines.append(f"        note: {step.note}")
    return lines
