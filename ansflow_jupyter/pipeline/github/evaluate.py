"""Evaluating workflow expressions: what is known when the file loads, and job `if:`s."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..conditions import ParsedCondition, parse_condition
from ..expr_values import ExpressionRuntimeError, Value, to_text
from ..expressions import ExpressionSyntaxError, Scope, parse_expression
from ..interpolate import segments
from ..spec import ConditionContext
from .context import CONTEXTS


def evaluate_static(source: str, contexts: Mapping[str, Any]) -> Value | None:
    """One expression (no `${{ }}`) against the contexts known now; None when it reads
    another context (steps, needs, secrets) or does not evaluate."""
    try:
        expression = parse_expression(source, contexts=CONTEXTS, double_quotes=False)
        if not expression.contexts <= set(contexts) or expression.calls & {"hashFiles"}:
            return None
        return expression.evaluate(Scope(contexts=dict(contexts)))
    except (ExpressionSyntaxError, ExpressionRuntimeError):
        return None


def render_static(text: str, contexts: Mapping[str, Any]) -> str | None:
    """`text` with its `${{ }}` evaluated, or None when one of them cannot be yet."""
    if "${{" not in text:
        return text
    out: list[str] = []
    pos = 0
    try:
        found = list(segments(text))
    except ExpressionSyntaxError:
        return None
    for seg in found:
        out.append(text[pos : seg.start])
        value = evaluate_static(seg.inner, contexts)
        if value is None and seg.inner.strip() not in ("null", ""):
            return None
        out.append(to_text(value))
        pos = seg.end
    out.append(text[pos:])
    return "".join(out)


def static_value(raw: Any, contexts: Mapping[str, Any]) -> Any:
    """A YAML value that may be a whole `${{ expression }}` (e.g. `fromJSON(...)`)."""
    if isinstance(raw, str) and raw.strip().startswith("${{") and raw.strip().endswith("}}"):
        inner = raw.strip()[3:-2]
        return evaluate_static(inner, contexts)
    return raw


def job_needs(needs: Mapping[str, Any], legs: Mapping[str, str]) -> dict[str, Any]:
    """`needs` keyed by job id: a matrix job's legs merged (last leg's outputs win, any
    failed leg makes the result `failure`). The jobs of a called workflow (`caller/job`)
    are keyed by their own id: job ids never hold a `/`."""
    merged: dict[str, dict[str, Any]] = {}
    rank = {"failure": 3, "cancelled": 2, "success": 1, "skipped": 0}
    for leg_id, value in needs.items():
        job = legs.get(leg_id, leg_id).rsplit("/", 1)[-1]
        if not isinstance(value, Mapping):
            continue
        entry = merged.setdefault(job, {"result": "skipped", "outputs": {}})
        result = str(value.get("result", "skipped"))
        if rank.get(result, 0) >= rank.get(entry["result"], 0):
            entry["result"] = result
        for key, out in (value.get("outputs") or {}).items():
            if out != "" or key not in entry["outputs"]:
                entry["outputs"][key] = out
    return merged


@dataclass(slots=True)
class JobCondition(ParsedCondition):
    """A job's `if:`: GitHub's rules, with github/inputs/vars and `needs` by job id."""

    contexts: Mapping[str, Any] = field(default_factory=dict)
    legs: Mapping[str, str] = field(default_factory=dict)  # leg id -> job id

    def scope(self, ctx: ConditionContext) -> Scope:
        """The scope of ParsedCondition plus the workflow's static contexts."""
        base = ParsedCondition.scope(self, ctx)
        needs = job_needs(getattr(ctx, "needs", {}), self.legs)
        base.contexts = {**self.contexts, "env": ctx.env, "needs": needs}
        return base


def job_condition(text: str, contexts: Mapping[str, Any], legs: Mapping[str, str]) -> JobCondition:
    """Parse a job `if:` (raises ConditionSyntaxError with the offset)."""
    parsed = parse_condition(text, contexts=CONTEXTS, native=False)
    return JobCondition(parsed.source, parsed.expression, False, None, contexts, legs)
