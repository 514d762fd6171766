"""Appending events: the projections, snapshots equal to folded events, gap-free replay."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

import pytest

from ansflow_jupyter.errors import Conflict, NotFound
from ansflow_jupyter.events import Event, EventType, SnapshotBuilder, heartbeat
from ansflow_jupyter.store import Store

Run = Any  # tests/store/conftest.py:Run (conftest modules are not importable)


def test_create_execution_is_pending_with_pending_steps(
    store: Store, make_run: Callable[..., Run]
) -> None:
    run = make_run(steps=("a", "b", "c"))
    snap = store.snapshot(run.id)
    assert snap.type is EventType.SNAPSHOT
    assert snap.seq == 0
    assert snap.data == run.initial.data
    execution = snap.data["execution"]
    assert (execution["status"], execution["steps_total"], execution["steps_done"]) == (
        "pending",
        3,
        0,
    )
    assert [(s["step_id"], s["name"], s["status"], s["log_lines"]) for s in snap.data["steps"]] == [
        ("a", "A", "pending", 0),
        ("b", "B", "pending", 0),
        ("c", "C", "pending", 0),
    ]
    info = store.get_execution(run.id)
    assert info["source"] == "name: demo\n"
    assert info["path"] == "demo.yml"
    assert len(info["source_sha256"]) == 64


def test_duplicate_execution_id_is_a_conflict(store: Store, make_run: Callable[..., Run]) -> None:
    run = make_run()
    with pytest.raises(Conflict):
        store.create_execution(run.id, "demo", "src", None, steps=[])


def test_append_updates_execution_steps_and_log_counts(
    store: Store, make_run: Callable[..., Run]
) -> None:
    run = make_run()
    run.execution("running", started_at=10.0, steps_done=0)
    run.step("a", "running", started_at=11.0, pid=123, pgid=123, host="h", create_time=5.0)
    run.log("a", ["one", "two"])
    run.log("a", ["three"], stream="stderr")
    run.step("a", "success", exit_code=0, reason="exit", finished_at=12.0, duration=1.0)
    run.execution("running", steps_done=1)
    run.commit()
    snap = store.snapshot(run.id)
    assert snap.seq == 6 == store.last_seq(run.id)
    assert snap.data["execution"]["status"] == "running"
    assert snap.data["execution"]["started_at"] == 10.0
    assert snap.data["execution"]["steps_done"] == 1
    a, b = snap.data["steps"]
    assert (a["status"], a["exit_code"], a["reason"], a["log_lines"], a["pid"]) == (
        "success",
        0,
        "exit",
        3,
        123,
    )
    assert (b["status"], b["log_lines"]) == ("pending", 0)


def test_each_attempt_keeps_its_own_row(store: Store, make_run: Callable[..., Run]) -> None:
    run = make_run(steps=("a",))
    run.step("a", "running", attempt=1, started_at=1.0)
    run.log("a", ["try 1"])
    run.step("a", "failed", attempt=1, exit_code=3, reason="exit")
    run.commit()
    run.step("a", "running", attempt=2)
    run.log("a", ["try 2"])
    run.step("a", "success", attempt=2, exit_code=0)
    run.step("a", "running", attempt=3)  # two new attempts in one batch
    run.commit()
    (step,) = store.snapshot(run.id).data["steps"]
    assert (step["attempt"], step["status"], step["log_lines"]) == (3, "running", 2)
    attempts = store.step_attempts(run.id, "a")
    assert [{k: a[k] for k in ("attempt", "status", "exit_code")} for a in attempts] == [
        {"attempt": 1, "status": "failed", "exit_code": 3},
        {"attempt": 2, "status": "success", "exit_code": 0},
        {"attempt": 3, "status": "running", "exit_code": 0},  # carried over, as SnapshotBuilder
    ]


def _random_run(run: Run, rng: random.Random, batches: int) -> None:
    """A plausible interleaving of updates and logs for the steps of `run`, in random batches."""
    steps = list(run.offsets)
    attempts = dict.fromkeys(steps, 1)
    run.execution("running", started_at=1.0)
    for _ in range(batches):
        for _ in range(rng.randint(1, 8)):
            step = rng.choice(steps)
            roll = rng.random()
            if roll < 0.6:
                run.log(step, [f"{step}-{rng.random()}" for _ in range(rng.randint(1, 40))])
            elif roll < 0.8:
                run.step(step, "running", attempt=attempts[step], started_at=rng.random())
            elif roll < 0.9:
                run.step(step, "failed", attempt=attempts[step], exit_code=1, reason="exit")
                attempts[step] += 1
            else:
                run.execution("running", steps_done=rng.randint(0, len(steps)))
        run.commit()
    run.execution("failed", finished_at=9.0, duration=8.0, message="failed steps: a")
    run.commit()


def test_snapshot_equals_the_events_folded_by_snapshot_builder(
    store: Store, make_run: Callable[..., Run]
) -> None:
    rng = random.Random(7)
    run = make_run(steps=("a", "b", "c"))
    _random_run(run, rng, batches=40)
    builder = SnapshotBuilder(run.initial.data["execution"], run.initial.data["steps"])
    for event in run.events:
        builder.apply(event)
    snap = store.snapshot(run.id)
    assert snap.seq == builder.seq == len(run.events)
    assert snap.data == builder.payload()
    # Folding the replay from the store gives the same state as folding what was sent.
    replayed = SnapshotBuilder(run.initial.data["execution"], run.initial.data["steps"])
    for event in store.events_since(run.id, 0):
        replayed.apply(event)
    assert replayed.payload() == snap.data


def test_events_since_has_no_gap_and_no_duplicate(
    store: Store, make_run: Callable[..., Run]
) -> None:
    rng = random.Random(11)
    run = make_run()
    _random_run(run, rng, batches=30)
    last = store.last_seq(run.id)
    assert last == len(run.events)
    for _ in range(25):
        since = rng.randint(0, last)
        limit = rng.choice([None, 0, 1, 7, 1000])
        got = store.events_since(run.id, since, limit)
        expected = run.events[since:] if limit is None else run.events[since : since + limit]
        assert [e.seq for e in got] == [e.seq for e in expected]
        assert [(e.type, e.data, e.execution_id) for e in got] == [
            (e.type, e.data, e.execution_id) for e in expected
        ]
        assert [e.ts for e in got] == pytest.approx([e.ts for e in expected])
    assert store.events_since(run.id, last) == []


def test_seq_must_continue_without_gap(store: Store, make_run: Callable[..., Run]) -> None:
    run = make_run()
    run.execution("running")
    run.commit()
    gap = Event(EventType.EXECUTION_UPDATE, run.id, 3, {"status": "running"})
    with pytest.raises(Conflict, match="seq 3 does not follow 1"):
        store.append([gap])
    with pytest.raises(Conflict):
        store.append([Event(EventType.EXECUTION_UPDATE, run.id, 1, {"status": "failed"})])
    # A refused batch changes nothing.
    assert store.last_seq(run.id) == 1
    assert store.snapshot(run.id).data["execution"]["status"] == "running"


def test_heartbeats_are_not_stored(store: Store, make_run: Callable[..., Run]) -> None:
    run = make_run()
    store.append([heartbeat(run.id)])
    assert store.last_seq(run.id) == 0


def test_unknown_execution_is_not_found(store: Store) -> None:
    for call in (
        lambda: store.snapshot("nope"),
        lambda: store.events_since("nope", 0),
        lambda: store.last_seq("nope"),
        lambda: store.get_execution("nope"),
        lambda: store.log_lines("nope"),
        lambda: store.append([Event(EventType.EXECUTION_UPDATE, "nope", 1, {"status": "x"})]),
    ):
        with pytest.raises(NotFound):
            call()


def test_one_store_is_safe_to_share_between_threads(
    store: Store, make_run: Callable[..., Run]
) -> None:
    runs = [make_run(steps=("a",)) for _ in range(4)]
    errors: list[BaseException] = []

    def work(run: Run) -> None:
        try:
            for i in range(40):
                run.log("a", [f"line {i}"])
                run.commit()
                store.snapshot(run.id)
        except BaseException as exc:  # surfaced below, with the thread's traceback lost
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(run,)) for run in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for run in runs:
        assert store.last_seq(run.id) == 40
        assert store.snapshot(run.id).data["steps"][0]["log_lines"] == 40


def test_log_lines_of_a_step_never_announced_create_its_row(
    store: Store, make_run: Callable[..., Run]
) -> None:
    run = make_run(steps=("a",))
    run.log("a", ["x"] * 3)
    run.log("setup", ["y"] * 5)  # e.g. a step the executor added on the fly
    run.commit()
    run.log("setup", ["z"] * 2)
    run.commit()
    steps = {s["step_id"]: s for s in store.snapshot(run.id).data["steps"]}
    assert list(steps) == ["a", "setup"]
    assert steps["a"]["log_lines"] == 3
    assert (steps["setup"]["status"], steps["setup"]["log_lines"]) == ("pending", 7)
