"""Matrix expansion and `${{ matrix.x }}` / `${{ env.X }}` substitution into StepSpecs."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .source import Reporter
from .spec import StepSpec
from .templates import StepTemplate, Text, did_you_mean

_EXPR = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
_REF = re.compile(r"^(matrix|env)\.([A-Za-z_][A-Za-z0-9_-]*)$")


def combinations(step: StepTemplate) -> list[dict[str, str]]:
    """Every matrix combination, in the order the keys and values were written."""
    names = [name for name, _ in step.matrix]
    values = [[t.value for t in texts] for _, texts in step.matrix]
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values)]


def expanded_id(step_id: str, matrix: Mapping[str, str]) -> str:
    """`deploy-verify` + {python: 3.11} -> `deploy-verify[python=3.11]`."""
    if not matrix:
        return step_id
    return f"{step_id}[{','.join(f'{k}={v}' for k, v in matrix.items())}]"


def expansions(steps: Sequence[StepTemplate]) -> dict[str, list[str]]:
    """Per step id, the ids of its expansions (just itself without a matrix)."""
    return {s.id: [expanded_id(s.id, m) for m in combinations(s)] for s in steps}


class Substituter:
    """Replaces `${{ matrix.x }}` and `${{ env.X }}`; unknown names are located errors."""

    def __init__(self, rep: Reporter) -> None:
        self.rep = rep

    def __call__(self, text: Text, matrix: Mapping[str, str], env: Mapping[str, str] | None) -> str:
        """The substituted value; `env=None` means env references are not allowed here."""
        value = text.value
        unclosed = value.find("${{", value.rfind("}}") + 1 if "}}" in value else 0)
        if unclosed != -1 and "}}" not in value[unclosed:]:
            self.rep.inside(text.node, unclosed, text.path, "unclosed '${{' (missing '}}')")
        return _EXPR.sub(lambda m: self._replace(m, text, matrix, env), value)

    def _replace(
        self,
        match: re.Match[str],
        text: Text,
        matrix: Mapping[str, str],
        env: Mapping[str, str] | None,
    ) -> str:
        inner = match.group(1).strip()
        ref = _REF.match(inner)
        where = match.start()
        if ref is None:
            self.rep.inside(
                text.node,
                where,
                text.path,
                f"unsupported expression '${{{{ {inner} }}}}'; use ${{{{ matrix.NAME }}}} "
                "or ${{ env.NAME }}",
            )
            return match.group()
        scope, name = ref.groups()
        table: Mapping[str, str] | None = matrix if scope == "matrix" else env
        if table is not None and name in table:
            return table[name]
        if scope == "matrix" and not matrix:
            message = f"unknown matrix value '{name}' (this step has no matrix)"
        elif table is None:
            message = f"${{{{ env.{name} }}}} is not allowed here"
        else:
            message = f"unknown {scope} {'value' if scope == 'matrix' else 'variable'} '{name}'"
            message += did_you_mean(name, list(table))
        self.rep.inside(text.node, where, text.path, message)
        return match.group()


def build_steps(
    steps: Sequence[StepTemplate],
    needs: Mapping[str, Sequence[Text]],
    env: Mapping[str, str],
    defaults: Mapping[str, Any],
    rep: Reporter,
) -> dict[str, StepSpec]:
    """Expand every step in file order; `env` is the pipeline env with overrides merged."""
    ids = expansions(steps)
    sub = Substituter(rep)
    out: dict[str, StepSpec] = {}
    for step in steps:
        # A need on a matrix step waits for every one of its expansions.
        expanded_needs = tuple(
            dict.fromkeys(
                t for need in needs.get(step.id, ()) for t in ids.get(need.value, [need.value])
            )
        )
        working_directory: Text | None = step.working_directory or defaults.get("working-directory")
        timeout = step.timeout if step.timeout is not None else defaults.get("timeout")
        for matrix in combinations(step):
            step_id = expanded_id(step.id, matrix)
            step_env = {k: sub(t, matrix, env) for k, t in step.env.items()}
            scope = {**env, **step_env}
            out[step_id] = StepSpec(
                id=step_id,
                name=_name(step, matrix, sub(step.name, matrix, scope) if step.name else None),
                run=sub(step.run, matrix, scope) if step.run else "",
                shell=step.shell or defaults.get("shell") or "bash",
                needs=expanded_needs,
                env=step_env,
                working_directory=sub(working_directory, matrix, scope)
                if working_directory
                else ".",
                timeout=timeout,
                retry=step.retry,
                continue_on_error=step.continue_on_error,
                condition=step.condition,
                matrix=matrix,
                template_id=step.id,
                line=step.anchor.start_mark.line + 1,
                artifacts=step.artifacts,
                cache=step.cache,
            )
    return out


def _name(step: StepTemplate, matrix: Mapping[str, str], name: str | None) -> str:
    """The display name: the id by default; matrix values appended unless the name uses them."""
    if name is None:
        return expanded_id(step.id, matrix)
    assert step.name is not None
    if matrix and "matrix." not in step.name.value:
        return f"{name} ({', '.join(matrix.values())})"
    return name
