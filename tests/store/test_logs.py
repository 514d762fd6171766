"""Reading logs: per-step ranges, tails, the merged stream, substring and regex search."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ansflow_jupyter.errors import BadRequest, NotFound
from ansflow_jupyter.store import Store

Run = Any  # tests/store/conftest.py:Run


@pytest.fixture
def run(make_run: Callable[..., Run]) -> Run:
    """Step a: 250 lines in batches of 10 (stderr every 5th); b: 30 lines, interleaved."""
    run = make_run()
    for batch in range(25):
        stream = "stderr" if batch % 5 == 4 else "stdout"
        run.log("a", [f"a{batch * 10 + i:03d} \x1b[32mok\x1b[0m" for i in range(10)], stream)
        if batch < 3:
            run.log("b", [f"b{batch * 10 + i:03d} ERROR" for i in range(10)])
        run.commit()
    return run


def lines(rows: list[dict[str, Any]]) -> list[str]:
    return [r["line"].split()[0] for r in rows]


def test_one_step_by_offset_and_limit(store: Store, run: Run) -> None:
    rows = store.log_lines(run.id, step="a", offset=95, limit=12)
    assert lines(rows) == [f"a{i:03d}" for i in range(95, 107)]
    assert [r["offset"] for r in rows] == list(range(95, 107))
    assert {r["step_id"] for r in rows} == {"a"}
    assert rows[0]["stream"] == "stderr"
    assert rows[5]["stream"] == "stdout"
    assert all(isinstance(r["ts"], float) for r in rows)
    assert "\x1b[32m" in rows[0]["line"]  # ANSI kept
    assert len(store.log_lines(run.id, step="a")) == 250
    assert store.log_lines(run.id, step="a", offset=250) == []
    assert store.log_lines(run.id, step="a", limit=0) == []
    assert store.log_lines(run.id, step="missing") == []


def test_tail(store: Store, run: Run) -> None:
    assert lines(store.log_lines(run.id, step="a", tail=3)) == ["a247", "a248", "a249"]
    assert len(store.log_lines(run.id, step="b", tail=1000)) == 30
    assert lines(store.log_lines(run.id, tail=2)) == ["a248", "a249"]
    assert store.log_lines(run.id, step="a", tail=0) == []


def test_all_steps_in_time_order(store: Store, run: Run) -> None:
    rows = store.log_lines(run.id)
    assert len(rows) == 280
    assert lines(rows)[:25] == [
        *[f"a{i:03d}" for i in range(10)],
        *[f"b{i:03d}" for i in range(10)],
        *[f"a{i:03d}" for i in range(10, 15)],
    ]
    # Offsets stay per step; `offset` pages through the merged stream.
    assert rows[10]["offset"] == 0
    assert rows[10]["step_id"] == "b"
    page = store.log_lines(run.id, offset=15, limit=10)
    assert page == rows[15:25]
    assert store.log_lines(run.id, offset=270, tail=50) == rows[270:]
    assert store.log_lines(run.id, offset=100, tail=5) == rows[-5:]


def test_search_substring(store: Store, run: Run) -> None:
    rows = store.log_lines(run.id, q="ERROR")
    assert len(rows) == 30
    assert {r["step_id"] for r in rows} == {"b"}
    assert lines(store.log_lines(run.id, step="a", q="a19")) == [f"a{i}" for i in range(190, 200)]
    assert lines(store.log_lines(run.id, q="ERROR", tail=2)) == ["b028", "b029"]
    assert lines(store.log_lines(run.id, q="ERROR", limit=2)) == ["b000", "b001"]
    assert store.log_lines(run.id, q="(b0") == []  # plain text, not a pattern
    assert len(store.log_lines(run.id, q="[32m")) == 250


def test_search_regex(store: Store, run: Run) -> None:
    rows = store.log_lines(run.id, step="a", q=r"/^a2[0-4]7 /")
    assert lines(rows) == ["a207", "a217", "a227", "a237", "a247"]
    assert [r["offset"] for r in rows] == [207, 217, 227, 237, 247]
    assert len(store.log_lines(run.id, q="/(?i)error$/")) == 30


def test_bad_input_is_a_bad_request(store: Store, run: Run) -> None:
    with pytest.raises(BadRequest, match="invalid regular expression"):
        store.log_lines(run.id, q="/a(/")
    with pytest.raises(BadRequest):
        store.log_lines(run.id, offset=-1)
    with pytest.raises(BadRequest):
        store.log_lines(run.id, tail=-5)


def test_log_lines_match_what_was_sent(store: Store, run: Run) -> None:
    sent = [
        (e.data["step_id"], e.data["offset"] + i, e.data["stream"], line)
        for e in run.events
        for i, line in enumerate(e.data["lines"])
    ]
    got = [(r["step_id"], r["offset"], r["stream"], r["line"]) for r in store.log_lines(run.id)]
    assert got == sent


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"offset": 37, "limit": 100},
        {"step": "a", "offset": 95, "limit": 12},
        {"step": "b"},
        {"tail": 7},
        {"q": "/^b0[01]/"},
        {"q": "ERROR", "limit": 3},
    ],
)
@pytest.mark.parametrize("raw", [False, True])
def test_log_text_is_log_lines_as_text(
    store: Store, run: Run, query: dict[str, Any], raw: bool
) -> None:
    prefix = "step" not in query
    text = "".join(store.log_text(run.id, prefix=prefix, strip=not raw, **query))
    expected = []
    for row in store.log_lines(run.id, **query):
        line = row["line"] if raw else row["line"].replace("\x1b[32m", "").replace("\x1b[0m", "")
        expected.append(f"{row['step_id']} | {line}" if prefix else line)
    assert text.splitlines() == expected
    assert text.endswith("\n") or not expected


def test_log_text_of_an_unknown_execution_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        list(store.log_text("nope"))
