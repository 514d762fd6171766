"""Property-based fuzzing of the loader: no pipeline or workflow file may crash it.

Every input (mutations of the real example pipelines, the corpus and the workflow
fixtures) either loads or raises SpecError whose issues all carry a message and a line;
`validate()` never reports an internal error. Run it longer while hunting:
`ANSFLOW_FUZZ_EXAMPLES=20000 ANSFLOW_FUZZ_SEED=7 pytest tests/pipeline/test_pipeline_fuzz.py`.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import os
import random
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from ansflow_jupyter.pipeline import SpecError, SpecIssue, load_pipeline, validate
from ansflow_jupyter.pipeline.expr_values import ExpressionRuntimeError
from ansflow_jupyter.pipeline.expressions import ExpressionSyntaxError, Scope, parse_expression

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent
_EXAMPLES = int(os.environ.get("ANSFLOW_FUZZ_EXAMPLES", "0"))
_SEED = os.environ.get("ANSFLOW_FUZZ_SEED")


def _texts(files: list[Path]) -> list[str]:
    return [f.read_text(encoding="utf-8") for f in sorted(files)]


PIPELINES = _texts(
    [
        *ROOT.glob("notebooks/pipelines/*.yml"),
        *ROOT.glob("notebooks/*/pipeline.yml"),
        *HERE.glob("corpus/*.yml"),
    ]
)
WORKFLOWS = _texts([*HERE.glob("workflows/**/*.yml")])
# Every native key at least once (the examples leave out sub-steps, outputs, secrets...).
PIPELINES.append(
    """\
name: kitchen ${{ env.WHO }}
env: {WHO: me, N: 3.10, FLAG: true}
env-inherit: false
secrets: [TOKEN]
defaults: {shell: bash, working-directory: ., timeout: 10m}
max-parallel: 2
steps:
  build:
    name: Build ${{ matrix.py }}
    matrix: {py: ["3.11", "3.12"], os: [a, b]}
    run: echo "v=${{ matrix.py }}" >> "$ANSFLOW_OUTPUT"
    retry: {max: 2, delay: 1s, backoff: 2}
    cache: {inputs: ["src/**/*.py"], key: "${{ matrix.os }}"}
    artifacts: {paths: [dist/, "*.whl"], if-no-files: ignore}
  test:
    needs: ["build[py=3.11,os=a]"]
    if: needs['build[py=3.11,os=a]'].outputs.v != '' && env.FLAG == true
    env: {V: "${{ needs['build[py=3.11,os=a]'].outputs.v }}", H: "${{ hashFiles('*.py') }}"}
    continue-on-error: true
    working-directory: src
    timeout: 1h30m
    shell: python
    steps:
      - name: Install
        run: pip install -e .
      - run: pytest -q ${{ env.WHO }}
        if: failure() || always()
        shell: sh
        env: {PYTHONWARNINGS: error}
        continue-on-error: true
        working-directory: tests
        timeout: 90s
  report:
    needs: [test, build]
    if: always()
    cache: true
    artifacts: [report.txt]
    run: echo ${{ join(needs.*.result, ', ') }} ${{ toJSON(fromJSON('[1, 2]')) }}
"""
)

KEYS = [
    "name", "run", "steps", "needs", "if", "env", "matrix", "include", "exclude", "id",
    "strategy", "jobs", "on", "runs-on", "uses", "with", "outputs", "defaults", "timeout",
    "retry", "max", "delay", "backoff", "shell", "working-directory", "continue-on-error",
    "artifacts", "cache", "inputs", "key", "paths", "if-no-files", "secrets",
    "max-parallel", "fail-fast", "timeout-minutes", "services", "container", "notebook",
    "parameters", "kernel", "env-inherit", "concurrency", "permissions", "run-name",
    "workflow_call", "workflow_dispatch", "push", "type", "required", "default", "run",
    "<<", "", "é", "a b", "1", "build", "test", "lint",
]  # fmt: skip
EXPRESSIONS = [
    "${{", "${{ }}", "}}", "${{ matrix. }}", "${{ matrix.x }}", "${{ env.X }}",
    "${{ needs.a.outputs }}", "${{ needs.a.outputs.v }}", "${{ needs.*.result }}",
    "${{ fromJSON('[') }}", "${{ fromJSON('[1]')[0] }}", "${{ format('{0}') }}",
    "${{ format('{1}', 1) }}", "${{ toJSON(matrix) }}", "${{ join(needs.*.outputs.v) }}",
    "${{ hashFiles('**') }}", "${{ hashFiles() }}", "${{ 0x }}", "${{ 1e999 }}",
    "${{ -1e400 }}", "${{ 'a' == 1 }}", "${{ github.sha }}", "${{ inputs.x }}",
    "${{ strategy.job-index }}", "${{ steps.s.outputs.o }}", "${{ secrets.T }}",
    "${{ vars.V }}", "${{ runner.os }}", "${{ job.status }}", "${{ a }} ${{",
    "${{ format('}}') }}", "${{ ((((((( }}", "${{ !!!!!x }}", "${{ x[ }}",
    "success() &&", "failure() || always()", "cancelled()", "((((", "'unterminated",
    '"also', "env.X[", "env.X == true", "needs.a.result == 'success'", "!", "&&",
    "success(1)", "nosuch()", "contains(", "startsWith('a')", "matrix.x > 1",
    "${{ success() }}", "${{ always() }} && x", "1 < 2 < 3", "env['X']", "env.*",
    "needs['a[x=1]'].outputs.v", "0x1G", "1e", ".5", "-", "null == null",
    "(" * 60 + ")" * 60, "!" * 200 + "true",
]  # fmt: skip
DURATIONS = ["1h30m", "-5s", "0s", "1e400s", "500ms", "10x", "1.5", "s", "9" * 40 + "h"]
SCALARS: list[Any] = [
    None, True, False, 0, 1, -1, 2, 3.0, 0.5, -0.0, 10**30, -(10**30), 2**63,
    float("inf"), float("-inf"), float("nan"), "", " ", "\t", "é☃𝄞", "\u0000", "\ud7ff",
    "x" * 5000, "a\nb", "-", "~", "null", "yes", "no", "0x10", "1_000", ".inf",
    "*alias", "&anchor", "!!str", "@", "`", "%", "a[b=1]", "../..", "/", "/etc/passwd",
    datetime.date(2020, 1, 2), datetime.datetime(2020, 1, 2, 3, 4, 5), b"\xff\x00",
]  # fmt: skip
SCALARS += EXPRESSIONS + DURATIONS
# Shapes only workflow files have (inputs, reusable calls, actions, shells, defaults).
SCALARS += [
    {"workflow_call": {"inputs": {"x": {"type": "number", "default": "abc"}}}},
    {"workflow_dispatch": {"inputs": {"x": {"type": "choice", "options": "a"}}}},
    {"inputs": {"x": {"type": "boolean", "required": True}}, "outputs": {"o": {}}},
    {"run": {"shell": "{0}", "working-directory": "${{ x }}"}},
    {"matrix": {"include": "${{ 1 }}", "x": "${{ fromJSON('[1]') }}"}},
    {"fail-fast": "${{ 1 }}", "max-parallel": "${{ 0 }}", "matrix": {"x": [1]}},
    {"image": "x", "env": {"A": 1}}, {"group": "${{ github.ref }}", "cancel-in-progress": 1},
    {"path": "x", "key": "${{ hashFiles() }}"}, {"name": "a", "path": ["x", 1]},
    "./.github/workflows/nope.yml", "./", "./" + "x" * 300, "./..", "octo/repo@v1",
    "actions/checkout@v4", "actions/upload-artifact@v4", "actions/cache@v4",
    "actions/download-artifact@v4", "actions/setup-python@v5", "docker://alpine",
    "pwsh", "python {0}", "cmd", "bash -e {0}", "${{ matrix.os }}", "ubuntu-latest",
    {"steps": [{"uses": "./"}]}, [{"uses": "actions/checkout@v4", "with": {"path": ".."}}],
    {"runs-on": "x", "uses": "./.github/workflows/x.yml", "with": {"a": [1]}},
    {"secrets": "inherit"}, {"secrets": {"a": "${{ secrets.b }}"}},
]  # fmt: skip
# Written into the text as they are: explicit tags, numbers PyYAML cannot construct.
RAW = [
    "!!int abc", "!!float x", "!!bool maybe", "!!int ''", "!!int 0x", "!!int -", "!!null x",
    "!!timestamp 2020-13-45", "2020-13-45", "2020-01-02", "!!binary ###", "!!binary AAAA",
    "!!set {a}", "!!omap [a: 1]", "!!merge <<", "!!value =", "!foo x", "!<tag:x> y",
    "1" + "0" * 5000, "1" + "0" * 400, "-0x" + "f" * 400, "0x" + "f" * 300, "1e400", ".nan",
    "-.inf", "0o777", "0b101", "1_000", "190:20:30", "{[a]: 1}", "{? {a: 1}: 1}", "[&x a, *x]",
    "'${{ fromJSON(''" + "[" * 3000 + "'') }}'", "${{ 0x" + "f" * 300 + " }}",
    "'${{ fromJSON(''[1]'')[1e400] }}'", '"x\\ud800"', '"\\0"', '"\\U0010FFFF"',
    "'${{ fromJSON(''\"\\u0000\"'') }}'", "'${{ fromJSON(''\"\\udc00\"'') }}'",
    "\"${{ '2020-13-45' }}\"", "\"${{ '[' }}\"",
]  # fmt: skip


_ATOMS = [
    "null", "true", "false", "0", "-1", "1.5", "0xff", "-2.99e-2", "1e400", "''", "'a''b'",
    "'{0}{1}'", "'[1,[2]]'", "'{\"a\": [1, {}]}'", "'NaN'", "'0x10'", "env.X", "env['X']",
    "env", "matrix", "matrix.x", "matrix.py", "needs", "needs.a", "needs.a.result",
    "needs.a.outputs.v", "needs.*.result", "needs['a[x=1]'].outputs.v", "github.sha",
    "inputs.x", "steps.s.outputs.o", "strategy.job-index", "job.status", "runner.os",
    "secrets.T", "vars.V", "nosuch.x", "x", "matrix.*", "env.*.x",
]  # fmt: skip
_FUNCTIONS = [
    "contains", "startsWith", "endsWith", "format", "join", "toJSON", "fromJSON",
    "hashFiles", "success", "failure", "always", "cancelled", "nosuch", "FROMJSON",
]  # fmt: skip
_OPERATORS = ["&&", "||", "==", "!=", "<", "<=", ">", ">=", "", "=", "&", "|"]


def expression(rnd: random.Random, depth: int = 0) -> str:
    """A random (mostly well-formed) expression of the language."""
    roll = rnd.random()
    if depth > 4 or roll < 0.35:
        return rnd.choice(_ATOMS)
    if roll < 0.55:
        args = ", ".join(expression(rnd, depth + 1) for _ in range(rnd.randrange(4)))
        return f"{rnd.choice(_FUNCTIONS)}({args})"
    if roll < 0.75:
        op = rnd.choice(_OPERATORS)
        return f"{expression(rnd, depth + 1)} {op} {expression(rnd, depth + 1)}"
    if roll < 0.85:
        return f"!{expression(rnd, depth + 1)}"
    if roll < 0.93:
        return f"({expression(rnd, depth + 1)})"
    accessor = rnd.choice([".x", ".*", "[0]", "[1e400]", "['k']", "[", ".", "[-1]"])
    return f"{expression(rnd, depth + 1)}{accessor}"


def _nodes(obj: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    """Every (path, value) of a plain YAML tree, containers first."""
    out = [(path, obj)]
    if isinstance(obj, dict):
        for k, v in list(obj.items()):
            out += _nodes(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _nodes(v, (*path, i))
    return out


def _step_ids(tree: Any) -> list[str]:
    ids: list[str] = []
    if isinstance(tree, dict):
        for top in ("steps", "jobs"):
            steps = tree.get(top)
            if isinstance(steps, dict):
                ids += [str(k) for k in steps]
            elif isinstance(steps, list):
                ids += [str(s.get("id")) for s in steps if isinstance(s, dict)]
    return ids or ["a"]


def _mutate(tree: Any, rnd: random.Random, draw_value: Any) -> Any:
    """One structural mutation of `tree` (in place where possible); returns the new root."""
    nodes = _nodes(tree)
    # Mostly below the root: a replaced root only ever says "must be a mapping".
    inner = [n for n in nodes if n[0]] if rnd.random() < 0.97 else nodes
    path, value = rnd.choice(inner or nodes)
    parent = tree
    for part in path[:-1]:
        parent = parent[part]
    op = rnd.randrange(14)
    new: Any
    if op == 0 and isinstance(value, dict) and value:  # drop a key
        del value[rnd.choice(list(value))]
        return tree
    if op == 1 and isinstance(value, dict):  # add a key
        value[rnd.choice(KEYS)] = draw_value()
        return tree
    if op == 2 and isinstance(value, dict) and value:  # rename a key
        old = rnd.choice(list(value))
        value[rnd.choice([*KEYS, str(old).upper(), f"{old}{old}"])] = value.pop(old)
        return tree
    if op == 3 and isinstance(value, list) and value:  # drop or duplicate an item
        i = rnd.randrange(len(value))
        if rnd.random() < 0.5:
            del value[i]
        else:
            value.insert(i, value[i])
        return tree
    if op == 4:  # needs: self, cycles, unknown ids, wrong shapes
        ids = _step_ids(tree)
        new = rnd.choice(
            [rnd.choice(ids), ids, ids[::-1], [ids[0], ids[0]], "nosuch", {"a": 1}, [[]]]
        )
        if isinstance(value, dict):
            value["needs"] = new
            return tree
    elif op == 5:  # matrix include/exclude shapes
        new = rnd.choice(
            [
                {"x": [1, 2], "include": [{"x": 3}, {"y": 1}]},
                {"x": [1], "exclude": [{"x": 1}]},
                {"include": [{}]},
                {"include": {"x": 1}},
                {"exclude": [{"nosuch": 1}]},
                {"x": [[1], {"a": 1}]},
                {"x": []},
                {"x": [None, None]},
                "${{ fromJSON(needs.a.outputs.m) }}",
                {"x": "${{ fromJSON('[1,2]') }}"},
                {"include": "${{ fromJSON('[{}]') }}"},
                {"x": list(range(40)), "y": list(range(40))},
            ]
        )
        if isinstance(value, dict):
            value[rnd.choice(["matrix", "strategy"])] = (
                {"matrix": new} if rnd.random() < 0.3 else new
            )
            return tree
    elif op == 6:  # a shared subtree: safe_dump writes it as an anchor and aliases
        # never one holding the target's parent: that would make the tree recursive
        others = [v for _, v in nodes if all(c is not parent for _, c in _nodes(v))]
        new = rnd.choice(others) if others else value
    elif op == 8 and isinstance(value, str):  # an expression inside existing text
        at = rnd.randrange(len(value) + 1)
        inner = rnd.choice(EXPRESSIONS) if rnd.random() < 0.3 else f"${{{{ {expression(rnd)} }}}}"
        new = value[:at] + inner + value[at:]
    elif op == 9 and isinstance(value, dict):  # a generated `if:` condition
        value["if"] = expression(rnd) if rnd.random() < 0.7 else f"${{{{ {expression(rnd)} }}}}"
        return tree
    elif op == 7:  # wrap in a list or a mapping
        new = [value] if rnd.random() < 0.5 else {"x": value}
    else:
        new = draw_value()
    if not path:
        return new
    parent[path[-1]] = new
    return tree


def _text_mutate(data: bytes, rnd: random.Random) -> bytes:
    """One byte/line-level mutation: what structural mutations cannot express."""
    lines = data.split(b"\n")
    op = rnd.randrange(16)
    at = rnd.randrange(len(data) + 1)
    i = rnd.randrange(len(lines))
    if op == 0:
        return b"\xef\xbb\xbf" + data
    if op == 1:
        return data[:at] + b"\t" + data[at:]
    if op == 2:
        return data[:at] + rnd.choice([b"\xff", b"\xc3", b"\x00", b"\xed\xa0\x80"]) + data[at:]
    if op == 3:
        return data + rnd.choice([b"\n---\nname: x\n", b"\n...\n", b"\n--- \n"])
    if op == 4:  # duplicate a line: duplicate keys
        lines.insert(i, lines[i])
    elif op == 5:
        del lines[i]
    elif op == 6:
        return data[:at]
    elif op == 7:
        return data.replace(b"\n", b"\r\n")
    elif op == 8:
        extra = rnd.choice([b"&a ", b"*a", b"<<: *a", b"!!python/object:os.system ", b"!x "])
        return data[:at] + extra + data[at:]
    elif op == 9:
        text = rnd.choice(EXPRESSIONS).encode()
        return data[:at] + text + data[at:]
    elif op == 10:  # indent or dedent a line
        lines[i] = b"  " + lines[i] if rnd.random() < 0.5 else lines[i].lstrip()
    elif op == 11:
        return data[:at] + "é☃𝄞\u2028\x85".encode() + data[at:]
    elif op in (13, 14):  # a raw YAML scalar as the value of a `key: value` line
        keyed = [n for n, line in enumerate(lines) if b": " in line or line.endswith(b":")]
        if keyed:
            n = rnd.choice(keyed)
            head = lines[n].split(b": ", 1)[0].rstrip(b":")
            lines[n] = head + b": " + rnd.choice(RAW).encode()
    elif op == 12:
        return data[:at] + rnd.choice([b"{", b"[", b"]", b"}", b"'", b'"', b":", b"- "]) + data[at:]
    else:
        return data + b"\n" + rnd.choice(lines)
    return b"\n".join(lines)


def check(data: str | bytes) -> None:
    """The property: a SpecError with located issues, or a pipeline; validate never fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        issues: list[SpecIssue] = []
        try:
            load_pipeline(data, path="fuzz.yml")
        except SpecError as exc:
            issues = exc.issues or [SpecIssue("SpecError without issues", 0, 0)]
        for issue in issues:
            assert issue.message.strip(), issue
            assert issue.line >= 1 and issue.column >= 1, str(issue)
            assert "internal error" not in issue.message, str(issue)
        for issue in validate(data, "fuzz.yml"):
            assert "internal error" not in issue.message, str(issue)


def _dump(tree: Any) -> bytes:
    return yaml.safe_dump(tree, sort_keys=False, allow_unicode=True).encode("utf-8", "replace")


def make_input(source: str, rnd: random.Random) -> bytes:
    """`source` after a few structural and textual mutations."""
    blob = source.encode("utf-8")
    try:
        tree = yaml.safe_load(source)
    except yaml.YAMLError:
        tree = None
    if tree is not None and rnd.random() < 0.8:
        for _ in range(rnd.choice([1, 1, 1, 2, 3])):
            # a copy: later mutations edit values in place, never the shared table
            tree = _mutate(tree, rnd, lambda: copy.deepcopy(rnd.choice(SCALARS)))
        with contextlib.suppress(yaml.YAMLError, ValueError, RecursionError):
            blob = _dump(tree)
    if rnd.random() < 0.5:
        for _ in range(rnd.randint(1, 3)):
            blob = _text_mutate(blob, rnd)
    return blob


def _fuzz(seeds: list[str], data: st.DataObject) -> None:
    source = data.draw(st.sampled_from(seeds), label="seed")
    rnd = random.Random(data.draw(st.integers(0, 2**32), label="rng"))
    blob = make_input(source, rnd)
    data.draw(st.just(blob.decode("utf-8", "replace")), label="input")  # shown on failure
    check(blob)
    if rnd.random() < 0.2:  # the str path (REST, %ansflow), which may hold a lone surrogate
        text = blob.decode("utf-8", "replace")
        at = rnd.randrange(len(text) + 1)
        check(text[:at] + "\ud800" + text[at:] if rnd.random() < 0.2 else text)


def _settings(examples: int) -> settings:
    return settings(
        max_examples=_EXAMPLES or examples,
        deadline=None,
        derandomize=_SEED is None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def _seeded(test: Any) -> Any:
    return seed(int(_SEED))(test) if _SEED is not None else test


@_seeded
@_settings(300)
@given(st.data())
def test_fuzz_pipelines(data: st.DataObject) -> None:
    """Mutated native pipelines never crash the loader."""
    _fuzz(PIPELINES, data)


@_seeded
@_settings(100)
@given(st.data())
def test_fuzz_workflows(data: st.DataObject) -> None:
    """Mutated GitHub Actions workflow files never crash the loader."""
    _fuzz(WORKFLOWS, data)


def test_seeds_present() -> None:
    """The fuzzers start from the real examples (a moved folder must not silently empty them)."""
    assert len(PIPELINES) > 40 and len(WORKFLOWS) > 10
    pytest.importorskip("hypothesis")


_VALUES: list[Any] = [
    None, True, False, 0, 1.5, -0.0, float("nan"), float("inf"), 10**400, "", "0x" + "f" * 300,
    "1e999", "[1,[2]]", '{"a": 1}', "[" * 3000, "a" * 10000, [], {}, [1, [2]], {"a": {"b": [1]}},
]  # fmt: skip


@_seeded
@_settings(2000)
@given(st.data())
def test_fuzz_expression_evaluation(data: st.DataObject) -> None:
    """Any expression that parses evaluates or raises ExpressionRuntimeError (a failed step
    with its message), whatever the values it reads (run-time `if:`, needs outputs)."""
    rnd = random.Random(data.draw(st.integers(0, 2**32), label="rng"))
    source = expression(rnd)
    data.draw(st.just(source), label="expression")
    try:
        parsed = parse_expression(source, contexts=("env", "matrix", "needs"))
    except ExpressionSyntaxError:
        return
    outputs = {"v": str(rnd.choice(_VALUES))}
    scope = Scope(
        contexts={
            "env": {"X": str(rnd.choice(_VALUES))},
            "matrix": {"x": rnd.choice(_VALUES), "py": "3.10"},
            "needs": {"a": {"result": "success", "outputs": outputs}, "a[x=1]": {}},
        },
        status=lambda name: name != "cancelled",
        workdir=None,
        bool_text=rnd.random() < 0.5,
    )
    with warnings.catch_warnings(), contextlib.suppress(ExpressionRuntimeError):
        warnings.simplefilter("error")
        parsed.evaluate(scope)
