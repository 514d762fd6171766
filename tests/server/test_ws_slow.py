"""A client that stops reading is cut off with 4008 while another one keeps up."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from _server_helpers import Api, finished, read_frames, stalled_client
from websockets.exceptions import ConnectionClosed

#: 120,000 lines, then more in bursts until the test has seen the stalled client cut off:
#: a run that ended first (its events gathered into few big batches on a busy machine)
#: closed the stalled client with 1000 before it ever overflowed.
FLOOD_UNTIL = """\
name: flood-until
steps:
  spam:
    shell: python
    run: |
      import os, sys, time
      line = "x" * 100
      i = 0
      while i < 120_000 or not os.path.exists({marker!r}):
          print(i, line)
          i += 1
          if i >= 120_000 and i % 500 == 0:
              sys.stdout.flush()
              time.sleep(0.01)
"""


async def drain(client: Any) -> ConnectionClosed:
    """Read every buffered frame; the exception that ends the connection."""
    while True:
        try:
            await asyncio.wait_for(client.recv(), 10)
        except ConnectionClosed as closed:
            return closed


@pytest.fixture
def ansflow_config() -> dict[str, Any]:
    """A small per-connection bound so the stalled client overflows quickly."""
    return {"ws_queue_events": 20}


async def test_stalled_reader_closed_4008_fast_reader_unaffected(
    tmp_path: Path,
    api: Api,
    jp_ws_fetch: Any,
    jp_serverapp: Any,
    jp_http_port: int,
    jp_base_url: str,
    jp_auth_header: dict[str, str],
) -> None:
    manager = jp_serverapp.web_app.settings["ansflow_manager"]
    marker = tmp_path / "cut-off"
    flood = FLOOD_UNTIL.format(marker=str(marker))
    _, execution = await api("POST", "executions", body={"yaml": flood})
    eid = execution["execution_id"]

    # The stalled client never reads, so TCP back-pressure reaches the server.
    stalled = await stalled_client(jp_http_port, jp_base_url, eid, jp_auth_header)
    deadline = time.monotonic() + 60

    def followers() -> set[Any]:
        hub = manager.hubs.get(eid)
        return set(hub.followers) if hub is not None else set()

    while not followers():
        assert time.monotonic() < deadline, "the stalled client never joined"
        await asyncio.sleep(0.01)
    (stalled_following,) = followers()
    fast = await jp_ws_fetch("ansflow", "ws", "executions", eid)
    reader = asyncio.ensure_future(read_frames(fast, finished, timeout=60))

    while stalled_following in followers():
        assert time.monotonic() < deadline, "stalled client was never cut off"
        await asyncio.sleep(0.05)
    marker.touch()  # the step may end now

    # Now read what was buffered: the frames, then the 4008 close.
    closed = await drain(stalled)
    assert closed.rcvd is not None
    assert closed.rcvd.code == 4008

    events = await reader
    # Lines printed before the fast client connected are counted in its snapshot (the
    # client reads them over REST); every later one arrives live, none twice.
    assert events[0]["type"] == "snapshot"
    before = sum(s["log_lines"] for s in events[0]["data"]["steps"])
    expected = before
    for event in events:
        if event["type"] == "log_update":
            assert event["data"]["offset"] == expected  # no gap, no repeat
            expected += len(event["data"]["lines"])
    assert events[-1]["data"]["status"] == "success"
    _, stored = await api("GET", f"executions/{eid}")
    assert expected == stored["data"]["steps"][0]["log_lines"] >= 120_000
