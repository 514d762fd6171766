"""Kills the step trees of a process that died: one small watcher per Dask worker process.

A worker killed with SIGKILL cannot clean up, and its steps run in sessions of their own,
so nothing else would stop them. The watcher reads `+ pid pgid create_time` and `- pid`
lines on its stdin; when the stdin reaches EOF (the worker is gone, whatever killed it),
it stops every registered tree that is still the one registered, then exits.

    python -m ansflow_jupyter.engine.reaper
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import threading

import psutil

from ..processes import freeze_tree, signal_group


class Reaper:
    """The worker side: starts the watcher once per process and registers step trees."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None

    def _watcher(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", __name__],
                stdin=subprocess.PIPE,
                start_new_session=True,  # a Ctrl-C aimed at the worker must not stop it first
            )
        return self._proc

    def _send(self, line: str) -> None:
        with self._lock:
            stdin = self._watcher().stdin
            assert stdin is not None
            with contextlib.suppress(OSError):  # a watcher that died is restarted next time
                stdin.write(line.encode())
                stdin.flush()

    def watch(self, pid: int, pgid: int, create_time: float) -> None:
        """Kill this tree if this process dies while it runs."""
        self._send(f"+ {pid} {pgid} {create_time!r}\n")

    def forget(self, pid: int) -> None:
        """The tree ended normally."""
        self._send(f"- {pid}\n")


def main() -> None:
    """The watcher: follow registrations until EOF, then kill what is left."""
    trees: dict[int, tuple[int, float]] = {}
    for raw in sys.stdin.buffer:
        parts = raw.split()
        if len(parts) == 4 and parts[0] == b"+":
            trees[int(parts[1])] = (int(parts[2]), float(parts[3]))
        elif len(parts) == 2 and parts[0] == b"-":
            trees.pop(int(parts[1]), None)
    for pid, (pgid, create_time) in trees.items():
        kill_if_same(pid, pgid, create_time)


def kill_if_same(pid: int, pgid: int, create_time: float) -> None:
    """SIGKILL a step's group and its escaped descendants, unless the pid names another
    process now (a group id cannot be reused while the group has members)."""
    try:
        same = abs(psutil.Process(pid).create_time() - create_time) < 0.01
    except psutil.NoSuchProcess:
        same = None  # the leader is gone; what is left of its group is still ours
    except psutil.Error:
        return
    if same is False:
        return
    escaped = freeze_tree(pid, pgid) if same else []
    signal_group(pgid, signal.SIGKILL)
    for proc in escaped:
        with contextlib.suppress(psutil.Error):
            proc.kill()


if __name__ == "__main__":  # pragma: no cover - runs as the watcher process
    main()
