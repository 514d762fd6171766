"""A client with a large backlog (a `since` replay, a pause in reading) gets it in frames
of at most FRAME_MAX_BYTES, in order, nothing lost: a browser never parses one huge frame."""

from __future__ import annotations

import json
from typing import Any

import pytest
from _server_helpers import (
    FLOOD,
    FLOOD_LINES,
    Api,
    finished,
    frames_until_close,
    stalled_client,
    wait_for_status,
)

from ansflow_jupyter.server.ws import FRAME_MAX_BYTES


@pytest.fixture
def ansflow_config() -> dict[str, Any]:
    """A bound the paused client never reaches: it must get everything, not a 4008."""
    return {"ws_queue_events": 100_000}


def check_frames(frames: list[bytes]) -> list[dict[str, Any]]:
    """Each frame within the cap (or one event alone); the envelopes, in order."""
    events: list[dict[str, Any]] = []
    for raw in frames:
        frame = json.loads(raw)
        assert isinstance(frame, list)
        assert len(raw) <= FRAME_MAX_BYTES or len(frame) == 1, (len(raw), len(frame))
        events.extend(frame)
    return events


def check_log(events: list[dict[str, Any]], first_seq: int) -> None:
    """Seqs one by one from `first_seq`; every flood line from the first one sent (the
    snapshot may count some already) to the last, once each, in order."""
    numbered = [e["seq"] for e in events if e.get("seq") is not None]
    assert numbered == list(range(first_seq, first_seq + len(numbered)))
    lines = [
        line
        for e in events
        if e["type"] == "log_update" and e["data"]["step_id"] == "spam"
        for line in e["data"]["lines"]
    ]
    start = next(e["data"]["offset"] for e in events if e["type"] == "log_update")
    assert [int(line.split()[0]) for line in lines] == list(range(start, FLOOD_LINES))


async def test_since_replay_of_a_big_log_comes_in_capped_frames(
    api: Api, jp_http_port: int, jp_base_url: str, jp_auth_header: dict[str, str]
) -> None:
    _, execution = await api("POST", "executions", body={"yaml": FLOOD})
    eid = execution["execution_id"]
    await wait_for_status(api, eid, {"success"}, timeout=120)
    ws = await stalled_client(jp_http_port, jp_base_url, eid, jp_auth_header, since=0)
    frames, code = await frames_until_close(ws)
    assert code == 1000
    events = check_frames(frames)
    assert finished(events)
    check_log(events, 1)
    assert next(e for e in events if e["type"] == "log_update")["data"]["offset"] == 0
    # The replay pages hold thousands of events: they were cut, not sent whole.
    assert len(frames) > 13_000_000 // FRAME_MAX_BYTES


async def test_a_paused_reader_gets_its_backlog_in_capped_frames(
    api: Api, jp_http_port: int, jp_base_url: str, jp_auth_header: dict[str, str]
) -> None:
    _, execution = await api("POST", "executions", body={"yaml": FLOOD})
    eid = execution["execution_id"]
    ws = await stalled_client(jp_http_port, jp_base_url, eid, jp_auth_header)
    # Not reading while the step writes: the server's outbox takes the whole backlog.
    await wait_for_status(api, eid, {"success"}, timeout=120)
    frames, code = await frames_until_close(ws)
    assert code == 1000
    events = check_frames(frames)
    assert events[0]["type"] == "snapshot"
    assert finished(events)
    check_log(events[1:], events[0]["seq"] + 1)
