"""A real `jupyter server` or `jupyter lab` in its own process group, for the tests and
the benchmarks that drive one (benchmarks put this folder on sys.path)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def jupyter_process(
    app: str,
    *,
    root: Path,
    env: Mapping[str, str],
    token: str,
    log: Path,
    args: Sequence[str] = (),
    timeout: float = 90,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`jupyter APP` ("server" or "lab") on a free port; yields (base URL, process) once
    `/api/status` answers, and ends its whole process group (kernels, steps) afterwards."""
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter",
                app,
                "--allow-root",
                "--no-browser",
                f"--port={port}",
                "--ServerApp.port_retries=0",
                "--ServerApp.ip=127.0.0.1",
                f"--IdentityProvider.token={token}",
                f"--ServerApp.root_dir={root}",
                *args,
            ],
            cwd=root,
            env=dict(env),
            # No terminal, as under a service manager: a Ctrl-C prompt never waits on it.
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # one killpg ends it with its kernels and steps
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_ready(f"{url}api/status?token={token}", proc, log, timeout)
        yield url, proc
    finally:
        stop_group(proc)


def wait_ready(
    url: str, proc: subprocess.Popen[bytes], log: Path | None = None, timeout: float = 90
) -> None:
    """Poll until the URL answers; the process must stay alive."""
    deadline = time.monotonic() + timeout
    while True:
        tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter exited with {proc.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer in {timeout:.0f} s:\n{tail}") from None
            time.sleep(0.1)


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, SIGKILL what lingers (a step that ignores SIGTERM)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=20)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
