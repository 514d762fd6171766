"""In-process Jupyter server with the ansflow extension enabled on a tmp store."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _server_helpers import Api, decode
from tornado.httpclient import HTTPResponse


@pytest.fixture
def ansflow_db_url(tmp_path: Path) -> str:
    """A fresh SQLite store for the in-process server."""
    return f"sqlite:///{tmp_path / 'server-store.sqlite'}"


@pytest.fixture
def ansflow_config() -> dict[str, Any]:
    """Extra `AnsFlowApp` traits for one test (override the fixture in a module)."""
    return {"kill_grace": 1.0}


@pytest.fixture
def jp_server_config(ansflow_db_url: str, ansflow_config: dict[str, Any]) -> dict[str, Any]:
    """The in-process Jupyter server with ansflow_jupyter enabled on a tmp store."""
    return {
        "ServerApp": {"jpserver_extensions": {"ansflow_jupyter": True}},
        "AnsFlowApp": {"db_url": ansflow_db_url, **ansflow_config},
    }


@pytest.fixture
def pipelines(jp_root_dir: Path) -> Callable[[str, str], str]:
    """Write a pipeline file into the server root; returns its path relative to root."""

    def write(name: str, text: str) -> str:
        path = jp_root_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return name

    return write


@pytest.fixture
def api(jp_fetch: Any) -> Api:
    """`await api(method, *route, body=..., params=...)` -> (status, parsed JSON or text)."""

    async def call(
        method: str,
        *route: str,
        body: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {"method": method, "raise_error": False}
        if body is not None:
            kwargs["body"] = body if isinstance(body, (str, bytes)) else json.dumps(body)
        elif method in ("POST", "PUT"):
            kwargs["body"] = b""
        if params:
            kwargs["params"] = params
        if headers is not None:
            kwargs["headers"] = headers
        response: HTTPResponse = await jp_fetch("ansflow", "api", *route, **kwargs)
        return response.code, decode(response)

    return call


@pytest.fixture
def jp_serverapp(jp_serverapp: Any, jp_asyncio_loop: Any) -> Any:
    """The server, with its extensions started as `jupyter server` does (pytest-jupyter
    never runs the IOLoop's start hooks): store recovery and background tasks."""
    jp_asyncio_loop.run_until_complete(jp_serverapp.extension_manager.start_all_extensions())
    return jp_serverapp
