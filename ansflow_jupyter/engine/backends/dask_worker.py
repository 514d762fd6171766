"""What runs on a Dask worker: the task that runs one attempt, and the tree kill.

Kept apart from the client side (dask.py) because workers import it by name when they
unpickle a task: it must stay importable without the client's state.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from ..environment import StepEnvironment

READ_SIZE = 64 * 1024

_reaper: Any = None
_reaper_lock = threading.Lock()


class AttemptAlreadyRan(RuntimeError):
    """Raised by a task the scheduler re-ran: its attempt already started once."""


def run_step(  # pragma: no cover - runs on a worker (covered through the cluster tests)
    argv: Sequence[str],
    inherit: bool,
    overrides: Mapping[str, str],
    cwd: str,
    topic: str,
    key: str,
    files: Any = None,
) -> int | None:
    """The task: claim the attempt, run it in its own session, stream its output; with
    `files` (remote.RemoteFiles), stage the needs' artifacts first and upload its own after."""
    from distributed import get_worker

    from .. import remote

    worker = get_worker()
    if not _claim(worker, key):
        raise AttemptAlreadyRan(f"{key} already started on a worker that was lost")

    def send(msg: dict[str, Any]) -> None:
        msg["key"] = key
        worker.log_event(topic, msg)

    # The worker's environment, not the client's: only the overrides travel.
    env = StepEnvironment(inherit, overrides).resolve()
    folder = None
    if files is not None:
        try:
            extra, folder = remote.prepare(files)
            env.update(extra)
        except Exception as exc:  # the step still runs; its log says why files are missing
            message = f"ansflow: warning: artifacts of needs unavailable: {exc}\n".encode()
            send({"kind": "output", "stream": "stderr", "data": message})
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
    except OSError as exc:
        send({"kind": "spawn-error", "message": f"{argv[0]}: {exc.strerror or exc}"})
        return None
    from .procinfo import create_time

    started = create_time(proc.pid)
    reaper = _worker_reaper()
    reaper.watch(proc.pid, proc.pid, started)
    send(
        {
            "kind": "started",
            "pid": proc.pid,
            "host": socket.gethostname(),
            "create_time": started,
            "worker": worker.address,
        }
    )

    def pump(stream: str, fd: int) -> None:
        while chunk := os.read(fd, READ_SIZE):
            send({"kind": "output", "stream": stream, "data": chunk})

    assert proc.stdout is not None and proc.stderr is not None
    readers = [
        threading.Thread(target=pump, args=(name, pipe.fileno()), daemon=True)
        for name, pipe in (("stdout", proc.stdout), ("stderr", proc.stderr))
    ]
    for reader in readers:
        reader.start()
    code = proc.wait()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # what the step left behind dies with it
    reaper.forget(proc.pid)
    for reader in readers:
        reader.join(timeout=2.0)
    result = remote.finish(files, cwd, folder) if files is not None else None
    send({"kind": "exit", "code": code, "files": result})
    return code


def _claim(worker: Any, key: str) -> bool:  # pragma: no cover - runs on a worker
    """Set the attempt's scheduler Event; False when it was set already (a re-run).

    Dask never runs one key twice at the same time, so check-then-set cannot race."""
    from distributed.utils import sync

    async def claim() -> bool:
        if await worker.scheduler.event_is_set(name=key):
            return False
        await worker.scheduler.event_set(name=key)
        return True

    return bool(sync(worker.loop, claim))


def _worker_reaper() -> Any:  # pragma: no cover - runs on a worker
    """The watcher of this worker process (started by its first step)."""
    global _reaper
    with _reaper_lock:
        if _reaper is None:
            from ..reaper import Reaper

            _reaper = Reaper()
        return _reaper


async def kill_step(pid: int, pgid: int, grace: float) -> None:  # pragma: no cover - worker
    """Runs on the worker: the local backend's tree kill (escaped descendants too)."""
    from ...processes import kill_tree

    await kill_tree(pid, pgid, grace)
