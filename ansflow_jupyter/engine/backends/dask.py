"""Run steps on a Dask cluster: one task per attempt, output streamed back as worker events.

Dask has no Pub/Sub any more, so the task streams its output with `worker.log_event` on a
topic of its own and the client follows it with `subscribe_topic`. The task's result
travels on another channel than the events, so the attempt ends on the task's own `exit`
event (sent after the last output chunk), never on the future: no line is lost.
Cancelling a future does not stop a running subprocess, so `terminate` signals the step's
process group on the worker that runs it (`client.run(..., workers=[address])`).
The scheduler must not retry a task whose worker died (a step never runs twice): set
`distributed.scheduler.allowed-failures: 0` on the cluster; `DaskBackend.local()` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ..backend import Backend, OutputHandler, ProcessInfo, SpawnError, StepLaunch, StepProcess

READ_SIZE = 64 * 1024
#: A step whose worker vanished never sends `exit`; after the future fails we wait this
#: long for straggling events, then end the attempt.
STRAGGLERS = 1.0


def run_step(
    argv: Sequence[str], env: Mapping[str, str], cwd: str, topic: str, files: Any = None
) -> int | None:  # pragma: no cover - runs on a worker (covered through the cluster tests)
    """The task: run one attempt in its own session and stream its output as events."""
    from distributed import get_worker

    from .. import remote

    worker = get_worker()
    folder = None
    if files is not None:
        try:
            extra, folder = remote.prepare(files)
            env = {**env, **extra}
        except Exception as exc:  # the step still runs; its log says why files are missing
            message = f"ansflow: warning: artifacts of needs unavailable: {exc}\n".encode()
            worker.log_event(topic, {"kind": "output", "stream": "stderr", "data": message})
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=dict(env),
            start_new_session=True,
        )
    except OSError as exc:
        worker.log_event(topic, {"kind": "spawn-error", "message": f"{argv[0]}: {exc}"})
        return None
    import psutil

    try:
        create_time = psutil.Process(proc.pid).create_time()
    except psutil.Error:
        create_time = time.time()
    worker.log_event(
        topic,
        {
            "kind": "started",
            "pid": proc.pid,
            "host": socket.gethostname(),
            "create_time": create_time,
            "worker": worker.address,
        },
    )

    def pump(stream: str, fd: int) -> None:
        while chunk := os.read(fd, READ_SIZE):
            worker.log_event(topic, {"kind": "output", "stream": stream, "data": chunk})

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
    for reader in readers:
        reader.join(timeout=2.0)
    result = remote.finish(files, cwd, folder) if files is not None else None
    worker.log_event(topic, {"kind": "exit", "code": code, "files": result})
    return code


def signal_step_group(pgid: int, sig: int) -> bool:  # pragma: no cover - runs on a worker
    """Runs on the worker: signal a step's process group; False when it is gone."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


class DaskProcess(StepProcess):
    """One attempt running as a Dask task."""

    def __init__(self, backend: DaskBackend, topic: str, on_output: OutputHandler):
        self._backend = backend
        self._topic = topic
        self._on_output = on_output
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._started = asyncio.get_running_loop().create_future()
        self._worker: str | None = None
        self.info: ProcessInfo | None = None
        self.future: Any = None
        self._code: int | None = None
        self._terminating: asyncio.Task[None] | None = None

    def on_event(self, event: tuple[float, dict[str, Any]]) -> None:
        """Topic handler (on the client's loop): queue the message in arrival order."""
        msg = event[1]
        if msg.get("kind") == "started":
            self._worker = msg["worker"]
            self.info = ProcessInfo(msg["pid"], msg["pid"], msg["host"], msg["create_time"])
        if msg.get("kind") in ("started", "spawn-error") and not self._started.done():
            self._started.set_result(msg)
        self._events.put_nowait(msg)

    async def started(self) -> None:
        """Wait until the process runs; SpawnError if it could not start or the task died."""
        finished = asyncio.ensure_future(self._settled())
        await asyncio.wait([self._started, finished], return_when=asyncio.FIRST_COMPLETED)
        if not self._started.done():
            raise SpawnError(f"the Dask task ended before the step started: {finished.result()}")
        finished.cancel()
        msg = self._started.result()
        if msg["kind"] == "spawn-error":
            raise SpawnError(msg["message"])

    async def _settled(self) -> str:
        try:
            await self.future
        except Exception as exc:  # any task failure ends the attempt; say which
            return f"{type(exc).__name__}: {exc}"
        return "no output"

    async def wait(self) -> int:
        """Hand over output until the task's `exit` event; the exit code."""
        loop = asyncio.get_running_loop()
        task_ended_at: float | None = None
        while self._code is None:
            try:
                msg = await asyncio.wait_for(self._events.get(), timeout=0.25)
            except TimeoutError:
                if self.future.done():  # lost worker or failed task: no `exit` will come
                    task_ended_at = task_ended_at or loop.time()
                    if loop.time() - task_ended_at > STRAGGLERS:
                        self._code = -signal.SIGKILL
                continue
            if msg["kind"] == "output":
                if (wait := self._on_output(msg["stream"], msg["data"])) is not None:
                    await wait
            elif msg["kind"] == "exit":
                self._code = int(msg["code"])
                self.files = msg.get("files")
        self._backend.unsubscribe(self._topic)
        self.future.release()  # the result is not needed; don't keep it on the cluster
        return self._code

    async def terminate(self, grace: float) -> None:
        """SIGTERM the step's group on its worker, SIGKILL after `grace` (idempotent)."""
        if self._terminating is None:
            self._terminating = asyncio.ensure_future(self._kill(grace))
        await asyncio.shield(self._terminating)

    async def _kill(self, grace: float) -> None:
        if self.info is None or self._worker is None:
            return
        pgid, worker = self.info.pgid, self._worker
        alive = await self._backend.signal(worker, pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while alive and self._code is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            alive = await self._backend.signal(worker, pgid, 0)
        if alive:
            await self._backend.signal(worker, pgid, signal.SIGKILL)


class DaskBackend(Backend):
    """Runs each attempt as a task on a Dask cluster at `address` (or a given client)."""

    moves_files = True

    def __init__(self, address: str | None = None, *, client: Any = None):
        self._address = address
        self._client = client
        self._owned: list[Any] = []
        self._connecting = asyncio.Lock()  # parallel first starts must share one cluster

    @classmethod
    async def local(cls, n_workers: int = 2, processes: bool = False) -> DaskBackend:
        """A backend on a LocalCluster of this process (tests, a single machine)."""
        backend = cls()
        await backend._connect(n_workers=n_workers, processes=processes)
        return backend

    async def _connect(self, n_workers: int = 2, processes: bool = False) -> Any:
        """The client; without an address, a LocalCluster that this backend owns."""
        async with self._connecting:
            if self._client is None:
                self._client = await self._open(n_workers, processes)
        return self._client

    async def _open(self, n_workers: int, processes: bool) -> Any:
        import dask
        from distributed import Client, LocalCluster

        if self._address:
            client = await Client(self._address, asynchronous=True)  # type: ignore[no-untyped-call]
            self._owned = [client]
            return client
        dask.config.set({"distributed.scheduler.allowed-failures": 0})
        cluster = await LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=n_workers, processes=processes, asynchronous=True, dashboard_address=None
        )
        client = await Client(cluster, asynchronous=True)  # type: ignore[no-untyped-call]
        self._owned = [client, cluster]
        return client

    async def start(self, launch: StepLaunch, on_output: OutputHandler) -> StepProcess:
        """Submit the attempt and wait until its process runs on a worker."""
        client = await self._connect()
        topic = f"ansflow-{launch.execution_id}-{launch.step_id}-{launch.attempt}"
        process = DaskProcess(self, topic, on_output)
        client.subscribe_topic(topic, process.on_event)
        process.future = client.submit(
            run_step,
            list(launch.argv),
            dict(launch.env),
            launch.cwd,
            topic,
            launch.files,
            key=topic,
            pure=False,
            retries=0,
        )
        await process.started()
        return process

    async def signal(self, worker: str, pgid: int, sig: int) -> bool:
        """Signal a step group on the worker that runs it."""
        client = await self._connect()
        result = await client.run(signal_step_group, pgid, sig, workers=[worker])
        return bool(result.get(worker))

    async def worker_hosts(self) -> list[str]:
        """The hosts of the cluster's workers."""
        client = await self._connect()
        workers = (await client.scheduler.identity()).get("workers", {})
        return sorted({str(w.get("host", "")) for w in workers.values()})

    def unsubscribe(self, topic: str) -> None:
        """Stop following a finished attempt's topic."""
        if self._client is not None:
            with contextlib.suppress(ValueError):
                self._client.unsubscribe_topic(topic)

    async def close(self) -> None:
        """Close the client (and the cluster) this backend created."""
        for owned in self._owned:
            await owned.close()
        self._owned = []
