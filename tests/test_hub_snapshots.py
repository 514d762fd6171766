"""Followers joining a running execution at once share snapshot reads, and each still gets
its snapshot and then every later event exactly once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from test_service import CHATTY, collect, spec_of, with_manager

from ansflow_jupyter.events import EventType
from ansflow_jupyter.service import ExecutionManager


def test_joiners_at_once_share_snapshot_reads_and_miss_nothing(tmp_path: Path) -> None:
    async def body(manager: ExecutionManager) -> None:
        reads = 0
        read = manager.store.snapshot

        def counted(execution_id: str) -> Any:  # the real read, counted
            nonlocal reads
            reads += 1
            return read(execution_id)

        manager.store.snapshot = counted  # type: ignore[method-assign]
        info = await manager.start(spec_of(CHATTY, tmp_path))
        eid = info["execution_id"]

        async def follower(index: int) -> list[Any]:
            await asyncio.sleep(0.02 * (index // 50))  # two waves of 50, while it runs
            return await collect(manager, eid, None)

        results = await asyncio.gather(*(follower(i) for i in range(100)))
        for events in results:
            snapshot, live = events[0], events[1:]
            assert snapshot.type is EventType.SNAPSHOT
            start = (snapshot.seq or 0) + 1
            assert [e.seq for e in live] == list(range(start, start + len(live)))
            assert live[-1].type is EventType.EXECUTION_UPDATE
            assert live[-1].data["status"] == "success"
        assert reads <= 10, f"{reads} snapshot reads for 100 followers"

    with_manager(tmp_path, body)
