"""A job whose `strategy.matrix` reads `needs` (e.g. `fromJSON(needs.plan.outputs.m)`):
its legs are built when the jobs it needs have finished, from their outputs.

At load time the job is one placeholder node (its id as written) that carries a
`DynamicMatrix` in `job["dynamic"]`; the executor calls `legs()` when the placeholder's
needs are done, adds the legs as nodes and ends the placeholder when they have ended.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from yaml.nodes import Node

from ..expand import expanded_id, size_limits
from ..expr_values import ExpressionRuntimeError
from ..expressions import ExpressionSyntaxError, Scope, parse_expression
from ..source import Reporter
from ..spec import StepSpec
from .context import CONTEXTS
from .evaluate import job_needs
from .job import Job
from .matrix import expand, text
from .nodes import child, plain, text_of

#: What `ansflow validate` and the placeholder's log say about such a job.
NOTE = "its matrix legs are decided at run time, when the jobs it needs have finished"


class MatrixError(ValueError):
    """The matrix could not be made into legs (the job fails with this message)."""


def reads_needs(matrix: Node | None) -> bool:
    """True when a `strategy.matrix` has an expression reading the `needs` context."""
    raw = plain(matrix) if matrix is not None else None
    return _reads_needs(raw)


def _reads_needs(raw: Any) -> bool:
    if isinstance(raw, Mapping):
        return any(_reads_needs(v) for v in raw.values())
    if isinstance(raw, list):
        return any(_reads_needs(v) for v in raw)
    return isinstance(raw, str) and "${{" in raw and "needs" in raw


@dataclass
class DynamicMatrix:
    """Everything needed to build a job's legs once its needs' outputs are known."""

    job: Job
    matrix: Node
    needs: tuple[str, ...]
    leg_job: Mapping[str, str]
    prefix: str
    adopt: Callable[[StepSpec], StepSpec]

    def legs(self, needs: Mapping[str, Any], legs: Mapping[str, str]) -> list[StepSpec]:
        """The legs' nodes, from the `needs` context of the placeholder (by leg id);
        raises MatrixError with the reason the job fails."""
        by_job = job_needs(needs, legs)
        contexts = dict(self.job.contexts, needs=by_job)
        raw = _value(plain(self.matrix), contexts)
        if not isinstance(raw, Mapping):
            raise MatrixError(f"strategy.matrix must be an object, not {_kind(raw)}")
        axes: dict[str, list[Any]] = {}
        for name, value in raw.items():
            if name in ("include", "exclude"):
                continue
            value = _value(value, contexts)
            if not isinstance(value, list):
                raise MatrixError(f"matrix.{name} must be a list, not {_kind(value)}")
            if not value:
                raise MatrixError(f"Matrix vector '{name}' does not contain any values")
            axes[name] = value
        include = _entries(raw, "include", contexts)
        exclude = _entries(raw, "exclude", contexts)
        found = expand(axes, include, exclude)
        if not found:
            raise MatrixError("the matrix has no legs (no values, or everything excluded)")
        limit, _ = size_limits()
        if len(found) > limit:
            raise MatrixError(
                f"the matrix has {len(found):,} legs; at most {limit:,} per job "
                "(ANSFLOW_MAX_MATRIX_LEGS)"
            )
        rep = Reporter(None)
        self.job.rep = rep  # issues found now fail this job, not the load
        self.job.dynamic = False  # each leg gets the runs-on and tool-missing checks
        out: list[StepSpec] = []
        for index, leg in enumerate(found):
            leg_id = self.prefix + expanded_id(self.job.id, {k: text(v) for k, v in leg.items()})
            spec = self.job.leg(leg, leg_id, self.needs, self.leg_job, len(found), index)
            out.append(self.adopt(spec))
        if rep.failed:
            raise MatrixError("; ".join(f"{i.path}: {i.message}" for i in rep.issues()))
        ids = [s.id for s in out]
        if len(set(ids)) != len(ids):
            raise MatrixError("two legs of the matrix have the same values")
        return out


def placeholder(spec: StepSpec, dynamic: DynamicMatrix) -> StepSpec:
    """The job's one node at load time: it becomes the group of the legs at run time."""
    note = "; ".join([NOTE, *([spec.note] if spec.note else [])])
    job = {**spec.job, "dynamic": dynamic, "fail_fast": False, "max_parallel": None}
    written = text_of(child(dynamic.job.node, "name"))
    # A name made of matrix values has none yet: the group is shown by the job's id.
    name = spec.id if "matrix." in written else spec.name
    return dataclasses.replace(spec, job=job, note=note, matrix={}, name=name)


def _value(raw: Any, contexts: Mapping[str, Any]) -> Any:
    """A matrix value: a whole `${{ expression }}` evaluated now, else as written."""
    if not (isinstance(raw, str) and raw.strip().startswith("${{") and raw.strip().endswith("}}")):
        return raw
    source = raw.strip()[3:-2]
    try:
        expression = parse_expression(source, contexts=CONTEXTS, double_quotes=False)
        return expression.evaluate(Scope(contexts=dict(contexts)))
    except (ExpressionSyntaxError, ExpressionRuntimeError) as exc:
        raise MatrixError(f"strategy.matrix: ${{{{ {source.strip()} }}}}: {exc}") from None


def _entries(raw: Mapping[str, Any], key: str, contexts: Mapping[str, Any]) -> list[Any]:
    value = _value(raw.get(key) or [], contexts)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(e, Mapping) for e in value):
        raise MatrixError(f"matrix.{key} must be a list of objects, not {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})" if len(value) < 60 else "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"
