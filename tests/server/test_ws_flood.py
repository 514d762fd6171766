"""Clients that send without reading, or stop reading for a while: replies count against
the same bound as events (close 4008), the close frame still reaches a client that reads
late, and no write is left with an unretrieved exception."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
from typing import Any

import pytest
from _server_helpers import FLOOD, SLEEPY, Api, frames_until_close, stalled_client, wait_for_step
from websockets.exceptions import ConnectionClosed

LATE = 7.0  # seconds the client waits before reading: past Tornado's own 5 s close timeout


@pytest.fixture
def ansflow_config() -> dict[str, Any]:
    """A small per-connection bound and send buffer: the stalled client overflows quickly."""
    return {"ws_queue_events": 20, "ws_send_buffer": 16_384}


async def test_ping_flood_without_reading_is_closed_4008(
    api: Api,
    jp_http_port: int,
    jp_base_url: str,
    jp_auth_header: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, execution = await api("POST", "executions", body={"yaml": SLEEPY})
    eid = execution["execution_id"]
    await wait_for_step(api, eid, "sleep", "running")
    client = await stalled_client(jp_http_port, jp_base_url, eid, jp_auth_header)
    # ~1,200 pongs fill the send buffers here; the rest queue up to the bound of 20. The
    # flood stays short: the server keeps a closed connection only 30 s for a late reader.
    sent = 0
    with contextlib.suppress(ConnectionClosed, TimeoutError):
        for sent in range(1, 5_001):  # noqa: B007
            await asyncio.wait_for(client.send('{"type": "ping"}'), 5)
    await asyncio.sleep(LATE)
    raw, code = await frames_until_close(client, timeout=20)
    frames = [json.loads(frame) for frame in raw]
    assert code == 4008, (sent, len(frames))
    pongs = [f for f in frames if f == {"type": "pong"}]
    assert 0 < len(pongs) < sent  # answered while it could, then cut off
    # The execution itself is untouched; the client resumes with ?since.
    _, snap = await api("GET", "executions", eid)
    assert snap["data"]["execution"]["status"] == "running"
    await api("POST", "executions", eid, "cancel")
    gc.collect()
    await asyncio.sleep(0.1)
    unretrieved = [r for r in caplog.records if "never retrieved" in r.getMessage()]
    assert unretrieved == []


async def test_late_reader_still_gets_the_4008_close_frame(
    api: Api, jp_http_port: int, jp_base_url: str, jp_auth_header: dict[str, str]
) -> None:
    _, execution = await api("POST", "executions", body={"yaml": FLOOD})
    eid = execution["execution_id"]
    client = await stalled_client(jp_http_port, jp_base_url, eid, jp_auth_header)
    await asyncio.sleep(LATE)
    raw, code = await frames_until_close(client, timeout=20)
    frames = [json.loads(frame) for frame in raw]
    assert code == 4008, len(frames)
    assert frames and all(isinstance(f, list) for f in frames)
    logging.getLogger(__name__).info("late reader: %d frames, then 4008", len(frames))
