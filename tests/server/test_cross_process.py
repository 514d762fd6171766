"""Runs of other processes on the server's store: seen live on every socket, cancellable
from the server, and marked `interrupted` once their owner is gone (SQLite and PostgreSQL).

The other process is a real `ansflow run --db URL` subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from _server_helpers import Api, finished, read_frames, wait_for_status

# Quick liveness in this module, for the server and the CLIs alike.
LIVENESS = {"owner_heartbeat": 0.2, "owner_timeout": 1.5}


@pytest.fixture
def ansflow_db_url(store_url: str) -> str:
    """The server and the CLI share one store: SQLite file or PostgreSQL database."""
    return store_url


@pytest.fixture
def ansflow_config() -> dict[str, Any]:
    """Quick owner heartbeats and a short owner timeout."""
    return {"kill_grace": 1.0, **LIVENESS}


@pytest.fixture
def cli_run(store_url: str, tmp_path: Path) -> Iterator[Any]:
    """`cli_run(yaml)` starts `ansflow run --db URL --json` on the server's store."""
    procs: list[subprocess.Popen[str]] = []

    def run(yaml: str) -> subprocess.Popen[str]:
        pipeline = tmp_path / f"p{len(procs)}.yml"
        pipeline.write_text(yaml)
        env = {
            **os.environ,
            "ANSFLOW_OWNER_HEARTBEAT": str(LIVENESS["owner_heartbeat"]),
            "ANSFLOW_OWNER_TIMEOUT": str(LIVENESS["owner_timeout"]),
        }
        command = [sys.executable, "-m", "ansflow_jupyter.cli", "run", "--json"]
        proc = subprocess.Popen(
            [*command, "--db", store_url, str(pipeline)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tmp_path,
            start_new_session=True,
        )
        procs.append(proc)
        return proc

    yield run
    for proc in procs:
        if proc.poll() is None:
            with_children = psutil.Process(proc.pid).children(recursive=True)
            for p in [psutil.Process(proc.pid), *with_children]:
                p.kill()
            proc.wait(10)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()


async def exited(proc: subprocess.Popen[str], timeout: float = 30.0) -> int:
    """Wait for a subprocess without blocking the server's loop."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        assert time.monotonic() < deadline, "the CLI did not exit"
        await asyncio.sleep(0.05)
    return proc.returncode


def updates(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(execution id, status) of every execution_update, in order."""
    return [
        (e["execution_id"], e["data"]["status"]) for e in events if e["type"] == "execution_update"
    ]


def gate(tmp_path: Path) -> str:
    """A pipeline whose step runs until the file `go` appears in tmp_path."""
    return (
        "name: gated\n"
        "steps:\n"
        "  wait:\n"
        f"    run: while [ ! -f {tmp_path / 'go'} ]; do sleep 0.02; done; echo released\n"
    )


async def test_global_monitor_sees_a_cli_run_live(
    jp_ws_fetch: Any, cli_run: Any, tmp_path: Path
) -> None:
    monitor = await jp_ws_fetch("ansflow", "ws", "executions")
    first = json.loads(await monitor.read_message())
    assert first[0]["type"] == "snapshot"
    proc = cli_run(gate(tmp_path))
    seen = await read_frames(monitor, lambda ev: any(s == "running" for _, s in updates(ev)))
    execution_id = updates(seen)[0][0]
    assert proc.poll() is None, "the run must still be going: the update came live"
    (tmp_path / "go").touch()
    seen += await read_frames(monitor, finished)
    assert [s for eid, s in updates(seen) if eid == execution_id][-1] == "success"
    assert await exited(proc) == 0
    monitor.close()


async def test_execution_socket_follows_a_cli_run_and_rest_cancel_stops_it(
    api: Api, jp_ws_fetch: Any, cli_run: Any, tmp_path: Path
) -> None:
    proc = cli_run(
        "name: sleeper\nsteps:\n  nap:\n    run: echo napping; sleep 300\n  after:\n"
        "    needs: nap\n    run: echo never\n"
    )
    assert proc.stdout is not None
    execution_id = json.loads(proc.stdout.readline())["execution_id"]
    ws = await jp_ws_fetch("ansflow", "ws", "executions", execution_id, params={"since": "0"})

    def napping(events: list[dict[str, Any]]) -> bool:
        lines = [line for e in events if e["type"] == "log_update" for line in e["data"]["lines"]]
        return "napping" in lines

    await read_frames(ws, napping)
    code, body = await api("POST", "executions", execution_id, "cancel")
    assert code == 202, body
    events = await read_frames(ws, finished)
    assert updates(events)[-1] == (execution_id, "cancelled")
    assert await exited(proc) == 1
    snapshot = await wait_for_status(api, execution_id, {"cancelled"})
    steps = {s["step_id"]: s["status"] for s in snapshot["data"]["steps"]}
    assert steps == {"nap": "cancelled", "after": "cancelled"} or steps["after"] == "cancelled"
    assert await ws.read_message() is None
    assert ws.close_code == 1000


async def test_a_killed_cli_run_is_marked_interrupted_without_a_restart(
    api: Api, jp_ws_fetch: Any, cli_run: Any, tmp_path: Path
) -> None:
    marker = f"ansflow-orphan-{os.getpid()}-{time.monotonic_ns()}"
    proc = cli_run(f"name: doomed\nsteps:\n  nap:\n    run: echo up; exec -a {marker} sleep 300\n")
    assert proc.stdout is not None
    execution_id = json.loads(proc.stdout.readline())["execution_id"]
    monitor = await jp_ws_fetch("ansflow", "ws", "executions")
    await wait_for_status(api, execution_id, {"running"})
    while not [
        p for p in psutil.process_iter(["cmdline"]) if (p.info["cmdline"] or [""])[0] == marker
    ]:
        await asyncio.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    await exited(proc)
    events = await read_frames(monitor, finished)
    assert updates(events)[-1] == (execution_id, "interrupted")
    leftovers = [
        p for p in psutil.process_iter(["cmdline"]) if (p.info["cmdline"] or [""])[0] == marker
    ]
    assert leftovers == []
    monitor.close()


async def test_a_stalled_owner_is_declared_gone_and_stops_its_run_when_it_wakes(
    api: Api, cli_run: Any, tmp_path: Path
) -> None:
    proc = cli_run(gate(tmp_path))
    assert proc.stdout is not None
    execution_id = json.loads(proc.stdout.readline())["execution_id"]
    await wait_for_status(api, execution_id, {"running"})
    snapshot: dict[str, Any] = {}
    # Alive but silent: only the heartbeat tells. A stop that lands inside one of the
    # owner's write transactions freezes the store's write lock with it (a frozen writer
    # blocks every writer, in SQLite and PostgreSQL alike: see docs/server.md), so such a
    # try lets the owner go on for a moment and stops it again.
    for _ in range(5):
        os.killpg(proc.pid, signal.SIGSTOP)
        try:
            snapshot = await wait_for_status(api, execution_id, {"interrupted"}, timeout=6)
            break
        except AssertionError:
            os.killpg(proc.pid, signal.SIGCONT)
            await asyncio.sleep(1.0)  # it finishes the transaction it was frozen in
        finally:
            os.killpg(proc.pid, signal.SIGCONT)
    assert snapshot, "the stalled owner's run was never marked interrupted"
    assert snapshot["data"]["execution"]["status"] == "interrupted"
    assert await exited(proc) == 1  # it saw its run was declared gone and stopped it
    code, final = await api("GET", "executions", execution_id)
    assert code == 200
    assert final["data"]["execution"]["status"] == "interrupted"


async def test_an_embedded_kernel_run_is_live_on_the_monitor_and_cancelled_by_rest(
    api: Api, jp_ws_fetch: Any, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ansflow_jupyter.kernel.embedded import EmbeddedRuntime

    for name, value in LIVENESS.items():
        monkeypatch.setenv(f"ANSFLOW_{name.upper()}", str(value))
    monitor = await jp_ws_fetch("ansflow", "ws", "executions")
    runtime = await asyncio.to_thread(EmbeddedRuntime, store_url)  # the kernel's own manager
    try:
        info = await asyncio.to_thread(
            runtime.start, yaml="name: kernel\nsteps:\n  nap:\n    run: sleep 300\n"
        )
        execution_id = info["execution_id"]
        await read_frames(monitor, lambda ev: (execution_id, "running") in updates(ev))
        code, _ = await api("POST", "executions", execution_id, "cancel")
        assert code == 202
        events = await read_frames(monitor, finished)
        assert updates(events)[-1] == (execution_id, "cancelled")
        status = await asyncio.to_thread(runtime.wait, execution_id, 30)
        assert status == "cancelled"
    finally:
        await asyncio.to_thread(runtime.close)
    monitor.close()
