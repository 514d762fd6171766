"""The REST client's discovery and error mapping (the server side is tested in tests/server)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from _kernel_helpers import FakeServer

from ansflow_jupyter.errors import Conflict, NotFound
from ansflow_jupyter.kernel.client import ENV_PID, ENV_TOKEN, ENV_URL, ServerClient, discover
from ansflow_jupyter.pipeline import SpecError


def test_discover_without_env_vars(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (ENV_URL, ENV_TOKEN, ENV_PID):
        monkeypatch.delenv(name, raising=False)
    assert discover() is None


def test_discover_with_dead_server_pid(monkeypatch: pytest.MonkeyPatch) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    monkeypatch.setenv(ENV_URL, "http://127.0.0.1:9/")
    monkeypatch.setenv(ENV_PID, str(dead.pid))
    assert discover() is None


def test_discover_with_silent_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_URL, "http://127.0.0.1:9/")  # discard port: nothing listens
    monkeypatch.setenv(ENV_PID, str(os.getpid()))
    assert discover(timeout=0.5) is None


def test_discover_finds_a_live_server(monkeypatch: pytest.MonkeyPatch, fake_server: str) -> None:
    FakeServer.answers[("GET", "/base/ansflow/api/executions")] = (200, {"executions": []})
    monkeypatch.setenv(ENV_URL, fake_server)
    monkeypatch.setenv(ENV_TOKEN, "tok")
    monkeypatch.setenv(ENV_PID, str(os.getpid()))
    client = discover()
    assert client is not None
    assert client.base_path == "/base/"
    assert FakeServer.seen[0]["auth"] == "ansflow-kernel tok"


def test_requests_and_error_mapping(fake_server: str) -> None:
    client = ServerClient(fake_server, "tok")
    FakeServer.answers[("POST", "/base/ansflow/api/executions")] = (
        400,
        {
            "message": "invalid",
            "errors": [{"message": "unknown key", "line": 3, "column": 5, "path": "steps.a.x"}],
        },
    )
    with pytest.raises(SpecError) as info:
        client.start(path="/tmp/p.yml", env={"A": "1"})
    assert str(info.value) == "/tmp/p.yml:3:5: steps.a.x: unknown key"
    assert FakeServer.seen[-1]["body"] == {"path": "/tmp/p.yml", "env": {"A": "1"}}

    with pytest.raises(NotFound, match="no such route"):
        client.snapshot("abc")
    FakeServer.answers[("POST", "/base/ansflow/api/executions/abc/cancel")] = (
        409,
        {"message": "busy"},
    )
    with pytest.raises(Conflict, match="busy"):
        client.cancel("abc")

    FakeServer.answers[("POST", "/base/ansflow/api/executions/abc/rerun")] = (
        201,
        {"execution_id": "new"},
    )
    assert client.rerun("abc", failed_only=True) == {"execution_id": "new"}
    assert FakeServer.seen[-1]["body"] == {"failed_only": True}
    FakeServer.answers[("GET", "/base/ansflow/api/executions/abc/logs")] = (200, [{"line": "x"}])
    assert client.logs("abc", step="s", tail=5) == [{"line": "x"}]
    assert FakeServer.seen[-1]["path"].endswith("logs?step=s&tail=5")
