"""Matrix expansion and `${{ }}` substitution into StepSpecs (needs reads wait for the start)."""

from __future__ import annotations

import glob
import itertools
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import yaml
from yaml.nodes import ScalarNode

from . import substeps
from .expr_values import STATUS_FUNCTIONS, ExpressionRuntimeError, to_text
from .expressions import Expression, ExpressionSyntaxError, Scope, parse_expression
from .interpolate import Segment, Template, segments
from .secrets import mask, mask_patterns
from .source import Reporter, bad_character, is_str
from .spec import NOTEBOOK_OUTPUT_DIR, ArtifactsSpec, StepSpec
from .templates import StepTemplate, Text, did_you_mean

#: Defaults of the expansion limits; `ANSFLOW_MAX_MATRIX_LEGS` / `ANSFLOW_MAX_STEPS` set them.
MAX_MATRIX_LEGS = 1_000
MAX_STEPS = 10_000


def size_limits() -> tuple[int, int]:
    """(legs per matrix step, steps per pipeline), from the environment or the defaults."""
    return (
        _positive_int(os.environ.get("ANSFLOW_MAX_MATRIX_LEGS"), MAX_MATRIX_LEGS),
        _positive_int(os.environ.get("ANSFLOW_MAX_STEPS"), MAX_STEPS),
    )


def _positive_int(raw: str | None, default: int) -> int:
    try:
        value = int(raw) if raw else default
    except ValueError:
        return default
    return value if value > 0 else default


def check_size(steps: Sequence[StepTemplate], rep: Reporter) -> bool:
    """Refuse, before expanding anything, a matrix or a pipeline that expands too far.

    A few hundred bytes (or YAML aliases) can describe 10^9 matrix legs: counting them
    first answers in milliseconds instead of running out of memory.
    """
    max_legs, max_steps = size_limits()
    total, ok = 0, True
    for step in steps:
        legs = math.prod(len(texts) for _, texts in step.matrix)
        if legs > max_legs:
            sizes = " x ".join(str(len(texts)) for _, texts in step.matrix)
            rep.at(
                step.anchor,
                f"{step.path}.matrix",
                f"matrix expands to {legs:,} legs ({sizes}); at most {max_legs:,} per step "
                "(ANSFLOW_MAX_MATRIX_LEGS)",
            )
            ok = False
            continue
        total += legs
        if ok and total > max_steps:
            rep.at(
                step.anchor,
                step.path,
                f"the pipeline expands to more than {max_steps:,} steps "
                f"({total:,} up to this one; ANSFLOW_MAX_STEPS)",
            )
            ok = False
    return ok


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


#: Per needed step id (as written), the ids of its expansions.
Allowed = Mapping[str, Sequence[str]]


class Substituter:
    """Evaluates `${{ }}` in strings: matrix/env now, `needs`/hashFiles() when the step
    starts (recorded as a Template); unknown names are located errors."""

    def __init__(self, rep: Reporter, ids: Mapping[str, Sequence[str]] | None = None) -> None:
        self.rep = rep
        self.ids = ids or {}  # every step id -> its expansions (for "not in needs" hints)

    def __call__(
        self,
        text: Text,
        matrix: Mapping[str, str],
        env: Mapping[str, str] | None,
        *,
        needs: Allowed | None = None,
        runtime: dict[str, Template] | None = None,
        key: str = "",
    ) -> str:
        """The substituted value; `env=None` means env references are not allowed here,
        `runtime=None` that nothing may wait for the step's start (needs, hashFiles())."""
        value = text.value
        try:
            found = list(segments(value))
        except ExpressionSyntaxError as exc:
            self.rep.inside(text.node, exc.offset, text.path, exc.message)
            return value
        out: list[str] = []
        parts: list[str | Expression] = []
        pos = 0
        for seg in found:
            out.append(value[pos : seg.start])
            parts.append(value[pos : seg.start])
            pos = seg.end
            expression = self._parse(seg, text)
            if expression is None:
                out.append(value[seg.start : seg.end])
                continue
            if expression.needs or "hashFiles" in expression.calls:
                out.append(value[seg.start : seg.end])  # shown as written until it starts
                parts.append(expression)
                if runtime is None:
                    self._report(
                        text,
                        seg.start,
                        f"'${{{{ {seg.inner.strip()} }}}}' is not "
                        "allowed here (needs and hashFiles() work in run, env and if)",
                    )
                else:
                    self.check_needs(expression, needs or {}, text)
                continue
            rendered = self._static(expression, seg, text, matrix, env)
            bad = bad_character(rendered)
            if bad is not None:  # fromJSON('"\u0000"'): the step could only fail to start
                self._report(text, seg.start, f"the value of {value_of(text, seg)} contains {bad}")
            out.append(rendered)
            parts.append(rendered)
        out.append(value[pos:])
        parts.append(value[pos:])
        if runtime is not None and any(not isinstance(p, str) for p in parts):
            runtime[key] = Template(tuple(p for p in parts if p != ""))
        return "".join(out)

    def _report(self, text: Text, offset: int, message: str) -> None:
        self.rep.inside(text.node, offset, text.path, message)

    def _parse(self, seg: Segment, text: Text) -> Expression | None:
        try:
            expression = parse_expression(seg.inner, start=seg.inner_start)
        except ExpressionSyntaxError as exc:
            if exc.message.startswith("unexpected name '"):
                inner = seg.inner.strip()
                self._report(
                    text, seg.start, f"unsupported expression '${{{{ {inner} }}}}': {exc.message}"
                )
            else:
                self._report(text, exc.offset, exc.message)
            return None
        status = sorted(expression.calls & set(STATUS_FUNCTIONS))
        if status:
            self._report(text, seg.start, f"{status[0]}() is only available in `if:`")
            return None
        return expression

    def _static(
        self,
        expression: Expression,
        seg: Segment,
        text: Text,
        matrix: Mapping[str, str],
        env: Mapping[str, str] | None,
    ) -> str:
        ok = True
        for ref in expression.refs:
            message = _unknown(ref.context, ref.name, matrix, env)
            if message:
                self._report(text, seg.start, message)
                ok = False
        if not ok:
            return value_of(text, seg)
        scope = Scope(contexts={"env": env or {}, "matrix": matrix}, bool_text=True)
        try:
            return to_text(expression.evaluate(scope))
        except ExpressionRuntimeError as exc:
            self._report(text, seg.start, str(exc))
            return value_of(text, seg)

    def check_needs(self, expression: Expression, allowed: Allowed, text: Text) -> None:
        """Report `needs.X` reads of a step X this step does not list, or a bare matrix id."""
        legs = {leg for ids in allowed.values() for leg in ids}
        for ref in expression.needs:
            name = ref.name
            if name is None or name in legs:
                continue
            if name in allowed:
                if len(allowed[name]) > 1:
                    self._report(
                        text,
                        ref.offset,
                        f"needs.{name} has {len(allowed[name])} matrix legs; name one, "
                        f"e.g. needs['{allowed[name][0]}']",
                    )
                continue
            known = name in self.ids or any(name in ids for ids in self.ids.values())
            if known:
                message = f"needs.{name}: step '{name}' is not in this step's needs"
            else:
                hint = did_you_mean(name, [*allowed, *legs])
                message = f"needs.{name}: unknown step '{name}'{hint}"
            self._report(text, ref.offset, message)


def value_of(text: Text, seg: Segment) -> str:
    """The `${{ ... }}` as written."""
    return text.value[seg.start : seg.end]


def _unknown(
    context: str, name: str | None, matrix: Mapping[str, str], env: Mapping[str, str] | None
) -> str:
    """Why a matrix/env read names nothing ('' when it is fine)."""
    if context == "matrix" and name is not None and name not in matrix:
        if not matrix:
            return f"unknown matrix value '{name}' (this step has no matrix)"
        return f"unknown matrix value '{name}'" + did_you_mean(name, list(matrix))
    if context == "env" and env is None:
        return f"${{{{ env.{name} }}}} is not allowed here"
    if context == "env" and env is not None and name is not None and name not in env:
        return f"unknown env variable '{name}'" + did_you_mean(name, list(env))
    return ""


def build_steps(
    steps: Sequence[StepTemplate],
    needs: Mapping[str, Sequence[Text]],
    env: Mapping[str, str],
    defaults: Mapping[str, Any],
    rep: Reporter,
    secrets: Sequence[str] = (),
) -> dict[str, StepSpec]:
    """Expand every step in file order; `env` is the pipeline env with overrides merged.

    Secret values a name picks up through `${{ env.X }}` are masked in it: names travel
    in every event, snapshot and listing."""
    ids = expansions(steps)
    sub = Substituter(rep, ids)
    out: dict[str, StepSpec] = {}
    for step in steps:
        allowed = {n.value: ids.get(n.value, [n.value]) for n in needs.get(step.id, ())}
        # A need on a matrix step waits for every one of its expansions.
        expanded_needs = tuple(dict.fromkeys(t for legs in allowed.values() for t in legs))
        condition = step.condition
        if condition is not None and isinstance(condition.where, Text):
            sub.check_needs(condition.expression, allowed, condition.where)
        working_directory: Text | None = step.working_directory or defaults.get("working-directory")
        timeout = step.timeout if step.timeout is not None else defaults.get("timeout")
        for matrix in combinations(step):
            step_id = expanded_id(step.id, matrix)
            runtime: dict[str, Template] = {}
            step_env = {
                k: sub(t, matrix, env, needs=allowed, runtime=runtime, key=f"env.{k}")
                for k, t in step.env.items()
            }
            scope = {**env, **step_env}
            run = (
                sub(step.run, matrix, scope, needs=allowed, runtime=runtime, key="run")
                if step.run
                else ""
            )
            name = _name(step, matrix, sub(step.name, matrix, scope) if step.name else None)
            folder = sub(working_directory, matrix, scope) if working_directory else "."
            shell = step.shell or defaults.get("shell") or "bash"
            inner, job = (
                substeps.build(step, matrix, scope, sub, allowed, shell, folder)
                if step.substeps
                else ((), {})
            )
            if secrets and step.name is not None:
                name = mask(name, mask_patterns(scope.get(s, "") for s in secrets))
            out[step_id] = StepSpec(
                id=step_id,
                name=name,
                # Every sub-step's script: what the views show and the cache key hashes.
                run=run or "\n".join(f"# {s.name}\n{s.run}" for s in inner),
                shell=shell,
                needs=expanded_needs,
                env=step_env,
                working_directory=folder,
                timeout=timeout,
                retry=step.retry,
                continue_on_error=step.continue_on_error,
                condition=step.condition,
                matrix=matrix,
                template_id=step.id,
                line=step.anchor.start_mark.line + 1,
                env_inherit=step.env_inherit,
                runtime=runtime,
                artifacts=_with_notebook(step, step_id),
                cache=step.cache,
                notebook=step.notebook.value if step.notebook else "",
                kernel=sub(step.kernel, matrix, scope) if step.kernel else "",
                parameters=_parameters(step, matrix, scope, sub),
                substeps=inner,
                job=job,
            )
    return out


def _parameters(
    step: StepTemplate, matrix: Mapping[str, str], scope: Mapping[str, str], sub: Substituter
) -> dict[str, Any]:
    """Notebook parameters as JSON values: a string whose whole value is one `${{ }}` keeps
    the type of what it reads (a matrix number stays a number)."""
    out: dict[str, Any] = {}
    typed = dict(step.matrix)
    for name, value in step.parameters.items():
        if not isinstance(value, Text):
            out[name] = value
            continue
        text = sub(value, matrix, scope)
        out[name] = text
        try:
            found = list(segments(value.value)) if "${{" in value.value else []
        except ExpressionSyntaxError:  # `sub` reported it, located
            found = []
        whole = len(found) == 1 and found[0].start == 0 and found[0].end == len(value.value)
        if whole and text != value.value:
            out[name] = _typed(found[0].inner, text, matrix, typed)
    return out


def _typed(
    inner: str, text: str, matrix: Mapping[str, str], typed: Mapping[str, list[Text]]
) -> Any:
    """The value of `${{ inner }}` with the type it was written with in the file."""
    try:
        expression = parse_expression(inner)
    except ExpressionSyntaxError:
        return text
    refs = list(expression.refs)
    if refs and all(r.context == "matrix" and r.name in matrix for r in refs):
        for ref in refs:
            node = next(t.node for t in typed[ref.name or ""] if t.value == matrix[ref.name or ""])
            if is_str(node) or not isinstance(node, ScalarNode):
                return text
    elif refs:
        return text  # env values are strings
    try:
        loaded = yaml.safe_load(text) if text else text
    except (yaml.YAMLError, ValueError, KeyError, IndexError, OverflowError):
        return text  # not one YAML value (`[`, `a: b: c`, `2020-13-45`): it stays text
    return loaded if isinstance(loaded, int | float | bool) else text


def _name(step: StepTemplate, matrix: Mapping[str, str], name: str | None) -> str:
    """The display name: the id by default; matrix values appended unless the name uses them."""
    if name is None:
        return expanded_id(step.id, matrix)
    assert step.name is not None
    if matrix and "matrix." not in step.name.value:
        return f"{name} ({', '.join(matrix.values())})"
    return name


def _with_notebook(step: StepTemplate, step_id: str) -> ArtifactsSpec | None:
    """A notebook step keeps its executed notebook as an artifact, besides its own globs."""
    if not step.notebook:
        return step.artifacts
    # Escaped: a matrix leg's id (`train[lr=0.1]`) would otherwise be a glob character class.
    executed = glob.escape(f"{NOTEBOOK_OUTPUT_DIR}/{step_id.replace('/', '_')}.ipynb")
    if step.artifacts is None:
        return ArtifactsSpec((executed,), if_no_files="ignore")
    return replace(step.artifacts, paths=(*step.artifacts.paths, executed))
