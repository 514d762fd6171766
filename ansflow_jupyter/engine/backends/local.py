"""Run steps as local processes: one session (process group) per attempt."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping
from typing import Any

from ...processes import Sweeper, Tag, kill_tree, signal_group, watch_exit
from ..backend import Backend, OutputHandler, ProcessInfo, SpawnError, StepLaunch, StepProcess
from .procinfo import create_time, devnull
from .readers import Readers

READ_SIZE = 64 * 1024
#: How long the pipes may stay open after the tree is gone while nothing is waiting for
#: the store. Then what the pipe holds is read, and a pipe still open is held by a live
#: process that escaped the group and the sweep: we stop reading it, with a marker line,
#: instead of hanging. Time spent waiting for a slow store never counts: every line the
#: step wrote is read, however long storing takes.
EOF_AFTER_EXIT = 2.0
#: Bytes read from one pipe when giving up on it (what it holds at that moment, bounded
#: against a holder that writes as fast as we read).
FINAL_READ_MAX = 4 * 1024 * 1024
#: Threads that fork/exec when the CPUs are busy. vfork suspends the calling thread until
#: the child has exec'd: ~1 ms on a quiet 2-vCPU VM, 2-10 ms under CPU load, and the loop
#: must meanwhile notice other steps ending (2-3x faster 200-step DAGs under load). The
#: hop to a thread costs CPU (cross-thread wake-ups and GIL hand-offs, ~0.2 ms a step,
#: a third of our CPU per step in the 200-step DAG), so a step is spawned on the loop
#: while spawns there are quick, and in these threads for the next THREAD_SPAWNS after
#: one kept the loop longer than SLOW_SPAWN.
SPAWN_THREADS = 8
SLOW_SPAWN = 0.002
THREAD_SPAWNS = 64

_HOST = socket.gethostname()


class LocalProcess(StepProcess):
    """One attempt running on this machine.

    Its two pipes are read straight from an epoll (`Readers` + `os.read`): no
    transport, stream or task per pipe. A chunk is handed to `on_output` at once; when the
    consumer asks to wait (a full event writer), both pipes stop being read until it is
    done, so the pipe buffers bound memory exactly as an awaited read loop would.
    """

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        pipes: Mapping[int, str],
        create_time: float,
        on_output: OutputHandler,
        sweep: tuple[Sweeper, Tag] | None,
        readers: Readers,
    ) -> None:
        self._popen = popen
        self._sweep = sweep
        self._started = time.monotonic()
        # start_new_session made the child a session and group leader: pgid == pid.
        self._pgid = popen.pid
        self.info = ProcessInfo(popen.pid, popen.pid, _HOST, create_time)
        self._loop = asyncio.get_running_loop()
        self._readers = readers
        self._exited = watch_exit(
            popen.pid, sweep[0].reaped if sweep is not None else None, readers
        )
        self._terminating: asyncio.Future[None] | None = None
        self._on_output = on_output
        self._open = dict(pipes)  # read end -> "stdout" | "stderr", until EOF
        self._consuming: asyncio.Future[Any] | None = None  # a consumer call that waits
        self._error: Exception | None = None  # the consumer failed
        self._drained: asyncio.Future[None] | None = None  # set once nothing is read
        self._code: int | None = None
        self._eof_timer: asyncio.TimerHandle | None = None
        for fd in self._open:
            os.set_blocking(fd, False)
            self._readers.add(fd, functools.partial(self._readable, fd))

    # -- output ---------------------------------------------------------------------

    def _readable(self, fd: int) -> None:
        try:
            chunk = os.read(fd, READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._fail(exc)
            return
        if not chunk:
            self._close(fd)
            return
        waiting = self._on_output(self._open[fd], chunk)
        if waiting is not None:
            self._pause(asyncio.ensure_future(waiting))

    def _pause(self, consuming: asyncio.Future[Any]) -> None:
        """The consumer waits: read neither pipe until it is done (back-pressure)."""
        for fd in self._open:
            self._readers.remove(fd)
        self._consuming = consuming
        consuming.add_done_callback(self._consumed)

    def _consumed(self, task: asyncio.Future[Any]) -> None:
        self._consuming = None
        if not task.cancelled():
            error = task.exception()
            if isinstance(error, Exception):
                self._fail(error)
            elif error is None:
                for fd in self._open:
                    self._readers.add(fd, functools.partial(self._readable, fd))
        self._check_drained()

    def _close(self, fd: int) -> None:
        del self._open[fd]
        self._readers.remove(fd)
        os.close(fd)
        self._check_drained()

    def _close_all(self) -> None:
        for fd in list(self._open):
            self._close(fd)

    def _fail(self, error: Exception) -> None:
        if self._error is None:
            self._error = error
        self._close_all()

    def _check_drained(self) -> None:
        if self._drained is not None and not self._drained.done() and self._idle():
            self._drained.set_result(None)

    def _idle(self) -> bool:
        return not self._open and self._consuming is None

    def _check_eof(self) -> None:
        """The pipes outlived the tree by EOF_AFTER_EXIT: read what they hold, then stop
        reading the ones a live escaped process still holds open (never silently)."""
        if self._consuming is not None:
            # The consumer (the store) is slow, not the pipe: unread lines are still in
            # it. Wait for as long as storing takes.
            self._eof_timer = self._loop.call_later(EOF_AFTER_EXIT, self._check_eof)
            return
        for fd in list(self._open):
            stream = self._open[fd]
            if self._read_available(fd):
                continue  # reached EOF: closed
            self._close(fd)
            note = (
                f"ansflow: stopped reading {stream} {EOF_AFTER_EXIT:g}s after the step ended: "
                "a background process it started still holds it open\n"
            )
            self._hand_over("stderr", note.encode())

    def _read_available(self, fd: int) -> bool:
        """Read what `fd` holds now, ignoring back-pressure (bounded); True at EOF."""
        budget = FINAL_READ_MAX
        while budget > 0:
            try:
                chunk = os.read(fd, READ_SIZE)
            except (BlockingIOError, InterruptedError):
                return False
            except OSError as exc:
                self._fail(exc)
                return True
            if not chunk:
                self._close(fd)
                return True
            budget -= len(chunk)
            self._hand_over(self._open[fd], chunk)
        return False

    def _hand_over(self, stream: str, chunk: bytes) -> None:
        """Give `chunk` to the consumer without pausing (the amount is bounded)."""
        waiting = self._on_output(stream, chunk)
        if asyncio.iscoroutine(waiting):
            waiting.close()  # only a wait for room: nothing is lost by not waiting

    # -- lifecycle ------------------------------------------------------------------

    async def wait(self) -> int:
        """Exit code after the process ended and both pipes reached EOF (or gave up)."""
        if self._code is not None:
            return self._code
        if self._exited.done():
            code = self._exited.result()
        else:
            code = await asyncio.shield(self._exited)
        self._popen.returncode = code  # we reaped it; keep Popen from polling a stale pid
        if self._terminating is not None:
            await asyncio.shield(self._terminating)
        else:
            # Design choice: a step ends with its main process. Whatever it left behind in
            # its group (`cmd &`) is killed, so the pipes reach EOF and nothing outlives the
            # step unnoticed -- like CI runners that clean up orphans after a job.
            signal_group(self._pgid, signal.SIGKILL)
        if self._sweep is not None:
            # What left the group (setsid, double forks) still carries the attempt's tag.
            sweeper, tag = self._sweep
            with contextlib.suppress(Exception):  # a failed sweep must not fail the step
                sweeper.sweep(tag, self._popen.pid, self._started)
        if not self._idle():
            if self._drained is None:
                self._drained = self._loop.create_future()
            self._eof_timer = self._loop.call_later(EOF_AFTER_EXIT, self._check_eof)
            try:
                await asyncio.shield(self._drained)
            finally:
                if self._eof_timer is not None:
                    self._eof_timer.cancel()
        if self._error is not None:
            raise self._error  # the consumer failed (e.g. the event sink)
        self._code = code
        return code

    @property
    def exited(self) -> bool:
        """True once the main process ended (its pipes may still be draining)."""
        return self._exited.done()

    async def terminate(self, grace: float) -> None:
        """SIGTERM the tree, SIGKILL it after `grace` seconds (idempotent)."""
        if self._terminating is None:
            self._terminating = asyncio.ensure_future(
                kill_tree(self._popen.pid, self._pgid, grace, self._exited)
            )
        await asyncio.shield(self._terminating)


class LocalBackend(Backend):
    """Starts each attempt with `subprocess.Popen` in a new session on this machine."""

    def __init__(self) -> None:
        self._resolved: dict[tuple[str, str], str] = {}
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._sweeper = Sweeper()
        self._readers: Readers | None = None  # of the loop the attempts run in
        self._threaded = 0  # spawns left to run in a thread (a spawn on the loop was slow)

    async def start(self, launch: StepLaunch, on_output: OutputHandler) -> StepProcess:
        """Spawn the attempt; SpawnError names the cause (shell or working directory)."""
        # Our own pipes (close-on-exec, so no other child inherits them): Popen only dup2s
        # the write ends onto 1 and 2 and wraps nothing; we read the raw read ends.
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        try:
            err_r, err_w = os.pipe2(os.O_CLOEXEC)
        except BaseException:
            _close((out_r, out_w))
            raise
        pipes = {out_r: "stdout", err_r: "stderr"}
        fds: tuple[int, ...] = (out_w, err_w, out_r, err_r)
        control: tuple[int, ...] = ()
        if launch.control:  # a notebook step's own channel for cells and progress
            try:
                ctl_r, ctl_w = os.pipe2(os.O_CLOEXEC)
            except BaseException:
                _close(fds)
                raise
            pipes[ctl_r] = "control"
            fds, control = (*fds, ctl_r, ctl_w), (ctl_w,)
        if self._threaded <= 0:
            begun = time.perf_counter()
            try:
                popen, started = self._spawn(launch, out_w, err_w, control)
            except BaseException:
                _close(fds)
                raise
            if time.perf_counter() - begun > SLOW_SPAWN:
                self._threaded = THREAD_SPAWNS  # busy CPUs: keep the loop free for a while
        else:
            self._threaded -= 1
            popen, started = await self._spawn_in_thread(launch, fds, control)
        _close((out_w, err_w, *control))
        loop = asyncio.get_running_loop()
        if self._readers is None or self._readers.loop is not loop:
            self._readers = Readers(loop)
        return LocalProcess(
            popen, pipes, started, on_output, self._sweep_tag(launch), self._readers
        )

    async def _spawn_in_thread(
        self, launch: StepLaunch, fds: tuple[int, ...], control: tuple[int, ...]
    ) -> tuple[Popen, float]:
        """`_spawn` in a spawn thread (fds: the pipes' write ends first, then the rest)."""
        out_w, err_w = fds[0], fds[1]
        try:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    SPAWN_THREADS, thread_name_prefix="ansflow-spawn"
                )
            spawning = asyncio.get_running_loop().run_in_executor(
                self._pool, self._spawn, launch, out_w, err_w, control
            )
        except BaseException:
            _close(fds)
            raise
        try:
            return await asyncio.shield(spawning)
        except asyncio.CancelledError:
            # The process may exist already: never leave it untracked. The thread may
            # still use the write ends: close them only once it is done.
            spawning.add_done_callback(lambda done: _kill_spawned(done, fds, self._sweeper))
            raise
        except BaseException:
            _close(fds)
            raise

    def _sweep_tag(self, launch: StepLaunch) -> tuple[Sweeper, Tag] | None:
        """How this attempt's leftovers are found: the ids its environment carries."""
        env = launch.env
        if "ANSFLOW_EXECUTION_ID" not in env or "ANSFLOW_STEP_ID" not in env:
            return None
        tag = (env["ANSFLOW_EXECUTION_ID"], env["ANSFLOW_STEP_ID"], env.get("ANSFLOW_ATTEMPT", ""))
        return self._sweeper, tag

    async def close(self) -> None:
        """Stop the spawn threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None
        if self._readers is not None:
            self._readers.close()

    def _spawn(
        self, launch: StepLaunch, out_w: int, err_w: int, control: tuple[int, ...] = ()
    ) -> tuple[Popen, float]:
        """Fork/exec in a new session and read the start time (on the loop, or in a spawn
        thread when the CPUs are busy: then both may take milliseconds)."""
        argv = list(launch.argv)
        argv[0] = self._executable(argv[0], launch.env)
        env = launch.env
        if control:
            env = {**env, "ANSFLOW_CONTROL_FD": str(control[0])}
        try:
            popen = subprocess.Popen(
                argv,
                stdin=devnull(),
                stdout=out_w,
                stderr=err_w,
                cwd=launch.cwd,
                env=env,
                start_new_session=True,
                close_fds=True,
                pass_fds=control,
            )
        except OSError as exc:
            # Checked only now: a stat per step costs more than this rare failure.
            if not os.path.isdir(launch.cwd):
                raise SpawnError(f"working directory does not exist: {launch.cwd}") from exc
            if isinstance(exc, FileNotFoundError):
                raise SpawnError(f"cannot start {launch.argv[0]!r}: not found") from exc
            raise SpawnError(f"cannot start {launch.argv[0]!r}: {exc.strerror or exc}") from exc
        if self._sweep_tag(launch) is not None:
            # Known as ours from now on, before the loop hears of it: sweeps of attempts
            # ending meanwhile skip it instead of reading its environment.
            self._sweeper.started(popen.pid)
        return popen, create_time(popen.pid)

    def _executable(self, name: str, env: Mapping[str, str]) -> str:
        """Resolve a bare command once per PATH: the child would otherwise try an execve in
        every PATH directory while the spawning thread waits for the exec."""
        if os.sep in name:
            return name
        path = env.get("PATH", os.defpath)
        key = (name, path)
        if key not in self._resolved:
            found = shutil.which(name, path=path)
            if found is None:
                raise SpawnError(f"cannot start {name!r}: not found on PATH")
            self._resolved[key] = found
        return self._resolved[key]


Popen = subprocess.Popen[bytes]


def _close(fds: Iterable[int]) -> None:
    for fd in fds:
        os.close(fd)


def _kill_spawned(
    future: asyncio.Future[tuple[Popen, float]], fds: Iterable[int], sweeper: Sweeper
) -> None:
    _close(fds)
    if future.cancelled() or future.exception() is not None:
        return
    popen, _ = future.result()
    signal_group(popen.pid, signal.SIGKILL)
    popen.wait()  # reap; it was just SIGKILLed, so this returns at once
    sweeper.reaped(popen.pid)
