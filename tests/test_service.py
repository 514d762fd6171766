"""ExecutionManager end to end: real processes, a real SQLite store, replay without gaps."""

from __future__ import annotations

import asyncio
import random
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from ansflow_jupyter.errors import Conflict, NotFound
from ansflow_jupyter.events import Event, EventType, ExecutionStatus, SnapshotBuilder
from ansflow_jupyter.pipeline import load_pipeline
from ansflow_jupyter.service import ExecutionManager
from ansflow_jupyter.store import Store

CHATTY = """\
name: chatty
steps:
  a: {run: "for i in $(seq 1 40); do echo a-$i; sleep 0.005; done"}
  b: {run: "for i in $(seq 1 40); do echo b-$i >&2; sleep 0.007; done"}
  c: {needs: [a, b], run: "seq 1 500"}
"""


def with_manager(tmp_path: Path, body: Callable[[ExecutionManager], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        manager = ExecutionManager(Store(f"sqlite:///{tmp_path / 'store.sqlite'}"))
        await manager.start_up()
        try:
            return await body(manager)
        finally:
            await manager.shutdown()

    return asyncio.run(main())


def spec_of(text: str, tmp_path: Path) -> Any:
    return load_pipeline(textwrap.dedent(text), base_dir=tmp_path)


async def collect(manager: ExecutionManager, execution_id: str, since: int | None) -> list[Event]:
    out: list[Event] = []
    async with await manager.subscribe(execution_id, since) as stream:
        while batch := await stream.next_batch():
            out.extend(batch)
    return out


def test_snapshot_then_live_to_the_end(tmp_path: Path) -> None:
    async def body(manager: ExecutionManager) -> None:
        info = await manager.start(spec_of(CHATTY, tmp_path))
        events = await collect(manager, info["execution_id"], None)
        assert events[0].type is EventType.SNAPSHOT
        needs = {s["step_id"]: s["needs"] for s in events[0].data["steps"]}
        assert needs == {"a": [], "b": [], "c": ["a", "b"]}  # the DAG travels with the snapshot
        seqs = [e.seq for e in events[1:]]
        assert seqs == list(range((events[0].seq or 0) + 1, (events[0].seq or 0) + 1 + len(seqs)))
        assert events[-1].type is EventType.EXECUTION_UPDATE
        assert events[-1].data["status"] == "success"
        assert await manager.wait(info["execution_id"]) is ExecutionStatus.SUCCESS

    with_manager(tmp_path, body)


def test_resuming_at_random_points_loses_and_repeats_nothing(tmp_path: Path) -> None:
    rng = random.Random(20261128)

    async def body(manager: ExecutionManager) -> None:
        info = await manager.start(spec_of(CHATTY, tmp_path))
        execution_id = info["execution_id"]
        seen: list[Event] = []
        last = 0
        while True:  # follow in short sessions, dropping after a random number of batches
            async with await manager.subscribe(execution_id, since=last) as stream:
                for _ in range(rng.randint(1, 4)):
                    batch = await stream.next_batch()
                    if not batch:
                        break
                    seen.extend(batch)
                    last = batch[-1].seq or last
            if (
                seen
                and seen[-1].type is EventType.EXECUTION_UPDATE
                and seen[-1].data["status"] == "success"
            ):
                break
        assert [e.seq for e in seen] == list(range(1, len(seen) + 1))
        lines = [
            ln
            for e in seen
            if e.type is EventType.LOG_UPDATE and e.data["step_id"] == "c"
            for ln in e.data["lines"]
        ]
        assert lines == [str(i) for i in range(1, 501)]
        stored = await manager.logs(execution_id, step="c")
        assert [row["line"] for row in stored] == lines

    with_manager(tmp_path, body)


def test_rerun_failed_only_reuses_what_succeeded(tmp_path: Path) -> None:
    flag = tmp_path / "fixed"
    text = f"""\
        name: flaky
        steps:
          ok: {{run: echo ok}}
          flaky: {{needs: ok, run: "test -f {flag}"}}
          after: {{needs: flaky, run: echo after}}
        """

    async def body(manager: ExecutionManager) -> None:
        first = await manager.start(spec_of(text, tmp_path))
        assert await manager.wait(first["execution_id"]) is ExecutionStatus.FAILED
        flag.write_text("")
        second = await manager.rerun(first["execution_id"], failed_only=True)
        assert await manager.wait(second["execution_id"]) is ExecutionStatus.SUCCESS
        steps = {
            s["step_id"]: s for s in (await manager.snapshot(second["execution_id"])).data["steps"]
        }
        assert steps["ok"]["reason"] == "reused"
        assert steps["ok"]["reused_from"] == first["execution_id"]
        assert steps["flaky"]["reason"] == "exit" and steps["after"]["status"] == "success"

    with_manager(tmp_path, body)


def test_delete_refuses_a_running_execution_and_unknown_ids(tmp_path: Path) -> None:
    async def body(manager: ExecutionManager) -> None:
        info = await manager.start(spec_of("name: s\nsteps:\n  a: {run: sleep 30}\n", tmp_path))
        with pytest.raises(Conflict):
            await manager.delete(info["execution_id"])
        await manager.cancel(info["execution_id"])
        assert await manager.wait(info["execution_id"]) is ExecutionStatus.CANCELLED
        await manager.delete(info["execution_id"])
        with pytest.raises(NotFound):
            await manager.snapshot(info["execution_id"])
        with pytest.raises(NotFound):
            await manager.subscribe("nope")

    with_manager(tmp_path, body)


def test_global_monitor_sees_every_execution(tmp_path: Path) -> None:
    async def body(manager: ExecutionManager) -> None:
        snapshot, sub = await manager.subscribe_all()
        assert snapshot.data == {"executions": []}
        info = await manager.start(spec_of("name: g\nsteps:\n  a: {run: 'true'}\n", tmp_path))
        statuses = []
        with sub:
            async for event in sub:
                statuses.append(event.data["status"])
                if event.data["status"] == "success":
                    break
        assert statuses[0] == "running" and statuses[-1] == "success"
        assert event.execution_id == info["execution_id"]

    with_manager(tmp_path, body)


def test_a_stored_run_keeps_each_attempt_of_a_retried_step(tmp_path: Path) -> None:
    # Reopened later, a view must still say where attempt 2's lines begin and how 1 ended.
    flaky = """\
    name: flaky
    steps:
      a:
        retry: {max: 2, delay: 0.05}
        run: |
          n=$(cat tries 2>/dev/null || echo 0); n=$((n + 1)); echo $n > tries
          echo "try $n"; echo "more $n"
          [ "$n" -ge 3 ] || exit $((n + 4))
    """

    async def body(manager: ExecutionManager) -> None:
        spec = spec_of(flaky, tmp_path)
        info = await manager.start(spec)
        live = await collect(manager, info["execution_id"], 0)
        stored = await manager.snapshot(info["execution_id"])
        (step,) = stored.data["steps"]
        assert (step["status"], step["attempt"], step["log_lines"]) == ("success", 3, 6)
        earlier = step["attempts"]
        assert [(a["attempt"], a["exit_code"], a["log_lines"]) for a in earlier] == [
            (1, 5, 2),
            (2, 6, 4),
        ]
        ends = [a["finished_at"] for a in earlier]
        assert step["started_at"] < ends[0] < ends[1] < step["finished_at"]
        # Folding what was sent live gives the same (the kernel's and the CLI's views).
        builder = SnapshotBuilder({}, [])
        for event in live:
            builder.apply(event)
        assert builder.payload()["steps"][0]["attempts"] == earlier

    with_manager(tmp_path, body)
