"""Process-tree plumbing, the one place that kills processes: exit watching, group and
descendant killing, and sweeps of the processes tagged with a step's ids.

Each step runs as the leader of its own session, so its process group holds the whole
tree unless a descendant calls setsid() itself; those are found with psutil before any
signal is sent (afterwards they may already be re-parented to init and invisible). What
escaped anyway (a double fork, `setsid cmd &`) still carries the step's environment:
`ANSFLOW_EXECUTION_ID`, `ANSFLOW_STEP_ID` and `ANSFLOW_ATTEMPT` tag it, and a sweep kills
every process with a finished attempt's tag (recovery does the same per execution).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

import psutil

#: (execution id, step id, attempt) as a step's environment carries them.
Tag = tuple[str, str, str]
_TAG_NAMES = (b"ANSFLOW_EXECUTION_ID", b"ANSFLOW_STEP_ID", b"ANSFLOW_ATTEMPT")
#: Up to this many new pids are probed one by one; beyond, /proc is listed once.
PROBE_MAX = 512
#: Attempts older than this are swept with a full listing of /proc: pids wrap around.
PROBE_WINDOW = 1.0


class FdReaders(Protocol):
    """Watches descriptors for reading on the running loop (`add_reader` by default)."""

    def add(self, fd: int, callback: Callable[[], None]) -> None:
        """Call `callback` whenever `fd` is readable."""

    def remove(self, fd: int) -> None:
        """Stop watching `fd`."""


def watch_exit(
    pid: int, on_reaped: Callable[[int], None] | None = None, readers: FdReaders | None = None
) -> asyncio.Future[int]:
    """A future resolved with the exit code of child `pid` (negative: killed by signal);
    `on_reaped(pid)` runs right after the reap, before anything can reuse the pid.

    We reap the child ourselves instead of using asyncio's subprocess transport: in
    Python 3.11 `Process.wait()` also waits for the pipes to close, which never happens
    while a background grandchild keeps them open.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[int] = loop.create_future()
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        _watch_with_thread(loop, pid, future, on_reaped)
        return future

    def on_ready() -> None:
        if readers is None:
            loop.remove_reader(pidfd)
        else:
            readers.remove(pidfd)
        os.close(pidfd)
        code = _reap(pid, block=False)
        if code is None:  # spurious wake-up; should not happen with a pidfd
            _watch_with_thread(loop, pid, future, on_reaped)
            return
        if on_reaped is not None:
            on_reaped(pid)
        if not future.done():
            future.set_result(code)

    if readers is None:
        loop.add_reader(pidfd, on_ready)
    else:
        readers.add(pidfd, on_ready)
    return future


def _watch_with_thread(
    loop: asyncio.AbstractEventLoop,
    pid: int,
    future: asyncio.Future[int],
    on_reaped: Callable[[int], None] | None,
) -> None:
    """Fallback without pidfd (old kernels, other Unixes): one blocking waitpid thread."""

    def run() -> None:
        code = _reap(pid, block=True)
        loop.call_soon_threadsafe(_resolve, future, -1 if code is None else code)

    def _resolve(future: asyncio.Future[int], code: int) -> None:
        # Until here a sweep still skips the pid as our leader; a new process could only
        # take it over after the whole pid space wrapped around meanwhile.
        if on_reaped is not None:
            on_reaped(pid)
        if not future.done():
            future.set_result(code)

    threading.Thread(target=run, name=f"ansflow-wait-{pid}", daemon=True).start()


def _reap(pid: int, *, block: bool) -> int | None:
    try:
        done, status = os.waitpid(pid, 0 if block else os.WNOHANG)
    except ChildProcessError:
        return -1  # reaped by someone else; the code is lost
    if done == 0:
        return None
    return os.waitstatus_to_exitcode(status)


def descendants(pid: int) -> list[psutil.Process]:
    """Every live descendant of `pid` (empty when it is gone)."""
    try:
        children: list[psutil.Process] = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []
    return children


def signal_group(pgid: int, sig: int) -> bool:
    """Send `sig` to a process group; False when the group no longer exists."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True


def signal_process(pid: int, sig: int) -> bool:
    """Send `sig` to one process; False when it no longer exists (or is not ours)."""
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def group_alive(pgid: int) -> bool:
    """True while any process that is not a zombie is in the group."""
    if not signal_group(pgid, 0):
        return False
    # kill() reaches zombies too. A step's children orphaned by the kill wait for their
    # new parent to reap them: at once under a real init, but a container's PID 1 (or a
    # subreaper) may reap late or never, and the group would look alive for the whole
    # kill grace. So look at the members' states (Linux /proc; elsewhere trust kill()).
    try:
        names = os.listdir("/proc")
    except OSError:
        return True
    for name in names:
        if not name.isdigit():
            continue
        try:
            stat = _read_all(f"/proc/{name}/stat")
        except OSError:
            continue  # gone meanwhile
        fields = stat[stat.rfind(b")") + 2 :].split()  # state, ppid, pgrp, ...
        if len(fields) > 2 and fields[2] == b"%d" % pgid and fields[0] != b"Z":
            return True
    return False


def _outsiders(procs: list[psutil.Process], pgid: int) -> list[psutil.Process]:
    """The live, non-zombie processes of `procs` that are not in group `pgid`."""
    found = []
    for proc in procs:
        with contextlib.suppress(psutil.Error, OSError):
            if proc.status() != psutil.STATUS_ZOMBIE and os.getpgid(proc.pid) != pgid:
                found.append(proc)
    return found


def _signal_all(procs: list[psutil.Process], sig: int) -> None:
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(sig)  # psutil refuses if the pid was reused


def freeze_tree(pid: int, pgid: int) -> list[psutil.Process]:
    """SIGSTOP the group and every descendant that left it; returns those outsiders.

    Stopping first closes the race where a process forks and calls setsid() between our
    look at the tree and the signal; stopped parents also keep escaped children from being
    re-parented to init, where we could no longer find them.
    """
    signal_group(pgid, signal.SIGSTOP)
    outsiders: dict[int, psutil.Process] = {}
    for _ in range(5):  # until no new outsider shows up (each round stops the new ones)
        new = [p for p in _outsiders(descendants(pid), pgid) if p.pid not in outsiders]
        if not new:
            break
        _signal_all(new, signal.SIGSTOP)
        outsiders.update((p.pid, p) for p in new)
    return list(outsiders.values())


async def kill_tree(
    pid: int, pgid: int, grace: float, exited: asyncio.Future[int] | None = None
) -> None:
    """SIGTERM the group and its escaped descendants, SIGKILL what is left after `grace`."""
    # Once the leader is reaped its pid may be reused: only look for descendants before.
    escaped = freeze_tree(pid, pgid) if exited is None or not exited.done() else []
    signal_group(pgid, signal.SIGTERM)
    _signal_all(escaped, signal.SIGTERM)
    signal_group(pgid, signal.SIGCONT)  # stopped processes only act on SIGTERM once resumed
    _signal_all(escaped, signal.SIGCONT)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(0.0, grace)
    # Poll: a group has no wait primitive, and the grace period is short anyway.
    next_scan = 0.0
    while loop.time() < deadline:
        leader_gone = exited is None or exited.done()
        if leader_gone and not _any_running(escaped):
            if not signal_group(pgid, 0):
                return
            # Only zombies left? That takes a /proc scan (~1 ms per 100 processes): at most
            # five a second, not one per poll.
            if loop.time() >= next_scan:
                next_scan = loop.time() + 0.2
                if not group_alive(pgid):
                    return
        await asyncio.sleep(0.02)
    signal_group(pgid, signal.SIGKILL)
    _signal_all(escaped, signal.SIGKILL)


def _any_running(procs: list[psutil.Process]) -> bool:
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                return True
    return False


# -- sweeps of tagged processes ---------------------------------------------------------


def process_tag(pid: int) -> Tag | None:
    """The step tag in the environment of `pid` (None: untagged, gone or not readable)."""
    try:
        # /proc/PID/environ directly: cheap, and a miss on processes we may not read.
        data = _read_all(f"/proc/{pid}/environ")
    except OSError:
        return None
    if b"ANSFLOW_EXECUTION_ID=" not in data:
        return None
    data = b"\0" + data  # every variable now starts after a NUL
    execution, step, attempt = (_variable(data, name) for name in _TAG_NAMES)
    return execution, step, attempt


def _variable(environ: bytes, name: bytes) -> str:
    """The value of `name` in NUL-separated `environ` ('' when unset; the last one wins,
    as in a dict built from it)."""
    key = b"\0" + name + b"="
    start = environ.rfind(key)
    if start < 0:
        return ""
    start += len(key)
    end = environ.find(b"\0", start)
    return environ[start : end if end >= 0 else len(environ)].decode("utf-8", "replace")


def _read_all(path: str) -> bytes:
    """The whole file, with raw os calls (a sweep reads a few per finished attempt)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        parts = [os.read(fd, 65536)]
        while parts[-1]:
            parts.append(os.read(fd, 65536))
    finally:
        os.close(fd)
    return b"".join(parts)


def kill_tagged(pids: Iterable[int], wanted: Callable[[Tag], bool]) -> int:
    """SIGKILL each process of `pids` whose tag is `wanted`; returns how many."""
    me = os.getpid()  # we may descend from a step ourselves (ansflow run inside a step)
    killed = 0
    for pid in pids:
        if pid == me:
            continue
        tag = process_tag(pid)  # most pids are gone or untagged: one failed open or read
        if tag is None or not wanted(tag):
            continue
        killed += _kill_if_tagged(pid, wanted)
    return killed


def _kill_if_tagged(pid: int, wanted: Callable[[Tag], bool]) -> int:
    """SIGKILL `pid` if, seen through a pidfd, it still carries a wanted tag (1 if killed).

    The pidfd pins the process: the tag read after opening it is that process's, and the
    signal cannot reach another process that took over the pid meanwhile.
    """
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = -1
    try:
        tag = process_tag(pid)
        if tag is None or not wanted(tag):
            return 0
        if pidfd >= 0:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
        return 1
    except (ProcessLookupError, PermissionError):
        return 0
    finally:
        if pidfd >= 0:
            os.close(pidfd)


def all_pids() -> list[int]:
    """Every pid on this host (as far as /proc shows)."""
    return [p for p in psutil.pids() if p > 0]


def _last_pid() -> int | None:
    """The pid most recently handed out (the last field of /proc/loadavg)."""
    global _loadavg
    try:
        if _loadavg < 0:
            # Kept open: a pread costs a tenth of open/read/close, once per sweep.
            _loadavg = os.open("/proc/loadavg", os.O_RDONLY | os.O_CLOEXEC)
        return int(os.pread(_loadavg, 256, 0).split()[-1])
    except (OSError, ValueError, IndexError):
        return None


_loadavg = -1


def _candidates(lowest: int) -> Iterable[int]:
    """Pids that may belong to processes created after pid `lowest` (0: every pid).

    Pids are handed out in increasing order until they wrap around, so a short attempt's
    descendants have pids above its leader's: probing those few is far cheaper than
    listing /proc (a 200-step DAG must not pay a full scan per step).
    """
    last = _last_pid() if lowest > 0 else None
    if last is None or last < lowest:  # wrapped around (or unknown): look at everything
        return all_pids()
    if last - lowest <= PROBE_MAX:
        return range(lowest + 1, last + 1)
    return [p for p in all_pids() if p > lowest]


def sweep_tags(wanted: Mapping[Tag, int], skip: Callable[[int], bool] | None = None) -> int:
    """Kill every process tagged with one of `wanted` (tag -> lowest pid it may have);
    `skip(pid)`: True for a pid known not to be one of theirs (not probed)."""
    lowest = min(wanted.values(), default=0)
    total = 0
    for _ in range(3):  # a process may fork while we look: look again after each kill
        pids = _candidates(lowest)
        if skip is not None:
            pids = [pid for pid in pids if not skip(pid)]
        killed = kill_tagged(pids, wanted.__contains__)
        total += killed
        if not killed:
            break
    return total


class Sweeper:
    """Kills what finished attempts left running, probing only the pids handed out since.

    With parallel steps most pids handed out since an attempt started are our other
    attempts' leaders: those are not probed. A live one is another attempt's (a leader is
    reaped before its own sweep); a reaped one started after the swept attempt cannot
    have been handed out again without the pids wrapping around, which the probe of a
    short attempt rules out already. What is left is a few probes, done at once: cheaper
    than batching the attempts that end together on the loop.
    """

    def __init__(self) -> None:
        self._leaders: dict[int, float] = {}  # live leader pid -> monotonic start
        self._gone: dict[int, float] = {}  # the same, reaped in the last PROBE_WINDOW

    def started(self, pid: int) -> None:
        """Leader `pid` of an attempt runs (call `reaped(pid)` right after reaping it)."""
        self._leaders[pid] = time.monotonic()

    def reaped(self, pid: int) -> None:
        """Leader `pid` was reaped: its pid may be handed out again."""
        start = self._leaders.pop(pid, None)
        if start is not None:
            self._gone[pid] = start

    def sweep(self, tag: Tag, leader: int, started: float) -> int:
        """Kill the processes tagged `tag` (leader pid, monotonic start of the attempt);
        returns how many."""
        now = time.monotonic()
        for pid, start in list(self._gone.items()):  # oldest first, as reaped
            if start >= now - PROBE_WINDOW:
                break
            del self._gone[pid]
        if now - started >= PROBE_WINDOW:
            # A full listing (pids may have wrapped): only live leaders are skipped.
            return sweep_tags({tag: 0}, self._leaders.__contains__)
        # The leader's own record: what the other leaders' records are compared with.
        since = self._gone.get(leader, started)

        def ours(pid: int) -> bool:
            return pid in self._leaders or self._gone.get(pid, -1.0) >= since

        return sweep_tags({tag: leader}, ours)
