"""The shipped OpenAPI document matches the routes; lifecycle jupyter_events are emitted."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import yaml
from _server_helpers import FAILING, QUICK, Api, wait_for_status
from test_auth import ansflow_routes, methods_of
from tornado.websocket import WebSocketHandler

import ansflow_jupyter.server
from ansflow_jupyter.server.app import EVENT_SCHEMA_ID

OPENAPI = Path(ansflow_jupyter.server.__file__).with_name("openapi.yaml")


def route_template(pattern: str, base_url: str) -> str:
    """A tornado route regex as an OpenAPI path template relative to base_url."""
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern).rstrip("$").replace("\\", "")
    assert path.startswith(base_url)
    return "/" + path[len(base_url) :]


async def test_openapi_matches_registered_routes(jp_serverapp: Any, jp_base_url: str) -> None:
    document = yaml.safe_load(OPENAPI.read_text())
    documented = {
        path: sorted(m.upper() for m in item if m in ("get", "post", "delete", "put", "patch"))
        for path, item in document["paths"].items()
    }
    served = {
        route_template(pattern, jp_base_url): sorted(methods_of(handler))
        for pattern, handler in ansflow_routes(jp_serverapp)
        if not issubclass(handler, WebSocketHandler) and not pattern.endswith(".*$")
    }
    assert served == documented
    # Every $ref resolves.
    text = OPENAPI.read_text()
    for ref in set(re.findall(r'\$ref: "#/components/(\w+)/(\w+)"', text)):
        assert ref[1] in document["components"][ref[0]], ref


async def test_lifecycle_events_reach_listeners(jp_serverapp: Any, api: Api) -> None:
    received: list[dict[str, Any]] = []

    async def listener(logger: Any, schema_id: str, data: dict[str, Any]) -> None:
        received.append(dict(data))

    jp_serverapp.event_logger.add_listener(schema_id=EVENT_SCHEMA_ID, listener=listener)
    ids = []
    for text in (QUICK, FAILING):
        _, execution = await api("POST", "executions", body={"yaml": text})
        ids.append(execution["execution_id"])
    for eid, status in zip(ids, ("success", "failed"), strict=True):
        await wait_for_status(api, eid, {status})
    deadline = time.monotonic() + 10
    while len([r for r in received if r["action"] == "finished"]) < 2:
        assert time.monotonic() < deadline, received
        await asyncio.sleep(0.05)
    by_id = {eid: [r for r in received if r["execution_id"] == eid] for eid in ids}
    quick, failing = by_id[ids[0]], by_id[ids[1]]
    assert [r["action"] for r in quick] == ["started", "finished"]
    assert quick[0]["pipeline_name"] == "quick"
    assert quick[1]["status"] == "success"
    assert quick[1]["duration"] >= 0
    assert failing[1]["status"] == "failed"
