"""A store the server cannot open (here: read-only): every ansflow route answers JSON 503
with the reason, the server itself keeps running and stops cleanly, nothing is published."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from test_auth import ansflow_routes, concrete, methods_of
from tornado.httpclient import HTTPClientError
from tornado.websocket import WebSocketHandler

from ansflow_jupyter.server import discovery

BEFORE = os.environ.get(discovery.ENV_TOKEN)


@pytest.fixture
def ansflow_db_url(tmp_path: Path) -> str:
    """An existing, empty SQLite file opened read-only: the schema cannot be created."""
    path = tmp_path / "read-only.sqlite"
    path.touch()
    return f"sqlite:///file:{path}?mode=ro&uri=true"


async def test_every_route_answers_503_with_the_reason(
    jp_serverapp: Any, jp_fetch: Any, jp_ws_fetch: Any, jp_base_url: str
) -> None:
    assert os.environ.get(discovery.ENV_TOKEN) == BEFORE  # no kernel discovery published
    checked = 0
    for pattern, handler in ansflow_routes(jp_serverapp):
        parts = concrete(pattern, jp_base_url)
        if issubclass(handler, WebSocketHandler):
            with pytest.raises(HTTPClientError) as info:
                await jp_ws_fetch(*parts)
            assert info.value.code == 503, pattern
            checked += 1
            continue
        for method in methods_of(handler):
            body = "{}" if method in ("POST", "PUT", "PATCH") else None
            response = await jp_fetch(*parts, method=method, body=body, raise_error=False)
            assert response.code == 503, (method, pattern, response.body)
            answer = json.loads(response.body)
            assert "readonly" in answer["message"], answer
            checked += 1
    assert checked == 20
    # Jupyter itself is fine.
    response = await jp_fetch("api", "status")
    assert response.code == 200
    # And the extension stops without an error (pytest-jupyter stops it again: a no-op).
    apps = jp_serverapp.extension_manager.extension_apps["ansflow_jupyter"]
    for app in apps:
        await app.stop_extension()
