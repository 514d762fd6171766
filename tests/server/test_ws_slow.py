"""A client that stops reading is cut off with 4008 while another one keeps up."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from _server_helpers import FLOOD, Api, finished, read_frames, stalled_client
from websockets.exceptions import ConnectionClosed


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
    api: Api,
    jp_ws_fetch: Any,
    jp_serverapp: Any,
    jp_http_port: int,
    jp_base_url: str,
    jp_auth_header: dict[str, str],
) -> None:
    manager = jp_serverapp.web_app.settings["ansflow_manager"]
    _, execution = await api("POST", "executions", body={"yaml": FLOOD})
    eid = execution["execution_id"]

    # The stalled client never reads, so TCP back-pressure reaches the server.
    stalled = await stalled_client(jp_http_port, jp_base_url, eid, jp_auth_header)
    fast = await jp_ws_fetch("ansflow", "ws", "executions", eid)
    reader = asyncio.ensure_future(read_frames(fast, finished, timeout=60))

    deadline = time.monotonic() + 60
    while manager.bus.subscriber_count(eid) > 1 and not reader.done():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert manager.bus.subscriber_count(eid) <= 1, "stalled client was never cut off"

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
    assert expected == 120_000
    assert events[-1]["data"]["status"] == "success"
