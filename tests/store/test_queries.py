"""Listing, deleting, statistics and retention over many executions."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from ansflow_jupyter.errors import BadRequest, Conflict, NotFound
from ansflow_jupyter.store import Store

Run = Any  # tests/store/conftest.py:Run


def test_list_is_newest_first_and_pages_with_before(
    store: Store, make_run: Callable[..., Run]
) -> None:
    created = time.time()
    # Same created_at on purpose: the order must still follow creation.
    ids = [make_run(created_at=created).id for _ in range(7)]
    page1 = store.list_executions(limit=3)
    page2 = store.list_executions(limit=3, before=page1[-1]["execution_id"])
    page3 = store.list_executions(limit=3, before=page2[-1]["execution_id"])
    got = [e["execution_id"] for e in page1 + page2 + page3]
    assert got == ids[::-1]
    assert store.list_executions(before=ids[0]) == []
    first = page1[0]
    assert first["status"] == "pending"
    assert first["pipeline_name"] == "demo"
    assert {"started_at", "duration", "steps_total", "path", "created_at"} <= set(first)


def test_list_filters(store: Store, make_run: Callable[..., Run]) -> None:
    ok = make_run(pipeline_name="build")
    ok.finish("success")
    bad = make_run(pipeline_name="build")
    bad.finish("failed")
    other = make_run(pipeline_name="deploy")
    assert [e["execution_id"] for e in store.list_executions(pipeline="build")] == [bad.id, ok.id]
    assert [e["execution_id"] for e in store.list_executions(status="failed")] == [bad.id]
    assert [e["execution_id"] for e in store.list_executions(status="pending")] == [other.id]
    assert store.list_executions(status="success", pipeline="deploy") == []
    with pytest.raises(BadRequest):
        store.list_executions(status="bogus")
    with pytest.raises(NotFound):
        store.list_executions(before="nope")


def test_delete(store: Store, make_run: Callable[..., Run]) -> None:
    running = make_run()
    running.execution("running")
    running.log("a", ["x"] * 10)
    running.commit()
    with pytest.raises(Conflict, match="running"):
        store.delete_execution(running.id)
    with pytest.raises(NotFound):
        store.delete_execution("nope")
    running.finish("cancelled")
    store.delete_execution(running.id)
    with pytest.raises(NotFound):
        store.snapshot(running.id)
    with pytest.raises(NotFound):
        store.delete_execution(running.id)
    assert store.count_executions() == 0
    assert store.count_rows() == {"executions": 0, "steps": 0, "events": 0}


def test_stats(store: Store, make_run: Callable[..., Run]) -> None:
    empty = store.stats()
    assert empty == {
        "runs": 0,
        "success_rate": None,
        "p50_duration": None,
        "p95_duration": None,
        "recent": [],
    }
    for i, status in enumerate(["success", "success", "failed", "success", "cancelled"]):
        make_run(pipeline_name="build").finish(status, duration=float(i + 1))
    make_run(pipeline_name="other").finish("success", duration=100.0)
    make_run(pipeline_name="build")  # still pending: not a finished run
    stats = store.stats(pipeline="build")
    assert stats["runs"] == 5
    assert stats["success_rate"] == pytest.approx(0.6)
    assert stats["p50_duration"] == pytest.approx(3.0)
    assert stats["p95_duration"] == pytest.approx(4.8)
    assert [r["duration"] for r in stats["recent"]] == [5.0, 4.0, 3.0, 2.0, 1.0]
    assert stats["recent"][0]["status"] == "cancelled"
    assert set(stats["recent"][0]) == {"execution_id", "status", "duration", "started_at"}
    assert store.stats()["runs"] == 6


def test_retention(store: Store, make_run: Callable[..., Run]) -> None:
    day = 86400.0
    now = time.time()
    old = [make_run(created_at=now - 10 * day) for _ in range(3)]
    for run in old:
        run.log("a", ["old"] * 5)
        run.finish("success")
    old_running = make_run(created_at=now - 10 * day)
    recent = [make_run(created_at=now - 4 + i) for i in range(4)]
    for run in recent:
        run.finish("failed")

    assert store.apply_retention(days=None, max_executions=None) == 0
    assert store.apply_retention(days=7, max_executions=None) == 3
    remaining = {e["execution_id"] for e in store.list_executions()}
    assert remaining == {old_running.id, *(r.id for r in recent)}
    # Beyond the newest N: only finished ones go; the old active execution stays.
    assert store.apply_retention(days=None, max_executions=2) == 2
    remaining = {e["execution_id"] for e in store.list_executions()}
    assert remaining == {old_running.id, recent[2].id, recent[3].id}
    assert store.apply_retention(days=None, max_executions=0) == 2
    assert [e["execution_id"] for e in store.list_executions()] == [old_running.id]
    rows = store.count_rows()
    assert rows["executions"] == 1
    assert rows["steps"] == 2
    assert rows["events"] == 0
