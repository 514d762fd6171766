"""A server opened on a store written by an older release (tests/store/old_stores): the
upgraded runs are listed over REST and replay whole over the WebSocket."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest
from _server_helpers import Api, read_frames

OLD = Path(__file__).parent.parent / "store" / "old_stores"


@pytest.fixture(params=["v2-56d0c97", "v3-1af30c9"])
def ansflow_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The old store, unpacked for the in-process server."""
    path = tmp_path / "old.sqlite"
    path.write_bytes(gzip.decompress((OLD / f"{request.param}.sqlite.gz").read_bytes()))
    return f"sqlite:///{path}"


async def test_old_runs_are_listed_and_replayed(api: Api, jp_ws_fetch: Any) -> None:
    code, runs = await api("GET", "executions")
    assert code == 200, runs
    statuses = {r["pipeline_name"]: r["status"] for r in runs}
    assert statuses == {"ok": "success", "fail": "failed", "mx": "success", "slow": "cancelled"}
    mx = next(r["execution_id"] for r in runs if r["pipeline_name"] == "mx")
    code, snapshot = await api("GET", "executions", mx)
    assert code == 200, snapshot
    last_seq = snapshot["seq"]
    steps = {s["step_id"]: s["status"] for s in snapshot["data"]["steps"]}
    assert steps == {"test[py=3.11]": "success", "test[py=3.12]": "success", "pkg": "success"}
    ws = await jp_ws_fetch("ansflow", "ws", "executions", mx, params={"since": "0"})
    events = await read_frames(ws, lambda got: bool(got) and got[-1]["seq"] == last_seq)
    assert [e["seq"] for e in events] == list(range(1, last_seq + 1))
    lines = sorted(line for e in events if e["type"] == "log_update" for line in e["data"]["lines"])
    assert lines == ["packaging", "testing 3.11", "testing 3.12"]
    ws.close()
