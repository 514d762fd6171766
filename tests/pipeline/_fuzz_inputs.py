"""What the loader fuzzer (test_pipeline_fuzz.py) draws from: keys, odd scalars, raw YAML
values, expressions, and a native pipeline that uses every key."""

from __future__ import annotations

import datetime
import random
from typing import Any

# Every native key at least once (the examples leave out sub-steps, outputs, secrets...).
KITCHEN_SINK = """\
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


ATOMS = [
    "null", "true", "false", "0", "-1", "1.5", "0xff", "-2.99e-2", "1e400", "''", "'a''b'",
    "'{0}{1}'", "'[1,[2]]'", "'{\"a\": [1, {}]}'", "'NaN'", "'0x10'", "env.X", "env['X']",
    "env", "matrix", "matrix.x", "matrix.py", "needs", "needs.a", "needs.a.result",
    "needs.a.outputs.v", "needs.*.result", "needs['a[x=1]'].outputs.v", "github.sha",
    "inputs.x", "steps.s.outputs.o", "strategy.job-index", "job.status", "runner.os",
    "secrets.T", "vars.V", "nosuch.x", "x", "matrix.*", "env.*.x",
]  # fmt: skip
FUNCTIONS = [
    "contains", "startsWith", "endsWith", "format", "join", "toJSON", "fromJSON",
    "hashFiles", "success", "failure", "always", "cancelled", "nosuch", "FROMJSON",
]  # fmt: skip
OPERATORS = ["&&", "||", "==", "!=", "<", "<=", ">", ">=", "", "=", "&", "|"]


def expression(rnd: random.Random, depth: int = 0) -> str:
    """A random (mostly well-formed) expression of the language."""
    roll = rnd.random()
    if depth > 4 or roll < 0.35:
        return rnd.choice(ATOMS)
    if roll < 0.55:
        args = ", ".join(expression(rnd, depth + 1) for _ in range(rnd.randrange(4)))
        return f"{rnd.choice(FUNCTIONS)}({args})"
    if roll < 0.75:
        op = rnd.choice(OPERATORS)
        return f"{expression(rnd, depth + 1)} {op} {expression(rnd, depth + 1)}"
    if roll < 0.85:
        return f"!{expression(rnd, depth + 1)}"
    if roll < 0.93:
        return f"({expression(rnd, depth + 1)})"
    accessor = rnd.choice([".x", ".*", "[0]", "[1e400]", "['k']", "[", ".", "[-1]"])
    return f"{expression(rnd, depth + 1)}{accessor}"


# What expressions read at run time (env, matrix and needs outputs): the odd ones.
VALUES: list[Any] = [
    None, True, False, 0, 1.5, -0.0, float("nan"), float("inf"), 10**400, "", "0x" + "f" * 300,
    "1e999", "[1,[2]]", '{"a": 1}', "[" * 3000, "a" * 10000, [], {}, [1, [2]], {"a": {"b": [1]}},
]  # fmt: skip
