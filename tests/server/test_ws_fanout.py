"""Many subscribers of one live execution: every one gets the whole stream, once."""

from __future__ import annotations

import asyncio
from typing import Any

from _server_helpers import Api, finished, read_frames

TICKER = """\
name: ticker
steps:
  tick:
    shell: python
    run: |
      import time
      for i in range(40):
          print(f"tick {i}", flush=True)
          time.sleep(0.01)
  after:
    needs: tick
    run: echo done
"""


def events_only(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The envelopes that carry a seq (no heartbeats)."""
    return [e for e in frames if e.get("seq") is not None]


async def test_subscribers_joining_at_any_moment_get_the_same_complete_stream(
    api: Api, jp_ws_fetch: Any
) -> None:
    code, execution = await api("POST", "executions", body={"yaml": TICKER})
    assert code == 201, execution
    eid = execution["execution_id"]

    async def subscriber(index: int) -> tuple[list[dict[str, Any]], int | None]:
        await asyncio.sleep(0.01 * (index % 10))  # joins while the step prints
        params = {"since": "0"} if index % 2 else {}
        ws = await jp_ws_fetch("ansflow", "ws", "executions", eid, params=params)
        events = await read_frames(ws, finished)
        assert await ws.read_message() is None
        return events, ws.close_code

    results = await asyncio.gather(*(subscriber(i) for i in range(30)))
    full = events_only(results[1][0])  # since=0: everything from the start
    assert [e["seq"] for e in full] == list(range(1, len(full) + 1))
    lines = [line for e in full if e["type"] == "log_update" for line in e["data"]["lines"]]
    assert lines.count("tick 0") == 1 and lines.count("tick 39") == 1
    for index, (frames, close_code) in enumerate(results):
        assert close_code == 1000
        events = events_only(frames)
        if index % 2:
            assert events == full
        else:  # a snapshot, then every later event exactly once
            snapshot, live = events[0], events[1:]
            assert snapshot["type"] == "snapshot"
            assert live == [e for e in full if e["seq"] > snapshot["seq"]]
