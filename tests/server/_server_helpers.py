"""Pipelines and small clients shared by the server tests."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

from jupyter_server.utils import url_path_join
from tornado.httpclient import HTTPResponse
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

Api = Callable[..., Awaitable[tuple[int, Any]]]

SLEEPY = """\
name: sleepy
steps:
  sleep:
    run: |
      echo started
      sleep 60
"""

QUICK = """\
name: quick
steps:
  hello:
    run: |
      for i in 1 2 3; do echo "line $i"; done
  world:
    needs: hello
    run: echo world
"""

# ~13 MB of log in ~200 log_update events of ~64 KB of lines each.
FLOOD_LINES = 120_000
FLOOD = f"""\
name: flood
steps:
  spam:
    shell: python
    run: |
      line = "x" * 100
      for i in range({FLOOD_LINES}):
          print(i, line)
"""

FAILING = """\
name: failing
steps:
  good:
    run: echo good
  bad:
    needs: good
    run: exit 3
"""


def decode(response: HTTPResponse) -> Any:
    """JSON when the answer is JSON, else text."""
    raw = response.body or b""
    if "json" in response.headers.get("Content-Type", ""):
        return json.loads(raw) if raw else None
    return raw.decode()


async def wait_for_status(
    api: Api, execution_id: str, statuses: set[str], timeout: float = 20.0
) -> dict[str, Any]:
    """Poll the snapshot until the execution reaches one of `statuses`."""
    deadline = time.monotonic() + timeout
    while True:
        code, snap = await api("GET", "executions", execution_id)
        assert code == 200, snap
        if snap["data"]["execution"]["status"] in statuses:
            return dict(snap)
        assert time.monotonic() < deadline, snap["data"]["execution"]
        await asyncio.sleep(0.05)


async def wait_for_step(
    api: Api, execution_id: str, step: str, status: str, timeout: float = 20.0
) -> dict[str, Any]:
    """Poll until one step reaches `status`; returns that step."""
    deadline = time.monotonic() + timeout
    while True:
        _, snap = await api("GET", "executions", execution_id)
        steps = {s["step_id"]: s for s in snap["data"]["steps"]}
        if steps.get(step, {}).get("status") == status:
            return dict(steps[step])
        assert time.monotonic() < deadline, steps
        await asyncio.sleep(0.05)


async def read_frames(
    ws: Any, until: Callable[[list[dict[str, Any]]], bool], timeout: float = 20.0
) -> list[dict[str, Any]]:
    """Read frames (JSON lists of envelopes) until `until(all envelopes)` is true."""
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while not until(events):
        left = deadline - time.monotonic()
        assert left > 0, f"timed out; got {[e.get('type') for e in events][-20:]}"
        message = await asyncio.wait_for(ws.read_message(), left)
        assert message is not None, f"closed early: {ws.close_code} {ws.close_reason}"
        frame = json.loads(message)
        assert isinstance(frame, list), frame
        events.extend(frame)
    return events


def finished(events: list[dict[str, Any]]) -> bool:
    """True once a final execution_update arrived."""
    return any(
        e["type"] == "execution_update"
        and e["data"]["status"] in ("success", "failed", "cancelled", "interrupted")
        for e in events
    )


async def stalled_client(
    port: int, base_url: str, execution_id: str, headers: dict[str, str], since: int | None = None
) -> ClientConnection:
    """A client with a tiny receive window and a one-frame queue: TCP back-pressure
    reaches the server as soon as it stops reading, and the server's outbox grows."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    path = url_path_join(base_url, "ansflow/ws/executions", execution_id)
    query = "" if since is None else f"?since={since}"
    return await connect(
        f"ws://127.0.0.1:{port}{path}{query}",
        sock=sock,
        max_queue=1,
        max_size=None,  # a frame holds all that waited: it may exceed the 1 MiB default
        additional_headers=headers,
        ping_interval=None,
    )


async def frames_until_close(
    ws: ClientConnection, timeout: float = 30
) -> tuple[list[bytes], int | None]:
    """Every frame left (raw UTF-8) until the server closes; the close code it sent (None:
    no close frame)."""
    frames: list[bytes] = []
    while True:
        try:
            message = await asyncio.wait_for(ws.recv(), timeout)
        except ConnectionClosed as closed:
            return frames, closed.rcvd.code if closed.rcvd is not None else None
        frames.append(message.encode() if isinstance(message, str) else message)
