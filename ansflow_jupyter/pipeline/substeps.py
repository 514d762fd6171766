"""Sub-steps of a native step (`steps: [{name, run, if, env, shell, continue-on-error}]`).

They run in order in one process, through the same job runner as a workflow job's steps
(engine/jobrunner.py), but in the step's own working directory: no workspace copy. Each is
a `job-step` group with its own status; a failing one fails the step unless it has
`continue-on-error`, and the ones after it are skipped unless their `if:` says otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from yaml.nodes import Node, SequenceNode

from .keys import SUBSTEP_KEYS
from .spec import SubStep
from .templates import StepTemplate, SubStepTemplate, join

if TYPE_CHECKING:
    from .checker import Checker
    from .expand import Allowed, Substituter


def check(ck: Checker, node: Node, path: str) -> list[SubStepTemplate] | None:
    """The checked list of sub-steps (None after reporting what is wrong)."""
    if isinstance(node, SequenceNode) and not node.value:
        ck.rep.at(node, path, "at least one sub-step is required")
        return None
    if not isinstance(node, SequenceNode):
        ck._expect(node, path, "a list of sub-steps ({name, run, ...})")
        return None
    out: list[SubStepTemplate] = []
    for i, item in enumerate(node.value):
        item_path = join(path, i)
        fields = ck.table(item, item_path, SUBSTEP_KEYS, anchor=item)
        if fields is None or "run" not in fields:
            continue
        out.append(
            SubStepTemplate(
                path=item_path,
                anchor=item,
                run=fields["run"],
                name=fields.get("name"),
                condition=fields.get("if"),
                env=fields.get("env", {}),
                shell=fields.get("shell"),
                continue_on_error=fields.get("continue-on-error", False),
                working_directory=fields.get("working-directory"),
                timeout=fields.get("timeout"),
            )
        )
    return out if len(out) == len(node.value) else None


def one_command(ck: Checker, present: Mapping[str, Node], path: str) -> None:
    """A step with `steps` has no `run` and is no notebook step."""
    for other in ("run", "notebook", "parameters", "kernel"):
        if other in present:
            message = f"a step has `steps` or `{other}`, not both"
            ck.rep.at(present[other], join(path, other), message)


def build(
    step: StepTemplate,
    matrix: Mapping[str, str],
    scope: Mapping[str, str],
    sub: Substituter,
    needs: Allowed,
    shell: str,
    working_directory: str,
) -> tuple[tuple[SubStep, ...], dict[str, Any]]:
    """The SubSteps of one expansion of `step` and the plan the job runner reads.

    `${{ matrix }}` and `${{ env }}` are substituted now, like a step's `run`; `${{ needs }}`
    and hashFiles() are left to the runner, which renders them when the sub-step starts."""
    out: list[SubStep] = []
    for index, item in enumerate(step.substeps or ()):
        env = {k: sub(t, matrix, scope, needs=needs, runtime={}) for k, t in item.env.items()}
        run = sub(item.run, matrix, {**scope, **env}, needs=needs, runtime={})
        name = sub(item.name, matrix, scope) if item.name else ""
        first = run.strip().splitlines()[0] if run.strip() else ""
        folder = sub(item.working_directory, matrix, scope) if item.working_directory else ""
        out.append(
            SubStep(
                index=index,
                id="",
                name=name or f"Run {first}",
                run=run,
                env=env,
                shell=item.shell or "",
                working_directory=_join(working_directory, folder) if folder else "",
                condition=item.condition.source if item.condition is not None else "",
                continue_on_error="true" if item.continue_on_error else "false",
                timeout=item.timeout,
            )
        )
    job = {
        "in_place": True,  # the step's own folder, no workspace copy
        "job_id": step.id,
        # Names only (the runner has the values in its environment): `env.X` in a
        # sub-step's `if:` reads them, and no value lands on a command line.
        "env": dict.fromkeys(scope, ""),
        "shell": shell,
        "working_directory": working_directory,
        "outputs": {},
        "contexts": {"matrix": dict(matrix), "github": {}, "inputs": {}, "vars": {}},
        "notes": [],
        "fail_fast": False,
    }
    return tuple(out), job


def _join(base: str, folder: str) -> str:
    if folder.startswith("/") or base in ("", "."):
        return folder
    return f"{base.rstrip('/')}/{folder}"
