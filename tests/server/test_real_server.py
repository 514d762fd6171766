"""One real `jupyter server` process, driven end to end over REST and the websockets client."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import pty
import re
import shutil
import signal
import subprocess
import sys
import termios
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from jupyter_process import free_port, jupyter_process, wait_ready
from websockets.asyncio.client import connect

from ansflow_jupyter.store import Store

REPO = Path(__file__).resolve().parents[2]
TOKEN = "ansflow-e2e-token"
PIPELINE = """\
name: real
steps:
  hello:
    run: for i in $(seq 1 50); do echo "hello $i"; done
  world:
    needs: hello
    run: echo world
"""
SLEEPY = "name: sleepy\nsteps:\n  nap: {run: 'sleep 120'}\n"


@pytest.fixture
def server_env(tmp_path: Path) -> dict[str, str]:
    """An isolated Jupyter environment whose only config is the shipped enable file."""
    config_d = tmp_path / "config-path" / "jupyter_server_config.d"
    config_d.mkdir(parents=True)
    shutil.copy(REPO / "jupyter-config" / "server-config" / "ansflow_jupyter.json", config_d)
    # The other installed extensions only slow the start down here.
    others = {
        "jupyterlab": False,
        "jupyter_lsp": False,
        "notebook_shim": False,
        "jupyter_server_terminals": False,
    }
    (tmp_path / "config-dir").mkdir()
    (tmp_path / "config-dir" / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": others}})
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "ANSFLOW_SERVER"))}
    env.update(
        JUPYTER_CONFIG_DIR=str(tmp_path / "config-dir"),
        JUPYTER_CONFIG_PATH=str(tmp_path / "config-path"),
        JUPYTER_DATA_DIR=str(tmp_path / "data"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTER_PLATFORM_DIRS="1",
        ANSFLOW_DB_URL=f"sqlite:///{tmp_path / 'real.sqlite'}",
    )
    return env


@pytest.fixture
def server(
    server_env: dict[str, str], tmp_path: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A running `jupyter server` in its own process group; its base URL."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "real.yml").write_text(PIPELINE)
    log = tmp_path / "server.log"
    with jupyter_process("server", root=root, env=server_env, token=TOKEN, log=log) as running:
        yield running


def rest(url: str, method: str, route: str, body: Any = None) -> Any:
    """A JSON REST call with the token."""
    request = urllib.request.Request(
        f"{url}ansflow/api/{route}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


async def follow(url: str, execution_id: str) -> list[dict[str, Any]]:
    """Every envelope of one execution over the WebSocket until it ends."""
    ws_url = url.replace("http", "ws", 1) + f"ansflow/ws/executions/{execution_id}?since=0"
    events: list[dict[str, Any]] = []
    async with connect(ws_url, additional_headers={"Authorization": f"token {TOKEN}"}) as ws:
        async for frame in ws:
            events.extend(json.loads(frame))
        assert ws.close_code == 1000
    return events


def sleeping_step(url: str) -> tuple[str, psutil.Process]:
    """Start the SLEEPY pipeline on the server; its execution id and, once it runs, its
    step process."""
    sleepy = rest(url, "POST", "executions", {"yaml": SLEEPY})
    deadline = time.monotonic() + 20
    while True:
        snap = rest(url, "GET", f"executions/{sleepy['execution_id']}")
        step = snap["data"]["steps"][0]
        if step["status"] == "running" and step.get("pid"):
            return sleepy["execution_id"], psutil.Process(step["pid"])
        assert time.monotonic() < deadline, snap
        time.sleep(0.05)


def test_real_server_end_to_end(
    server: tuple[str, subprocess.Popen[bytes]], server_env: dict[str, str]
) -> None:
    url, proc = server
    listed = subprocess.run(
        [sys.executable, "-m", "jupyter", "server", "extension", "list"],
        env=server_env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    output = re.sub(r"\x1b\[[0-9;]*m", "", listed.stdout + listed.stderr)  # no colours
    assert "ansflow_jupyter enabled" in output
    assert "ansflow_jupyter 0.1.0 OK" in output

    assert rest(url, "GET", "pipelines") == [
        {"path": "real.yml", "name": "real", "steps": ["hello", "world"]}
    ]
    execution = rest(url, "POST", "executions", {"path": "real.yml"})
    events = asyncio.run(follow(url, execution["execution_id"]))
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["type"] == "execution_update"
    assert events[-1]["data"]["status"] == "success"
    lines = [x for e in events if e["type"] == "log_update" for x in e["data"]["lines"]]
    assert lines == [f"hello {i}" for i in range(1, 51)] + ["world"]

    # Stopping the server stops its steps: no step process outlives it.
    _, nap = sleeping_step(url)
    os.kill(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)
    nap.wait(timeout=5)
    assert not nap.is_running()


def test_sigint_without_a_terminal_stops_the_runs_as_sigterm_does(
    server: tuple[str, subprocess.Popen[bytes]], server_env: dict[str, str]
) -> None:
    # A service manager, `kill -INT` or an IDE's run console: no terminal, so jupyter_server
    # installs no Ctrl-C handler of its own.
    url, proc = server
    execution_id, nap = sleeping_step(url)
    try:
        os.kill(proc.pid, signal.SIGINT)
        proc.wait(timeout=30)
        try:
            nap.wait(timeout=10)
        except psutil.TimeoutExpired:
            pytest.fail("a step process outlived the server stopped by SIGINT")
    finally:
        with contextlib.suppress(psutil.Error):
            nap.kill()
    store = Store(server_env["ANSFLOW_DB_URL"])
    try:
        stopped = store.get_execution(execution_id)
    finally:
        store.close()
    assert (stopped["status"], stopped["message"]) == ("cancelled", "cancelled")


def test_ctrl_c_twice_at_a_terminal_cancels_the_runs_and_logs_no_traceback(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    # A real terminal: Ctrl-C goes to the server's whole foreground process group.
    root = tmp_path / "root"
    root.mkdir()
    master, slave = pty.openpty()

    def own_terminal() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "server", "--allow-root", "--no-browser",
             f"--port={port}", "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1",
             f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}"],
            cwd=root, env=server_env, stdin=slave, stdout=out, stderr=subprocess.STDOUT,
            preexec_fn=own_terminal,
        )  # fmt: skip
    os.close(slave)
    nap = None
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_ready(f"{url}api/status?token={TOKEN}", proc, log)
        sleepy = rest(url, "POST", "executions", {"yaml": SLEEPY})
        deadline = time.monotonic() + 20
        while True:
            step = rest(url, "GET", f"executions/{sleepy['execution_id']}")["data"]["steps"][0]
            if step["status"] == "running" and step.get("pid"):
                break
            assert time.monotonic() < deadline, step
            time.sleep(0.05)
        nap = psutil.Process(step["pid"])
        os.write(master, b"\x03")
        time.sleep(0.5)
        os.write(master, b"\x03")
        proc.wait(timeout=30)
        nap.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if nap is not None:
            with contextlib.suppress(psutil.Error):
                nap.kill()
        os.close(master)
    store = Store(server_env["ANSFLOW_DB_URL"])
    try:
        assert store.get_execution(sleepy["execution_id"])["status"] == "cancelled"
    finally:
        store.close()
    assert "Traceback" not in log.read_text(errors="replace")
