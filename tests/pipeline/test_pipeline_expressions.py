"""The expression language: GitHub's documented examples, coercion, functions, limits."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest

from ansflow_jupyter.pipeline import validate
from ansflow_jupyter.pipeline.conditions import parse_condition
from ansflow_jupyter.pipeline.expr_values import ExpressionRuntimeError
from ansflow_jupyter.pipeline.expressions import (
    MAX_DEPTH,
    ExpressionSyntaxError,
    Scope,
    parse_expression,
)

CONTEXTS: dict[str, Any] = {
    "env": {"MODE": "Prod", "EMPTY": "", "N": "3"},
    "matrix": {"python": "3.12"},
    "needs": {
        "build": {"result": "success", "outputs": {"version": "1.2.0"}},
        "lint": {"result": "failure", "outputs": {}},
    },
}


def ev(text: str, *, bool_text: bool = False, workdir: Path | None = None) -> Any:
    expression = parse_expression(text)
    return expression.evaluate(Scope(CONTEXTS, lambda n: n == "always", workdir, bool_text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # literals (GitHub's "Literals" table)
        ("null", None),
        ("false", False),
        ("711", 711),
        ("-9.2", -9.2),
        ("0xff", 255),
        ("-2.99e-2", -0.0299),
        ("'Mona the Octocat'", "Mona the Octocat"),
        ("'It''s open source!'", "It's open source!"),
        # loose equality: different types compare as numbers
        ("1 == '1'", True),
        ("null == 0", True),
        ("'' == 0", True),
        ("true == 1", True),
        ("false == '0'", True),
        ("'0x10' == 16", True),
        ("' 1e2 ' == 100", True),
        ("'abc' == 0", False),
        ("'true' == true", False),  # NaN vs 1 on GitHub
        ("fromJSON('[1]') == fromJSON('[1]')", False),  # arrays: same instance only
        ("'ABC' == 'abc'", True),  # strings: case-insensitive
        ("'abc' != 'ABD'", True),
        # comparison
        ("1 < 2", True),
        ("'a' < 'B'", True),
        ("'10' < 9", False),
        ("'abc' < 1", False),  # NaN is never ordered
        ("2 >= 2", True),
        # && and || return an operand, like JavaScript
        ("null && 'x'", None),
        ("'a' && 'b'", "b"),
        ("'' || 'default'", "default"),
        ("env.EMPTY || 'fallback'", "fallback"),
        ("!''", True),
        ("!0", True),
        ("!fromJSON('[]')", False),  # arrays are truthy
        # contexts, properties, index, filters
        ("env.MODE", "Prod"),
        ("env.mode", "Prod"),  # object keys match case-insensitively
        ("env['MODE']", "Prod"),
        ("env.MISSING", None),
        ("matrix.python", "3.12"),
        ("needs.build.outputs.version", "1.2.0"),
        ("needs['build'].outputs['version']", "1.2.0"),
        ("needs.*.result", ["success", "failure"]),
        ("contains(needs.*.result, 'FAILURE')", True),
        ('fromJSON(\'[{"name":"a"},{"name":"b"},{}]\').*.name', ["a", "b"]),
        ("fromJSON('{\"a\":{\"b\":[10,20]}}')['a'].b[1]", 20),
        ("fromJSON('[1,2]')[5]", None),
        # functions (GitHub's examples)
        ("contains('Hello world', 'llo')", True),
        ("contains('Hello world', 'LLO')", True),
        ("contains(fromJSON('[\"push\", \"pull_request\"]'), 'push')", True),
        ("contains(fromJSON('[\"push\"]'), 'pull')", False),
        ("startsWith('Hello world', 'he')", True),
        ("endsWith('Hello world', 'ld')", True),
        ("format('Hello {0} {1} {2}', 'Mona', 'the', 'Octocat')", "Hello Mona the Octocat"),
        ("format('{{Hello {0} {1} {2}!}}', 'Mona', 'the', 'Octocat')", "{Hello Mona the Octocat!}"),
        ("format('{0} {1}', 1.0, true)", "1 true"),
        ("join(fromJSON('[\"a\",\"b\"]'), ', ')", "a, b"),
        ("join(fromJSON('[1,2]'))", "1,2"),
        ("join('abc')", "abc"),
        ("toJSON(fromJSON('{\"a\": 1}'))", '{\n  "a": 1\n}'),
        ("toJSON(matrix)", '{\n  "python": "3.12"\n}'),
        ("fromJSON('true')", True),
        ("fromJSON(env.N) == 3", True),
        ("always()", True),
        ("success()", False),
        ("SUCCESS() || ALWAYS()", True),  # function names are case-insensitive
        ("(1 == 1) == true", True),
        ("!(1 == 2) && (2 > 1 || false)", True),
    ],
)
def test_github_semantics(text: str, expected: Any) -> None:
    assert ev(text) == expected


def test_native_pipelines_keep_true_equals_the_string_true() -> None:
    assert ev("'true' == true", bool_text=True) is True
    assert ev("'TRUE' == true", bool_text=True) is True
    assert ev("'yes' == true", bool_text=True) is False
    assert parse_condition("env.FLAG == true").native


def test_nan_equals_nothing() -> None:
    assert ev("fromJSON('[]') == fromJSON('{}')") is False  # NaN == NaN
    assert ev("'x' != fromJSON('[]')") is True
    assert ev("fromJSON('1e999') == fromJSON('1e999')") is True  # infinity equals itself


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fromJSON('{bad')", "fromJSON(): invalid JSON"),
        ("format('{0} {1}', 'a')", "format(): {1} but only 1 value(s) given"),
        ("format('{', 'a')", "format(): unmatched '{'"),
    ],
)
def test_runtime_errors(text: str, message: str) -> None:
    with pytest.raises(ExpressionRuntimeError, match=re.escape(message)):
        ev(text)


@pytest.mark.parametrize(
    ("text", "message", "offset"),
    [
        ("contains('a')", "contains() takes 2 argument(s), got 1", 0),
        ("join(1, 2, 3)", "join() takes 1 to 2 argument(s), got 3", 0),
        ("fromJSON()", "fromJSON() takes 1 argument(s), got 0", 0),
        ("eval('1')", "unknown function 'eval()'", 0),
        ("startswith('a', 'b') && tojson(1", "expected ',' or ')'", 32),
        ("github.sha", "unexpected name 'github'", 0),
        ("env.A.", "expected a property name after '.'", 6),
        ("env[0", "expected ']'", 5),
        ("1 = 1", "unexpected character '=' (use '==')", 2),
        ("'open", "unterminated string", 0),
        ("a b", "unexpected name 'a'", 0),
    ],
)
def test_syntax_errors_are_located(text: str, message: str, offset: int) -> None:
    with pytest.raises(ExpressionSyntaxError) as info:
        parse_expression(text)
    assert message in info.value.message
    assert info.value.offset == offset


def test_deep_nesting_is_a_located_error_not_a_crash() -> None:
    for text in ("(" * 50_000 + "true" + ")" * 50_000, "!" * 50_000 + "true", "env[" * 50_000):
        with pytest.raises(ExpressionSyntaxError) as info:
            parse_expression(text)
        assert "nested too deeply" in info.value.message
        assert info.value.offset <= 4 * (MAX_DEPTH + 1)


def test_long_flat_chains_evaluate_without_recursion() -> None:
    assert ev(" && ".join(["true"] * 20_000)) is True
    assert ev(" || ".join(["false"] * 20_000) + " || 'last'") == "last"
    assert ev("env" + ".a" * 20_000) is None


def test_if_with_50000_parentheses_is_a_located_load_error() -> None:
    text = "name: p\nsteps:\n  a:\n    run: x\n    if: " + "(" * 50_000 + "true" + ")" * 50_000
    issues = validate(text)
    assert len(issues) == 1
    assert "nested too deeply" in issues[0].message
    assert "internal error" not in issues[0].message
    assert (issues[0].line, issues[0].column, issues[0].path) == (5, 9 + MAX_DEPTH, "steps.a.if")


def test_hash_files_relative_to_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_bytes(b"a")
    (tmp_path / "src" / "b.py").write_bytes(b"b")
    (tmp_path / "notes.txt").write_bytes(b"n")
    inner = b"".join(hashlib.sha256(data).digest() for data in (b"a", b"b"))
    assert ev("hashFiles('src/**/*.py')", workdir=tmp_path) == hashlib.sha256(inner).hexdigest()
    assert ev("hashFiles('*.none')", workdir=tmp_path) == ""
    assert ev("hashFiles('../*')", workdir=tmp_path / "src") == ""  # never outside


def test_hash_files_matches_hidden_files_and_folders_as_github_does(tmp_path: Path) -> None:
    # GitHub's glob matches names starting with '.': `**/*.yml` finds .github/workflows/.
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "ci.yml").write_bytes(b"c")
    (tmp_path / ".pre-commit-config.yaml").write_bytes(b"p")
    one = hashlib.sha256(hashlib.sha256(b"c").digest()).hexdigest()
    assert ev("hashFiles('**/*.yml')", workdir=tmp_path) == one
    both = b"".join(hashlib.sha256(data).digest() for data in (b"c", b"p"))
    assert ev("hashFiles('**/*.y*ml')", workdir=tmp_path) == hashlib.sha256(both).hexdigest()


def test_calls_and_refs_are_exposed() -> None:
    expression = parse_expression("always() && needs.build.outputs.version == env.V")
    assert expression.calls == frozenset({"always"})
    assert [(r.context, r.name, r.key) for r in expression.refs] == [
        ("needs", "build", "version"),
        ("env", "V", None),
    ]
    assert parse_condition("${{ cancelled() || success() }}").calls == {"cancelled", "success"}
