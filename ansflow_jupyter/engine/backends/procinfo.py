"""What the local backend reads about the processes it starts, at the lowest cost."""

from __future__ import annotations

import os
import time

import psutil


def create_time(pid: int) -> float:
    """`psutil.Process(pid).create_time()` (recovery compares the two), at a fifth of the
    cost on Linux: the same start ticks from /proc/<pid>/stat plus the same boot time."""
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
        try:
            data = os.read(fd, 4096)  # fits: a comm of 16 bytes and 52 numbers
        finally:
            os.close(fd)
        ticks = int(data[data.rindex(b")") + 2 :].split()[19])
    except (OSError, ValueError, IndexError):  # not Linux, or no /proc
        try:
            return float(psutil.Process(pid).create_time())
        except psutil.Error:  # already gone: the best approximation
            return time.time()
    return ticks / _CLOCK_TICKS + _boot_time()


def _boot_time() -> float:
    """psutil.boot_time(), re-read at most once a second (it moves only with clock steps)."""
    global _boot, _boot_read
    now = time.monotonic()
    if now - _boot_read > 1.0:
        _boot, _boot_read = psutil.boot_time(), now
    return _boot


def devnull() -> int:
    """/dev/null opened once for every step's stdin (Popen's DEVNULL opens and closes it
    per process); close-on-exec, so only a step's fd 0 refers to it."""
    global _null
    if _null < 0:
        _null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    return _null


_null = -1
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_boot, _boot_read = 0.0, -1e9
