"""Run steps as local processes: one session (process group) per attempt."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from typing import IO

import psutil

from ..backend import Backend, OutputHandler, ProcessInfo, SpawnError, StepLaunch, StepProcess
from ..process import kill_tree, signal_group, watch_exit

READ_SIZE = 64 * 1024
#: How long the pipes may stay open after the tree is gone (a descendant that escaped the
#: group with setsid and inherited them); then we stop reading instead of hanging.
EOF_AFTER_EXIT = 2.0
#: Threads that fork/exec. Spawning off the loop matters: vfork suspends the calling
#: thread until the child has exec'd, which under CPU load takes milliseconds, and the
#: loop must meanwhile notice other steps ending (2-3x faster 200-step DAGs).
SPAWN_THREADS = 8

_HOST = socket.gethostname()


class LocalProcess(StepProcess):
    """One attempt running on this machine."""

    def __init__(
        self, popen: subprocess.Popen[bytes], create_time: float, on_output: OutputHandler
    ) -> None:
        self._popen = popen
        # start_new_session made the child a session and group leader: pgid == pid.
        self._pgid = popen.pid
        self.info = ProcessInfo(popen.pid, popen.pid, _HOST, create_time)
        self._exited = watch_exit(popen.pid)
        self._terminating: asyncio.Future[None] | None = None
        self._transports: list[asyncio.BaseTransport] = []
        self._readers = [
            asyncio.ensure_future(self._pump(name, pipe, on_output))
            for name, pipe in (("stdout", popen.stdout), ("stderr", popen.stderr))
            if pipe is not None
        ]
        self._code: int | None = None

    async def _pump(self, name: str, pipe: IO[bytes], on_output: OutputHandler) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=READ_SIZE, loop=loop)
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader, loop=loop), pipe
        )
        self._transports.append(transport)
        try:
            while chunk := await reader.read(READ_SIZE):
                await on_output(name, chunk)  # awaited: a slow consumer pauses the pipe
        finally:
            transport.close()

    async def wait(self) -> int:
        """Exit code after the process ended and both pipes reached EOF (or gave up)."""
        if self._code is not None:
            return self._code
        code = await asyncio.shield(self._exited)
        self._popen.returncode = code  # we reaped it; keep Popen from polling a stale pid
        if self._terminating is not None:
            await asyncio.shield(self._terminating)
        else:
            # Design choice: a step ends with its main process. Whatever it left behind in
            # its group (`cmd &`) is killed, so the pipes reach EOF and nothing outlives the
            # step unnoticed -- like CI runners that clean up orphans after a job.
            signal_group(self._pgid, signal.SIGKILL)
        _, pending = await asyncio.wait(self._readers, timeout=EOF_AFTER_EXIT)
        for task in pending:
            task.cancel()
        for transport in self._transports:
            transport.close()
        results = await asyncio.gather(*self._readers, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                raise result  # the consumer failed (e.g. the event sink)
        self._code = code
        return code

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

    async def start(self, launch: StepLaunch, on_output: OutputHandler) -> StepProcess:
        """Spawn the attempt; SpawnError names the cause (shell or working directory)."""
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(
                SPAWN_THREADS, thread_name_prefix="ansflow-spawn"
            )
        spawning = asyncio.get_running_loop().run_in_executor(self._pool, self._spawn, launch)
        try:
            popen, create_time = await asyncio.shield(spawning)
        except asyncio.CancelledError:
            # The process may exist already: never leave it untracked.
            spawning.add_done_callback(_kill_spawned)
            raise
        return LocalProcess(popen, create_time, on_output)

    async def close(self) -> None:
        """Stop the spawn threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None

    def _spawn(self, launch: StepLaunch) -> tuple[subprocess.Popen[bytes], float]:
        """Runs in a spawn thread: check, fork/exec, and read the start time."""
        if not os.path.isdir(launch.cwd):
            raise SpawnError(f"working directory does not exist: {launch.cwd}")
        argv = list(launch.argv)
        argv[0] = self._executable(argv[0], launch.env)
        try:
            popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=launch.cwd,
                env=dict(launch.env),
                start_new_session=True,
                close_fds=True,
            )
        except FileNotFoundError as exc:
            raise SpawnError(f"cannot start {launch.argv[0]!r}: not found") from exc
        except OSError as exc:
            raise SpawnError(f"cannot start {launch.argv[0]!r}: {exc.strerror or exc}") from exc
        try:
            create_time = psutil.Process(popen.pid).create_time()
        except psutil.Error:  # already gone: the best approximation
            create_time = time.time()
        return popen, create_time

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


def _kill_spawned(future: asyncio.Future[tuple[subprocess.Popen[bytes], float]]) -> None:
    if future.cancelled() or future.exception() is not None:
        return
    popen, _ = future.result()
    signal_group(popen.pid, signal.SIGKILL)
    popen.wait()  # reap; it was just SIGKILLed, so this returns at once
    for pipe in (popen.stdout, popen.stderr):
        if pipe is not None:
            pipe.close()
