"""Clients that send without reading, or stop reading for a while: replies count against
the same bound as events (close 4008), the close frame still reaches a client that reads
late, and no write is left with an unretrieved exception."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import socket
from typing import Any

import pytest
from _server_helpers import SLEEPY, Api, wait_for_step
from jupyter_server.utils import url_path_join
from test_ws_slow import FLOOD
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

LATE = 7.0  # seconds the client waits before reading: past Tornado's own 5 s close timeout


@pytest.fixture
def ansflow_config() -> dict[str, Any]:
    """A small per-connection bound and send buffer: the stalled client overflows quickly."""
    return {"ws_queue_events": 20, "ws_send_buffer": 16_384}


async def stalled_client(
    port: int, base_url: str, execution_id: str, headers: dict[str, str]
) -> ClientConnection:
    """A client with a tiny receive window and a one-frame queue: TCP back-pressure
    reaches the server as soon as it stops reading."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    path = url_path_join(base_url, "ansflow/ws/executions", execution_id)
    return await connect(
        f"ws://127.0.0.1:{port}{path}",
        sock=sock,
        max_queue=1,
        max_size=None,  # a frame holds all that waited: it may exceed the 1 MiB default
        additional_headers=headers,
        ping_interval=None,
    )


async def read_all(client: ClientConnection) -> tuple[list[Any], int | None]:
    """Every frame left, then the close code the server sent (None: no close frame)."""
    frames: list[Any] = []
    while True:
        try:
            frames.append(json.loads(await asyncio.wait_for(client.recv(), 20)))
        except ConnectionClosed as closed:
            return frames, closed.rcvd.code if closed.rcvd is not None else None


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
    frames, code = await read_all(client)
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
    frames, code = await read_all(client)
    assert code == 4008, len(frames)
    assert frames and all(isinstance(f, list) for f in frames)
    logging.getLogger(__name__).info("late reader: %d frames, then 4008", len(frames))
