"""Live WebSockets: snapshot then live, since=N replay, close codes, client messages."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from _server_helpers import (
    QUICK,
    SLEEPY,
    Api,
    finished,
    read_frames,
    wait_for_status,
    wait_for_step,
)
from tornado.httpclient import HTTPClientError

from ansflow_jupyter.events import Event, EventType, heartbeat
from ansflow_jupyter.server.ws import encode_frame

TICKER = """\
name: ticker
steps:
  tick:
    shell: python
    run: |
      import time
      for i in range(30):
          print(f"tick {i}", flush=True)
          time.sleep(0.02)
  after:
    needs: tick
    run: echo done
"""


@pytest.fixture
def ansflow_config() -> dict[str, Any]:
    """Quick heartbeats so an idle connection shows one within the test."""
    return {"kill_grace": 1.0, "heartbeat_interval": 0.3}


def events_only(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The envelopes that carry a seq (no heartbeats)."""
    return [e for e in frames if e.get("seq") is not None]


def seqs(events: list[dict[str, Any]]) -> list[int]:
    """The seqs of the envelopes that carry one."""
    return [e["seq"] for e in events if e.get("seq") is not None]


async def start(api: Api, yaml: str) -> str:
    """Start a pipeline from YAML text; its execution id."""
    code, execution = await api("POST", "executions", body={"yaml": yaml})
    assert code == 201, execution
    return str(execution["execution_id"])


async def test_snapshot_then_live_until_finished(api: Api, jp_ws_fetch: Any) -> None:
    eid = await start(api, TICKER)
    ws = await jp_ws_fetch("ansflow", "ws", "executions", eid)
    events = await read_frames(ws, finished)
    assert events[0]["type"] == "snapshot"
    assert events[0]["execution_id"] == eid
    live = [e for e in events[1:] if e["type"] != "heartbeat"]
    numbers = seqs(live)
    # Nothing missed, nothing twice: seqs continue the snapshot's one by one.
    assert numbers == list(range(events[0]["seq"] + 1, events[0]["seq"] + 1 + len(numbers)))
    lines = [line for e in live if e["type"] == "log_update" for line in e["data"]["lines"]]
    assert [x for x in lines if x.startswith("tick")][-1] == "tick 29"
    assert await ws.read_message() is None
    assert ws.close_code == 1000


async def test_since_replays_without_gap_or_duplicate(api: Api, jp_ws_fetch: Any) -> None:
    eid = await start(api, TICKER)
    ws = await jp_ws_fetch("ansflow", "ws", "executions", eid, params={"since": "0"})
    full = await read_frames(ws, finished)
    ws.close()
    last = max(seqs(full))
    assert seqs(full) == list(range(1, last + 1))
    rng = random.Random(7)
    for since in sorted({rng.randrange(0, last), rng.randrange(0, last), last - 1}):
        ws = await jp_ws_fetch("ansflow", "ws", "executions", eid, params={"since": str(since)})
        again = await read_frames(ws, finished)
        ws.close()
        assert seqs(again) == list(range(since + 1, last + 1))
        # Heartbeats come whenever the step is quiet for a while (its start, too).
        assert events_only(again) == [e for e in events_only(full) if e["seq"] > since]


async def test_since_while_running_then_live(api: Api, jp_ws_fetch: Any) -> None:
    eid = await start(api, TICKER)
    await wait_for_step(api, eid, "tick", "running")
    ws = await jp_ws_fetch("ansflow", "ws", "executions", eid, params={"since": "2"})
    events = await read_frames(ws, finished)
    numbers = seqs(events)
    assert numbers == list(range(3, numbers[-1] + 1))


async def test_unknown_execution_closes_4004(jp_ws_fetch: Any) -> None:
    ws = await jp_ws_fetch("ansflow", "ws", "executions", "no-such-id")
    assert await ws.read_message() is None
    assert ws.close_code == 4004
    assert "no-such-id" in (ws.close_reason or "")


@pytest.mark.parametrize("since", ["abc", "-1", "1.5"])
async def test_bad_since_is_refused_at_handshake(api: Api, jp_ws_fetch: Any, since: str) -> None:
    eid = await start(api, QUICK)
    with pytest.raises(HTTPClientError) as info:
        await jp_ws_fetch("ansflow", "ws", "executions", eid, params={"since": since})
    assert info.value.code == 400


async def test_cancel_message_heartbeat_ping_and_garbage(api: Api, jp_ws_fetch: Any) -> None:
    eid = await start(api, SLEEPY)
    await wait_for_step(api, eid, "sleep", "running")
    ws = await jp_ws_fetch("ansflow", "ws", "executions", eid)
    await read_frames(ws, lambda ev: any(e["type"] == "heartbeat" for e in ev))

    replies: list[dict[str, Any]] = []

    async def reply() -> dict[str, Any]:
        while True:
            frame = json.loads(await ws.read_message())
            if isinstance(frame, dict):
                return dict(frame)

    for garbage in ["not json", "[1, 2]", '{"type": "explode"}', "x" * 100_000]:
        await ws.write_message(garbage)
        replies.append(await reply())
    assert [r["type"] for r in replies] == ["error"] * 4
    assert "JSON" in replies[0]["message"]
    assert "too large" in replies[3]["message"]
    await ws.write_message(json.dumps({"type": "ping"}))
    assert await reply() == {"type": "pong"}
    await ws.write_message(json.dumps({"type": "cancel"}))
    assert await reply() == {"type": "ack", "for": "cancel"}
    events = await read_frames(ws, finished)
    assert events[-1]["data"]["status"] == "cancelled"
    await wait_for_status(api, eid, {"cancelled"})


async def test_global_monitor_snapshot_then_updates(api: Api, jp_ws_fetch: Any) -> None:
    before = await start(api, QUICK)
    await wait_for_status(api, before, {"success"})
    ws = await jp_ws_fetch("ansflow", "ws", "executions")
    (snapshot,) = json.loads(await ws.read_message())
    assert snapshot["type"] == "snapshot"
    assert [e["execution_id"] for e in snapshot["data"]["executions"]] == [before]
    eid = await start(api, QUICK)
    events = await read_frames(
        ws, lambda ev: any(e["execution_id"] == eid and finished([e]) for e in ev)
    )
    updates = [e for e in events if e["type"] != "heartbeat"]
    assert {e["type"] for e in updates} == {"execution_update"}
    assert {e["execution_id"] for e in updates} == {eid}
    ws.close()


def test_a_batch_is_encoded_once_for_every_subscriber() -> None:
    batch = [
        Event(
            EventType.LOG_UPDATE,
            "e1",
            7,
            {"step_id": "a", "stream": "stdout", "offset": 0, "lines": ["x"], "ts": [1.0]},
        ),
        Event(EventType.STEP_UPDATE, "e1", 8, {"step_id": "a", "status": "success"}),
    ]
    first = encode_frame(batch)
    assert encode_frame(list(batch)) is first
    assert json.loads(first) == [event.to_dict() for event in batch]
    beat = encode_frame([heartbeat("e1")])
    assert json.loads(beat)[0]["type"] == "heartbeat"
