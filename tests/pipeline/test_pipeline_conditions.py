"""`if:` expressions: parsing, evaluation semantics, and located syntax errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest

from ansflow_jupyter.pipeline import Condition, ConditionSyntaxError, parse_condition


@dataclass
class Ctx:
    """A ConditionContext for tests."""

    needs_succeeded: bool = True
    needs_failed: bool = False
    cancelled: bool = False
    env: Mapping[str, str] = field(default_factory=dict)


OK = Ctx()
FAILED = Ctx(needs_succeeded=False, needs_failed=True)
CANCELLED = Ctx(cancelled=True)
ENV = Ctx(env={"MODE": "prod", "EMPTY": "", "FLAG": "true"})


@pytest.mark.parametrize(
    ("source", "ctx", "expected"),
    [
        ("success()", OK, True),
        ("success()", FAILED, False),
        ("success()", CANCELLED, False),
        ("failure()", FAILED, True),
        ("failure()", OK, False),
        ("always()", FAILED, True),
        ("always()", CANCELLED, True),
        ("cancelled()", CANCELLED, True),
        ("cancelled()", OK, False),
        ("!cancelled()", OK, True),
        ("env.MODE == 'prod'", ENV, True),
        ('env.MODE != "prod"', ENV, False),
        ("env.MODE", ENV, True),
        ("env.EMPTY", ENV, False),
        ("env.MISSING", ENV, False),
        ("env.MISSING == ''", ENV, True),
        ("env.FLAG == true", ENV, True),
        ("true", OK, True),
        ("false", OK, False),
        ("'text'", OK, True),
        ("''", OK, False),
        ("failure() || env.MODE == 'prod'", ENV, True),
        ("success() && env.MODE == 'dev'", ENV, False),
        ("success() && (env.MODE == 'dev' || env.FLAG)", ENV, True),
        ("!(failure() || cancelled()) && !env.EMPTY", ENV, True),
        ("true || false && false", OK, True),  # && binds tighter than ||
        ("!!true", OK, True),
        ("${{ always() }}", FAILED, True),
        ("  ${{env.MODE=='prod'}}  ", ENV, True),
    ],
)
def test_evaluate(source: str, ctx: Ctx, expected: bool) -> None:
    condition: Condition = parse_condition(source)
    assert condition.evaluate(ctx) is expected
    assert condition.source == source


@pytest.mark.parametrize(
    ("source", "uses"),
    [
        ("success()", True),
        ("env.A == 'b' && always()", True),
        ("${{ !cancelled() }}", True),
        ("env.A == 'b'", False),
        ("true", False),
    ],
)
def test_uses_status_function(source: str, uses: bool) -> None:
    assert parse_condition(source).uses_status_function is uses


@pytest.mark.parametrize(
    ("source", "message", "offset"),
    [
        ("", "empty `if` expression", 0),
        ("${{ }}", "empty `if` expression", 3),
        ("success(", "expected ')' (success() takes no arguments), found the end", 8),
        ("success(1)", "success() takes no arguments), found '1'", 8),  # numbers are literals now
        ("sucess()", "unknown function 'sucess()'; did you mean 'success()'?", 0),
        ("success", "expected '(' after 'success'", 7),
        ("env.A = 'b'", "unexpected character '=' (use '==')", 6),
        ("always() & true", "unexpected character '&' (use '&&')", 9),
        ("always() | true", "unexpected character '|' (use '||')", 9),
        ("env.A == 'b", "unterminated string (no closing ')", 9),
        ("(true", "expected ')', found the end of the expression", 5),
        ("true)", "unexpected ')'; expected '&&', '||' or the end", 4),
        ("true true", "unexpected 'true'; expected '&&', '||' or the end", 5),
        ("env.", "expected a variable name after 'env.'", 4),
        ("env", "expected '.' after 'env', found the end of the expression", 3),
        ("github.ref", "unexpected name 'github'", 0),
        ("&& true", "unexpected '&&'", 0),
        ("__import__('os')", "unknown function '__import__()'", 0),
        ("${{ success() && }}", "unexpected end of expression", 17),
    ],
)
def test_syntax_errors(source: str, message: str, offset: int) -> None:
    with pytest.raises(ConditionSyntaxError) as info:
        parse_condition(source)
    assert message in info.value.message
    assert info.value.offset == offset
