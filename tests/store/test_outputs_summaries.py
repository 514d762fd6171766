"""Outputs on the steps table and summaries in their own table (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ansflow_jupyter.errors import NotFound
from ansflow_jupyter.events import SnapshotBuilder
from ansflow_jupyter.store import Store

Run = Any  # tests/store/conftest.py:Run


def test_outputs_and_summary_size_reach_the_snapshot(
    store: Store, make_run: Callable[..., Run]
) -> None:
    run = make_run(steps=("a", "b"))
    run.execution("running", started_at=1.0)
    run.step("a", "running", started_at=1.0)
    run.step("a", "failed", exit_code=1, reason="exit", outputs={"v": "1"}, summary=10)
    run.step("a", "running", attempt=2, started_at=2.0)
    run.step("a", "success", attempt=2, exit_code=0, reason="exit", outputs={"v": "ü\n2"})
    run.commit()
    steps = {s["step_id"]: s for s in store.snapshot(run.id).data["steps"]}
    assert steps["a"]["outputs"] == {"v": "ü\n2"}
    assert steps["a"]["summary"] == 10  # carried over from attempt 1, as events fold
    assert steps["b"]["outputs"] is None
    first = store.step_attempts(run.id, "a")[0]
    assert (first["attempt"], first["outputs"]) == (1, {"v": "1"})
    builder = SnapshotBuilder(run.initial.data["execution"], run.initial.data["steps"])
    for event in run.events:
        builder.apply(event)
    assert store.snapshot(run.id).data == builder.payload()


def test_summaries_of_latest_attempts_in_pipeline_order(
    store: Store, make_run: Callable[..., Run]
) -> None:
    run = make_run(steps=("a", "b", "c"))
    run.step("b", "running", started_at=1.0)
    run.step("a", "running", started_at=1.0)
    run.commit()
    store.save_summary(run.id, "b", 1, "# B")
    store.save_summary(run.id, "a", 1, "# A1")
    store.save_summary(run.id, "a", 1, "# A1 again")
    assert store.summaries(run.id) == [
        {"step_id": "a", "attempt": 1, "markdown": "# A1 again"},
        {"step_id": "b", "attempt": 1, "markdown": "# B"},
    ]
    run.step("a", "running", attempt=2, started_at=2.0)
    run.commit()
    store.save_summary(run.id, "a", 2, "# A2")
    assert store.summaries(run.id, "a") == [{"step_id": "a", "attempt": 2, "markdown": "# A2"}]
    assert store.summaries(run.id, "c") == []
    with pytest.raises(NotFound, match="step nope"):
        store.summaries(run.id, "nope")
    with pytest.raises(NotFound):
        store.summaries("missing")
    run.finish()
    store.delete_execution(run.id)
    with pytest.raises(NotFound):
        store.summaries(run.id)
    assert store.count_rows()["executions"] == 0
