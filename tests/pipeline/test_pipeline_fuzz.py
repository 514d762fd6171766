"""Property-based fuzzing of the loader: no pipeline or workflow file may crash it.

Every input (mutations of the real example pipelines, the corpus and the workflow
fixtures) either loads or raises SpecError whose issues all carry a message and a line;
`validate()` never reports an internal error. Run it longer while hunting:
`ANSFLOW_FUZZ_EXAMPLES=20000 ANSFLOW_FUZZ_SEED=7 pytest tests/pipeline/test_pipeline_fuzz.py`.
"""

from __future__ import annotations

import contextlib
import copy
import os
import random
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml
from _fuzz_inputs import (
    EXPRESSIONS,
    KEYS,
    KITCHEN_SINK,
    RAW,
    SCALARS,
    VALUES,
    expression,
)
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
PIPELINES.append(KITCHEN_SINK)


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
    outputs = {"v": str(rnd.choice(VALUES))}
    scope = Scope(
        contexts={
            "env": {"X": str(rnd.choice(VALUES))},
            "matrix": {"x": rnd.choice(VALUES), "py": "3.10"},
            "needs": {"a": {"result": "success", "outputs": outputs}, "a[x=1]": {}},
        },
        status=lambda name: name != "cancelled",
        workdir=None,
        bool_text=rnd.random() < 0.5,
    )
    with warnings.catch_warnings(), contextlib.suppress(ExpressionRuntimeError):
        warnings.simplefilter("error")
        parsed.evaluate(scope)
