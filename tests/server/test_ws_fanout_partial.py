"""Many subscribers of big live frames that the kernel takes only part of at once: the
rest of each frame and everything after it still reach every subscriber, in order, once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from _server_helpers import Api, finished, read_frames

LINES, WIDTH = 30, 50_000
BIG_LINES = f"""\
name: big
steps:
  big:
    shell: python
    run: |
      import time
      time.sleep(1.0)  # every subscriber is following live by now
      for i in range({LINES}):
          print(f"line {{i}} " + "x" * {WIDTH}, flush=True)
          time.sleep(0.005)
"""


@pytest.fixture
def ansflow_config() -> dict[str, Any]:
    """A send buffer far smaller than one frame; a bound no subscriber here reaches."""
    return {"ws_queue_events": 100_000, "ws_send_buffer": 4096}


async def test_frames_larger_than_the_send_buffer_reach_every_subscriber_whole(
    api: Api, jp_ws_fetch: Any
) -> None:
    code, execution = await api("POST", "executions", body={"yaml": BIG_LINES})
    assert code == 201, execution
    eid = execution["execution_id"]

    async def subscriber() -> tuple[list[str], int | None]:
        ws = await jp_ws_fetch("ansflow", "ws", "executions", eid)
        events = await read_frames(ws, finished, timeout=60.0)
        assert await ws.read_message() is None
        lines = [ln for e in events if e["type"] == "log_update" for ln in e["data"]["lines"]]
        return lines, ws.close_code

    results = await asyncio.gather(*(subscriber() for _ in range(8)))
    expected = [f"line {i} " + "x" * WIDTH for i in range(LINES)]
    for lines, close_code in results:
        assert close_code == 1000
        assert lines == expected
