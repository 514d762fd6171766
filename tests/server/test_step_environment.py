"""A step started by the server never sees the server's credentials (real in-process server)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _server_helpers import Api, wait_for_status

from ansflow_jupyter.server import discovery

ENV_STEP = """\
name: env
steps:
  show:
    run: env
"""


@pytest.fixture
def kernelish(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server was itself started from a notebook kernel (the variables it passes on)."""
    monkeypatch.setenv("JPY_PARENT_PID", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TERM", "xterm-color")
    monkeypatch.setenv("SERVER_USER_VARIABLE", "inherited")


@pytest.mark.usefixtures("kernelish")
async def test_a_step_never_sees_the_server_token(
    api: Api,
    pipelines: Callable[..., str],
    jp_serverapp: Any,
    jp_fetch: Any,
    ansflow_db_url: str,
) -> None:
    token = os.environ[discovery.ENV_TOKEN]  # the extension published it for its kernels
    assert len(token) > 20
    pipelines("env.yml", ENV_STEP)
    code, execution = await api("POST", "executions", body={"path": "env.yml"})
    assert code == 201, execution
    eid = execution["execution_id"]
    await wait_for_status(api, eid, {"success"})
    code, logs = await api("GET", "executions", eid, "logs")
    assert code == 200
    names = {line["line"].partition("=")[0] for line in logs["lines"]}
    assert "SERVER_USER_VARIABLE" in names  # the step did print its environment
    assert not any(token in line["line"] for line in logs["lines"])
    leaked = names & {"ANSFLOW_SERVER_TOKEN", "ANSFLOW_SERVER_URL", "ANSFLOW_SERVER_PID"}
    assert not leaked
    assert not names & {"JPY_PARENT_PID", "MPLBACKEND", "FORCE_COLOR", "TERM"}
    assert {"ANSFLOW_EXECUTION_ID", "ANSFLOW_STEP_ID", "ANSFLOW_ATTEMPT"} <= names
    # Nothing of it reached the store either (every table, the raw file).
    store_file = Path(ansflow_db_url.removeprefix("sqlite:///"))
    for path in store_file.parent.glob(store_file.name + "*"):  # the file, -wal, -shm
        assert token.encode() not in path.read_bytes(), path
