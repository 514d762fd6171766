"""Local composite actions (`uses: ./path`): their steps run inside the calling job step."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from ..pipeline.conditions import parse_condition
from ..pipeline.expr_values import truthy
from ..pipeline.expressions import Scope
from ..pipeline.github.context import CONTEXTS
from .jobfiles import read_env_file, render

#: Runs one script: (step fields, script, env, cwd) -> exit code.
Script = Callable[[Mapping[str, Any], str, dict[str, str], Path], int]
#: Runs a built-in action: (uses, with, env) -> exit code.
Action = Callable[[str, dict[str, str], dict[str, str]], int]


def action_file(workspace: Path, uses: str) -> Path | None:
    """The action.yml of a local action, or None."""
    folder = workspace / uses.removeprefix("./")
    for name in ("action.yml", "action.yaml"):
        if (folder / name).is_file():
            return folder / name
    return None


def _status(failed: bool) -> Callable[[str], bool]:
    """success()/failure()/always() inside a composite action."""
    return lambda name: {"success": not failed, "failure": failed}.get(name, True)


def run_composite(
    uses: str,
    with_: dict[str, str],
    env: dict[str, str],
    workspace: Path,
    scope: Scope,
    script: Script,
    action: Action,
    index: int,
) -> int:
    """Run the steps of a local composite action in order; its outputs go to GITHUB_OUTPUT."""
    file = action_file(workspace, uses)
    if file is None:
        print(f"::error::no action.yml in {uses}")
        return 1
    data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    runs = data.get("runs") or {}
    if runs.get("using") != "composite":
        print(f"::error::{uses}: only composite actions run locally (using: {runs.get('using')})")
        return 1
    inputs = {
        name: with_.get(name, str((spec or {}).get("default", "")))
        for name, spec in (data.get("inputs") or {}).items()
    }
    inner: dict[str, Any] = {}
    failed = False
    for number, step in enumerate(runs.get("steps") or []):
        local = Scope(
            contexts={**scope.contexts, "inputs": inputs, "steps": inner},
            status=_status(failed),
            workdir=scope.workdir,
        )
        condition = str(step.get("if", "") or "")
        if condition:
            parsed = parse_condition(condition, contexts=CONTEXTS, native=False)
            run = truthy(parsed.expression.evaluate(local))
            run = run if parsed.uses_status_function else run and not failed
        else:
            run = not failed
        if not run:
            continue
        output = Path(env["GITHUB_OUTPUT"]).with_name(f"composite-{index}-{number}")
        output.write_text("")
        step_env = dict(env, GITHUB_OUTPUT=str(output))
        step_env.update({k: render(str(v), local) for k, v in (step.get("env") or {}).items()})
        if "uses" in step:
            given = {k: render(str(v), local) for k, v in (step.get("with") or {}).items()}
            code = action(str(step["uses"]), given, step_env)
        else:
            fields = {"index": f"{index}-{number}", "shell": step.get("shell", "bash")}
            fields["timeout"] = None
            cwd = workspace / render(str(step.get("working-directory", ".")), local)
            code = script(fields, render(str(step.get("run", "")), local), step_env, cwd)
        if step.get("id"):
            inner[str(step["id"])] = {
                "outputs": read_env_file(output),
                "outcome": "success" if code == 0 else "failure",
                "conclusion": "success" if code == 0 else "failure",
            }
        failed = failed or code != 0
    final = Scope(contexts={**scope.contexts, "inputs": inputs, "steps": inner})
    with open(env["GITHUB_OUTPUT"], "a", encoding="utf-8") as out:
        for name, spec in (data.get("outputs") or {}).items():
            value = render(str((spec or {}).get("value", "")), final)
            out.write(f"{name}<<ANSFLOW_EOF_7f3a\n{value}\nANSFLOW_EOF_7f3a\n")
    return 1 if failed else 0
