"""A real Dask cluster for fault tests: `dask scheduler` and `dask worker --no-nanny` processes
on loopback ports, so a worker can be killed with SIGKILL and stays dead."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

DASK = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
WORKER = [sys.executable, "-m", "distributed.cli.dask_worker"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """One scheduler; workers are added (and killed) by the tests."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.address = f"tcp://127.0.0.1:{free_port()}"
        self.procs: list[subprocess.Popen[bytes]] = []
        port = self.address.rsplit(":", 1)[1]
        self.scheduler = self._spawn(
            [
                *DASK,
                "--host",
                "127.0.0.1",
                "--port",
                port,
                "--dashboard-address",
                ":0",
                "--no-show",
            ],
            "scheduler",
            {},
        )
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self._wait_listening(int(self.address.rsplit(":", 1)[1]))

    def _wait_listening(self, port: int) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                if self.scheduler.poll() is not None or time.monotonic() > deadline:
                    log = (self.folder / "scheduler.log").read_text()
                    raise RuntimeError(f"dask scheduler did not start:\n{log}") from None
                time.sleep(0.1)

    def _spawn(self, argv: list[str], name: str, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
        log = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115 - lives with the process
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            start_new_session=True,
            cwd=self.folder,
        )
        self.procs.append(proc)
        return proc

    def add_worker(self, name: str, env: Mapping[str, str] | None = None) -> None:
        """Start a worker without a nanny (a killed worker is not restarted)."""
        argv = [*WORKER, self.address, "--no-nanny", "--nthreads", "4", "--name", name]
        argv += ["--host", "127.0.0.1", "--no-dashboard"]
        self.workers[name] = self._spawn(argv, f"worker-{name}", dict(env or {}))

    def kill(self, pid: int) -> None:
        """kill -9 one process (a worker)."""
        os.kill(pid, signal.SIGKILL)

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
