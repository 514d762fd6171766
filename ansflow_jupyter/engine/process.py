"""Process-tree plumbing for local steps: exit watching and group/descendant killing.

Each step runs as the leader of its own session, so its process group holds the whole
tree unless a descendant calls setsid() itself; those are found with psutil before any
signal is sent (afterwards they may already be re-parented to init and invisible).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading

import psutil


def watch_exit(pid: int) -> asyncio.Future[int]:
    """A future resolved with the exit code of child `pid` (negative: killed by signal).

    We reap the child ourselves instead of using asyncio's subprocess transport: in
    Python 3.11 `Process.wait()` also waits for the pipes to close, which never happens
    while a background grandchild keeps them open.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[int] = loop.create_future()
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        _watch_with_thread(loop, pid, future)
        return future

    def on_ready() -> None:
        loop.remove_reader(pidfd)
        os.close(pidfd)
        code = _reap(pid, block=False)
        if code is None:  # spurious wake-up; should not happen with a pidfd
            _watch_with_thread(loop, pid, future)
        elif not future.done():
            future.set_result(code)

    loop.add_reader(pidfd, on_ready)
    return future


def _watch_with_thread(
    loop: asyncio.AbstractEventLoop, pid: int, future: asyncio.Future[int]
) -> None:
    """Fallback without pidfd (old kernels, other Unixes): one blocking waitpid thread."""

    def run() -> None:
        code = _reap(pid, block=True)
        loop.call_soon_threadsafe(_resolve, future, -1 if code is None else code)

    threading.Thread(target=run, name=f"ansflow-wait-{pid}", daemon=True).start()


def _resolve(future: asyncio.Future[int], code: int) -> None:
    if not future.done():
        future.set_result(code)


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


def group_alive(pgid: int) -> bool:
    """True while any process (zombies excluded, as far as the OS tells) is in the group."""
    return signal_group(pgid, 0)


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
    while loop.time() < deadline:
        leader_gone = exited is None or exited.done()
        if leader_gone and not group_alive(pgid) and not _any_running(escaped):
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
