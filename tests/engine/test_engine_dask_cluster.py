"""The Dask backend against a real cluster of worker processes: environments and faults.

`dask scheduler` and `dask worker --no-nanny` run as subprocesses on loopback ports with
Dask's default settings (allowed-failures 3: the scheduler WOULD re-run a task whose
worker died), so what these tests prove comes from our own code.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from _dask_cluster import Cluster
from _engine_helpers import ListSink, run

from ansflow_jupyter.engine import Executor
from ansflow_jupyter.engine.backend import BackendUnavailable
from ansflow_jupyter.engine.backends.dask import DaskBackend
from ansflow_jupyter.events import ExecutionStatus
from ansflow_jupyter.pipeline import load_pipeline

pytest.importorskip("distributed")

ANSFLOW = [sys.executable, "-m", "ansflow_jupyter.cli"]
#: Every worker's own environment: what steps on Dask inherit instead of the client's.
WORKER_ENV = {"WORKER_ONLY": "from-the-worker", "ANSFLOW_SERVER_TOKEN": "worker-side-token"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    started = Cluster(tmp_path_factory.mktemp("dask"))
    try:
        yield started
    finally:
        started.close()


async def connect(cluster: Cluster, workers: int) -> DaskBackend:
    """A backend on the cluster with at least `workers` live workers."""
    alive = [p for p in cluster.workers.values() if p.poll() is None]
    for _ in range(workers - len(alive)):
        cluster.add_worker(f"w-{uuid.uuid4().hex[:6]}", WORKER_ENV)
    backend = DaskBackend(cluster.address)
    await backend.open()
    await backend.client.wait_for_workers(workers, timeout=60)
    return backend


def markers(marker: str) -> list[psutil.Process]:
    """Live processes whose argv[0] is `marker`."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        if (proc.info["cmdline"] or [""])[0] == marker and proc.info["status"] != "zombie":
            found.append(proc)
    return found


async def gone(marker: str) -> list[psutil.Process]:
    """Wait (a little) for every `marker` process to end; the survivors."""
    deadline = time.monotonic() + 10
    while (left := markers(marker)) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return left


async def wait_for_file(path: Path, lines: int = 1) -> list[str]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if path.exists() and len(text := path.read_text().splitlines()) >= lines:  # noqa: ASYNC240
            return text
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} never got {lines} line(s)")


async def worker_of(cluster: Cluster, backend: DaskBackend, step_pid: int) -> tuple[int, str]:
    """(pid, address) of the worker process that started `step_pid`."""
    worker_pid = psutil.Process(step_pid).ppid()
    (name,) = [n for n, proc in cluster.workers.items() if proc.pid == worker_pid]
    workers = (await backend.client.scheduler.identity())["workers"]
    (address,) = [a for a, info in workers.items() if info["name"] == name]
    return worker_pid, address


def spec_of(text: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    return load_pipeline(textwrap.dedent(text), base_dir=tmp_path)


def test_steps_get_the_workers_environment_plus_the_pipelines(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = spec_of(
        """\
        name: env on dask
        env: {FROM_PIPELINE: p}
        steps:
          inherit: {run: "env -0 > inherit.env"}
          clean: {run: "env -0 > clean.env", env-inherit: false}
        """,
        tmp_path,
    )

    async def main() -> ExecutionStatus:
        backend = await connect(cluster, 1)
        monkeypatch.setenv("CLIENT_ONLY", "from-the-client")  # never shipped to a worker
        try:
            return await Executor(spec, "dask-env", backend, ListSink()).run()
        finally:
            await backend.close()

    assert run(main(), timeout=120) is ExecutionStatus.SUCCESS
    seen = {}
    for sid in ("inherit", "clean"):
        pairs = (tmp_path / f"{sid}.env").read_bytes().split(b"\0")
        seen[sid] = dict(p.decode().split("=", 1) for p in pairs if b"=" in p)
    inherit, clean = seen["inherit"], seen["clean"]
    assert inherit["WORKER_ONLY"] == "from-the-worker"
    assert "CLIENT_ONLY" not in inherit
    assert "ANSFLOW_SERVER_TOKEN" not in inherit  # the deny-list applies on the worker too
    assert (inherit["FROM_PIPELINE"], inherit["ANSFLOW_STEP_ID"]) == ("p", "inherit")
    assert "WORKER_ONLY" not in clean and clean["FROM_PIPELINE"] == "p"
    assert {"PATH", "HOME", "ANSFLOW_EXECUTION_ID"} <= set(clean)


VICTIM = """\
name: lost worker
steps:
  victim:
    {retry}
    run: |
      echo "attempt $ANSFLOW_ATTEMPT pid $$" >> runs.txt
      if [ "$ANSFLOW_ATTEMPT" = 1 ]; then
        setsid bash -c 'exec -a {marker} sleep 300' &
        bash -c 'exec -a {marker} sleep 300' &
        echo waiting
        wait
      fi
      echo done
"""


@pytest.mark.parametrize("retry", [False, True], ids=["no-retry", "retry"])
def test_a_killed_worker_fails_the_attempt_and_never_reruns_it(
    cluster: Cluster, tmp_path: Path, retry: bool
) -> None:
    marker = f"ansflow-lost-{uuid.uuid4().hex[:8]}"
    text = VICTIM.format(marker=marker, retry="retry: {max: 1}" if retry else "")
    spec = spec_of(text, tmp_path)
    sink = ListSink()

    async def main() -> tuple[ExecutionStatus, str, list[psutil.Process]]:
        backend = await connect(cluster, 2)  # a second worker the scheduler could re-run on
        try:
            running = asyncio.ensure_future(Executor(spec, "dask-lost", backend, sink).run())
            (first,) = await wait_for_file(tmp_path / "runs.txt")
            while len(markers(marker)) < 2:  # both sleeps started
                await asyncio.sleep(0.05)
            worker_pid, address = await worker_of(cluster, backend, int(first.split()[-1]))
            cluster.kill(worker_pid)
            status = await running
            return status, address, await gone(marker)
        finally:
            await backend.close()

    status, address, survivors = run(main(), timeout=120)
    runs = (tmp_path / "runs.txt").read_text().splitlines()
    final = sink.final("victim")
    assert survivors == []  # the dead worker's steps, setsid'd ones included, were killed
    if retry:
        assert status is ExecutionStatus.SUCCESS
        assert (final["status"], final["attempt"]) == ("success", 2)
        assert [r.split()[1] for r in runs] == ["1", "2"]  # attempt 1 ran exactly once
    else:
        assert status is ExecutionStatus.FAILED
        assert (final["status"], final["reason"], final["attempt"]) == ("failed", "worker-lost", 1)
        assert address in final["message"]
        assert len(runs) == 1  # no silent re-run on the other worker
    assert any(address in line for line in sink.lines("victim", "stderr"))


def test_cancel_kills_setsid_grandchildren_on_the_worker(cluster: Cluster, tmp_path: Path) -> None:
    marker = f"ansflow-cancel-{uuid.uuid4().hex[:8]}"
    spec = spec_of(
        f"""\
        name: cancel on dask
        steps:
          tree:
            run: |
              setsid bash -c 'trap "" TERM; exec -a {marker} sleep 300' &
              bash -c 'exec -a {marker} sleep 300' &
              echo started >> runs.txt
              wait
        """,
        tmp_path,
    )
    sink = ListSink()

    async def main() -> tuple[ExecutionStatus, list[psutil.Process]]:
        backend = await connect(cluster, 1)
        try:
            executor = Executor(spec, "dask-cancel", backend, sink, kill_grace=0.5)
            running = asyncio.ensure_future(executor.run())
            await wait_for_file(tmp_path / "runs.txt")
            while len(markers(marker)) < 2:
                await asyncio.sleep(0.05)
            executor.cancel()
            return await running, await gone(marker)
        finally:
            await backend.close()

    status, survivors = run(main(), timeout=120)
    assert status is ExecutionStatus.CANCELLED
    assert survivors == []
    assert sink.final("tree")["status"] == "cancelled"


def test_an_unreachable_scheduler_fails_at_once() -> None:
    async def main() -> str:
        with pytest.raises(BackendUnavailable) as error:
            await DaskBackend("tcp://127.0.0.1:1").open()
        return str(error.value)

    assert run(main()) == "cannot reach the Dask scheduler at tcp://127.0.0.1:1: Connection refused"


def test_cli_with_an_unreachable_scheduler_exits_2_with_one_line(tmp_path: Path) -> None:
    pipeline = tmp_path / "x.yml"
    pipeline.write_text("name: x\nsteps:\n  a: {run: 'true'}\n")
    result = subprocess.run(
        [
            *ANSFLOW,
            "run",
            "--backend",
            "dask",
            "--dask-address",
            "tcp://127.0.0.1:1",
            str(pipeline),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "ANSFLOW_DB_URL": f"sqlite:///{tmp_path / 'store.sqlite'}"},
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "ansflow: error: cannot reach the Dask scheduler at tcp://127.0.0.1:1: Connection refused"
    ]
