"""The conditions of a reusable workflow's nodes: the caller's `if:` on top of a called
job's own, and the caller's node that waits for its called jobs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..spec import Condition, ConditionContext


@dataclass(slots=True)
class Both:
    """Two `if:`s that must both hold (the caller's and the called job's own)."""

    first: Condition
    second: Condition

    @property
    def source(self) -> str:
        """Both expressions, as written."""
        return f"({self.first.source}) && ({self.second.source})"

    @property
    def calls(self) -> frozenset[str]:
        """The functions either calls."""
        return self.first.calls | self.second.calls

    @property
    def uses_status_function(self) -> bool:
        """Always: each half applies its own implicit `success()`."""
        return True

    def evaluate(self, ctx: ConditionContext) -> bool:
        """True when both hold, each with GitHub's `success() && (expr)` rule."""
        return _holds(self.first, ctx) and _holds(self.second, ctx)


def _holds(condition: Condition, ctx: ConditionContext) -> bool:
    if condition.uses_status_function:
        return condition.evaluate(ctx)
    return ctx.needs_succeeded and not ctx.cancelled and condition.evaluate(ctx)


@dataclass(slots=True)
class AfterCalledJobs:
    """The caller's node runs once its called jobs ended, unless all were skipped."""

    source: str = "the called jobs ran"
    calls: frozenset[str] = field(default_factory=frozenset)

    @property
    def uses_status_function(self) -> bool:
        """It decides on failed needs itself (it must run to report them)."""
        return True

    def evaluate(self, ctx: ConditionContext) -> bool:
        """Not cancelled, and at least one called job did not end skipped."""
        needs: Mapping[str, Any] = getattr(ctx, "needs", {})
        ran = any(isinstance(v, Mapping) and v.get("result") != "skipped" for v in needs.values())
        return ran and not ctx.cancelled
