"""`if:` conditions: an expression of the language in expressions.py, with or without `${{ }}`.

The status functions are evaluated against a `ConditionContext`:

- `success()`   -- `ctx.needs_succeeded and not ctx.cancelled`
- `failure()`   -- `ctx.needs_failed`
- `always()`    -- `True`
- `cancelled()` -- `ctx.cancelled`

Contexts: `env` (the step's environment), `matrix` (the leg's values) and `needs`
(`needs.ID.result`, `needs.ID.outputs.KEY`). The result is true when truthy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .expr_values import STATUS_FUNCTIONS, truthy
from .expressions import (
    NATIVE_CONTEXTS,
    Expression,
    ExpressionSyntaxError,
    Scope,
    parse_expression,
)
from .spec import ConditionContext

__all__ = [
    "STATUS_FUNCTIONS",
    "ConditionSyntaxError",
    "ParsedCondition",
    "parse_condition",
]

_WRAPPED = re.compile(r"^(\s*\$\{\{)(.*)\}\}\s*$", re.DOTALL)

#: An `if:` that does not parse; `offset` is where in the source text.
ConditionSyntaxError = ExpressionSyntaxError


@dataclass(slots=True)
class ParsedCondition:
    """A parsed `if:` expression; implements the `Condition` protocol of spec.py."""

    source: str
    expression: Expression
    native: bool = True  # native pipelines keep `'true' == true`; workflows use GitHub's rule
    where: Any = None  # the checker's located text of the `if:` (for later checks)

    @property
    def calls(self) -> frozenset[str]:
        """The functions the expression calls (the engine reads always()/cancelled())."""
        return self.expression.calls

    @property
    def uses_status_function(self) -> bool:
        """True when the expression calls success(), failure(), always() or cancelled()."""
        return not self.calls.isdisjoint(STATUS_FUNCTIONS)

    @property
    def offset(self) -> int:
        """Where the expression starts inside `source` (after a `${{`)."""
        wrapped = _WRAPPED.match(self.source)
        return len(wrapped.group(1)) if wrapped else 0

    def evaluate(self, ctx: ConditionContext) -> bool:
        """Evaluate against the context (raises only for a bad fromJSON()/format() input)."""
        return truthy(self.expression.evaluate(self.scope(ctx)))

    def scope(self, ctx: ConditionContext) -> Scope:
        """The evaluation scope the context provides."""
        matrix: Mapping[str, str] = getattr(ctx, "matrix", {})
        needs: Mapping[str, Any] = getattr(ctx, "needs", {})

        def status(name: str) -> bool:
            if name == "success":
                return ctx.needs_succeeded and not ctx.cancelled
            if name == "failure":
                return ctx.needs_failed
            if name == "cancelled":
                return ctx.cancelled
            return True  # always()

        return Scope(
            contexts={"env": ctx.env, "matrix": matrix, "needs": needs},
            status=status,
            workdir=getattr(ctx, "workdir", None),
            bool_text=self.native,
        )


def parse_condition(
    text: str, *, contexts: tuple[str, ...] = NATIVE_CONTEXTS, native: bool = True
) -> ParsedCondition:
    """Parse an `if:` expression; raises ConditionSyntaxError with the offending offset."""
    wrapped = _WRAPPED.match(text)
    start, body = (len(wrapped.group(1)), wrapped.group(2)) if wrapped else (0, text)
    if not body.strip():
        raise ConditionSyntaxError("empty `if` expression", start)
    expression = parse_expression(body, start=start, contexts=contexts, double_quotes=native)
    return ParsedCondition(text, expression, native)
