"""Run steps on a Dask cluster: one task per attempt, output streamed back as worker events.

Dask has no Pub/Sub any more, so tasks stream their output with `worker.log_event` on one
topic per backend, each message naming its attempt, and the client follows that topic
once (`subscribe_topic`). The task's result travels on another channel than the events,
so an attempt ends on its own `exit` event (sent after the last output chunk), never on
the future: no line is lost. The worker side (the task itself) is in dask_worker.py.

Faults, in our own code rather than in scheduler settings an external cluster may lack:
- An attempt runs at most once: before starting its process the task claims the
  attempt's key as a scheduler Event; a task the scheduler re-runs after a lost worker
  finds it claimed and refuses (with Dask's default `allowed-failures` too).
- A lost worker ends the attempt as WorkerLost (reason `worker-lost`, retried under
  `retry`), and a watcher process on the worker (engine/reaper.py) kills what the dead
  worker's steps left running.
- Cancel and timeout kill the step's whole tree on its worker with the local backend's
  processes.kill_tree, through `client.run(..., workers=[address])`.
- An unreachable scheduler is reported by `open()` at once (BackendUnavailable).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import uuid
from typing import Any

from ..backend import (
    Backend,
    BackendUnavailable,
    OutputHandler,
    ProcessInfo,
    SpawnError,
    StepLaunch,
    StepProcess,
    WorkerLost,
)
from ..environment import StepEnvironment
from .dask_worker import kill_step, run_step

#: A step whose worker vanished never sends `exit`; after the future fails we wait this
#: long for straggling events, then end the attempt.
STRAGGLERS = 1.0
#: How long `open()` tries to reach the scheduler before giving up.
CONNECT_TIMEOUT = 5.0


def _lost(exc: BaseException | None) -> bool:
    """True for the failures that mean the worker running the attempt went away."""
    return type(exc).__name__ in ("KilledWorker", "AttemptAlreadyRan")


class DaskProcess(StepProcess):
    """One attempt running as a Dask task."""

    def __init__(self, backend: DaskBackend, key: str, on_output: OutputHandler):
        self._backend = backend
        self.key = key
        self._on_output = on_output
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._started = asyncio.get_running_loop().create_future()
        self._worker: str | None = None
        self._worker_seen = False
        self.info: ProcessInfo | None = None
        self.future: Any = None
        self._code: int | None = None
        self._terminating: asyncio.Task[None] | None = None

    def on_event(self, msg: dict[str, Any]) -> None:
        """Topic message of this attempt (on the client's loop), in arrival order."""
        if msg.get("kind") == "started":
            self._worker = msg["worker"]
            self.info = ProcessInfo(msg["pid"], msg["pid"], msg["host"], msg["create_time"])
        if msg.get("kind") in ("started", "spawn-error") and not self._started.done():
            self._started.set_result(msg)
        self._events.put_nowait(msg)

    async def started(self) -> None:
        """Wait until the process runs; SpawnError if it could not start, WorkerLost if
        its worker went away first."""
        finished = asyncio.ensure_future(self._settled())
        await asyncio.wait([self._started, finished], return_when=asyncio.FIRST_COMPLETED)
        if not self._started.done():
            exc = finished.result()
            if _lost(exc):
                raise WorkerLost(f"the Dask worker running this attempt was lost ({exc})")
            raise SpawnError(f"the Dask task ended before the step started: {exc!r}")
        finished.cancel()
        msg = self._started.result()
        if msg["kind"] == "spawn-error":
            raise SpawnError(msg["message"])

    async def _settled(self) -> BaseException | None:
        try:
            await self.future
        except Exception as exc:  # any task failure ends the attempt; say which
            return exc
        return None

    async def wait(self) -> int:
        """Hand over output until the task's `exit` event; the exit code."""
        try:
            return await self._follow()
        finally:
            self._backend.finished(self)

    async def _follow(self) -> int:
        loop = asyncio.get_running_loop()
        task_ended_at: float | None = None
        while self._code is None:
            try:
                msg = await asyncio.wait_for(self._events.get(), timeout=0.25)
            except TimeoutError:
                if self.future.done():  # lost worker or failed task: no `exit` will come
                    task_ended_at = task_ended_at or loop.time()
                    if loop.time() - task_ended_at > STRAGGLERS:
                        await self._ended_without_exit()
                elif self._worker_gone():
                    await self._backend.cancel(self.future)  # never re-run it elsewhere
                    raise WorkerLost(f"the Dask worker {self._worker} left the cluster") from None
                continue
            if msg["kind"] == "output":
                if (wait := self._on_output(msg["stream"], msg["data"])) is not None:
                    await wait
            elif msg["kind"] == "exit":
                self._code = int(msg["code"])
                self.files = msg.get("files")
        return self._code

    async def _ended_without_exit(self) -> None:
        if _lost(await self._settled()) or self._worker_gone():
            raise WorkerLost(f"the Dask worker {self._worker} running this step was lost")
        self._code = -signal.SIGKILL

    def _worker_gone(self) -> bool:
        """The worker left the scheduler's list after we saw it there (the list the client
        refreshes every few seconds may not know a worker that joined just now)."""
        if self._worker is None:
            return False
        present = self._backend.has_worker(self._worker)
        self._worker_seen = self._worker_seen or present
        return self._worker_seen and not present

    async def terminate(self, grace: float) -> None:
        """Kill the step's tree on its worker: SIGTERM, SIGKILL after `grace` (idempotent)."""
        if self._terminating is None:
            self._terminating = asyncio.ensure_future(self._kill(grace))
        await asyncio.shield(self._terminating)

    async def _kill(self, grace: float) -> None:
        if self.info is None or self._worker is None:
            return
        await self._backend.kill(self._worker, self.info.pid, self.info.pgid, grace)


class DaskBackend(Backend):
    """Runs each attempt as a task on a Dask cluster at `address` (or a given client)."""

    moves_files = True

    def __init__(self, address: str | None = None, *, client: Any = None):
        self._address = address
        self._client = client
        self._owned: list[Any] = []
        self._connecting = asyncio.Lock()  # parallel first starts must share one cluster
        self._topic = f"ansflow-{uuid.uuid4().hex}"
        self._subscribed = False
        self._running: dict[str, DaskProcess] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._releasable: list[Any] = []  # futures of finished attempts, released in batches

    @classmethod
    async def local(cls, n_workers: int = 2, processes: bool = False) -> DaskBackend:
        """A backend on a LocalCluster of this process (tests, a single machine)."""
        backend = cls()
        await backend._connect(n_workers=n_workers, processes=processes)
        return backend

    @property
    def client(self) -> Any:
        """The distributed Client once connected (None before)."""
        return self._client

    async def open(self) -> None:
        """Connect now; BackendUnavailable within seconds when the scheduler is unreachable."""
        await self._connect()

    async def _connect(self, n_workers: int = 2, processes: bool = False) -> Any:
        """The client; without an address, a LocalCluster that this backend owns."""
        async with self._connecting:
            if self._client is None:
                self._client = await self._open(n_workers, processes)
            if not self._subscribed:
                _quicken(self._client)
                self._client.subscribe_topic(self._topic, self._on_event)
                self._subscribed = True
        return self._client

    async def _open(self, n_workers: int, processes: bool) -> Any:
        if self._address:  # checked before importing distributed: that alone takes ~1 s
            await _reachable(self._address)
        import dask
        from distributed import Client, LocalCluster

        if self._address:
            try:
                client = await Client(  # type: ignore[no-untyped-call]
                    self._address, asynchronous=True, timeout=CONNECT_TIMEOUT
                )
            except Exception as exc:  # also a port that answers but is no Dask scheduler
                raise BackendUnavailable(_unreachable(self._address, exc)) from None
            self._owned = [client]
            return client
        dask.config.set({"distributed.scheduler.allowed-failures": 0})
        cluster = await LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=n_workers, processes=processes, asynchronous=True, dashboard_address=None
        )
        client = await Client(cluster, asynchronous=True)  # type: ignore[no-untyped-call]
        self._owned = [client, cluster]
        return client

    def _on_event(self, event: tuple[float, dict[str, Any]]) -> None:
        msg = event[1]
        process = self._running.get(msg.get("key", ""))
        if process is not None:
            process.on_event(msg)

    async def start(self, launch: StepLaunch, on_output: OutputHandler) -> StepProcess:
        """Submit the attempt and wait until its process runs on a worker."""
        client = await self._connect()
        key = f"ansflow-{launch.execution_id}-{launch.step_id}-{launch.attempt}"
        environment = launch.environment or StepEnvironment(True, launch.env)
        process = DaskProcess(self, key, on_output)
        self._running[key] = process
        process.future = client.submit(
            run_step,
            list(launch.argv),
            environment.inherit,
            dict(environment.overrides),
            launch.cwd,
            self._topic,
            key,
            launch.files,
            key=key,
            pure=False,
            retries=0,
        )
        # Finished attempts' releases ride in the same batch as this submit: sent on their
        # own, they would hold the next submit back by the client's batching interval.
        released, self._releasable = self._releasable, []
        for future in released:
            future.release()
        try:
            await process.started()
        except BaseException:
            self.finished(process)
            raise
        return process

    def finished(self, process: DaskProcess) -> None:
        """The attempt is over: stop routing its messages; forget its claim once the task
        is done (before that, the claim is what keeps a re-run from starting)."""
        self._running.pop(process.key, None)
        if process.future is not None:
            self._track(self._forget(process.key, process.future))

    async def _forget(self, key: str, future: Any) -> None:
        with contextlib.suppress(BaseException):
            await future  # done (or failed): the scheduler will not run it again
        self._releasable.append(future)
        with contextlib.suppress(Exception):
            await self._client.scheduler.event_clear(name=key)

    def _track(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def has_worker(self, address: str) -> bool:
        """Whether the scheduler (as last reported to the client) lists this worker."""
        if self._client is None:
            return False
        return address in self._client.scheduler_info().get("workers", {})

    async def cancel(self, future: Any) -> None:
        """Cancel a task that must not run (again)."""
        with contextlib.suppress(Exception):
            await self._client.cancel([future])

    async def kill(self, worker: str, pid: int, pgid: int, grace: float) -> None:
        """Kill a step's tree on the worker that runs it (nothing to do if it is gone)."""
        client = await self._connect()
        with contextlib.suppress(Exception):  # a lost worker took its steps along
            await client.run(kill_step, pid, pgid, grace, workers=[worker])

    async def worker_hosts(self) -> list[str]:
        """The hosts of the cluster's workers."""
        client = await self._connect()
        workers = (await client.scheduler.identity()).get("workers", {})
        return sorted({str(w.get("host", "")) for w in workers.values()})

    async def close(self) -> None:
        """Close the client (and the cluster) this backend created."""
        for task in list(self._tasks):
            task.cancel()  # forgetting claims is best effort; the cluster may be gone
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        for future in self._releasable:
            future.release()
        self._releasable = []
        if self._client is not None and self._subscribed:
            with contextlib.suppress(Exception):
                self._client.unsubscribe_topic(self._topic)
            self._subscribed = False
        for owned in self._owned:
            await owned.close()
        self._owned = []


def _quicken(client: Any) -> None:
    """Send client-to-scheduler messages after at most 1 ms instead of Dask's 10 ms.

    A chain of short steps sends one submit per step; with 10 ms batching each submit
    waited for the previous batch's interval (measured in benchmarks/bench_dask_overhead.py).
    Only our client is changed; a reconnected client falls back to Dask's default."""
    comm = getattr(client, "scheduler_comm", None)
    if comm is not None and isinstance(getattr(comm, "interval", None), float):
        comm.interval = 0.001


async def _reachable(address: str) -> None:
    """Fail at once for a TCP scheduler address nobody listens on (Dask's own connect
    retries for 30 s by default, and each step would wait for it)."""
    scheme, sep, location = address.rpartition("://")
    if sep and scheme != "tcp":
        return  # tls://, ucx://, ...: Dask's own connect (with its timeout) decides
    host, _, port_text = location.rpartition(":")
    host = host.strip("[]")  # [::1]:8786
    try:
        port = int(port_text)
    except ValueError:
        raise BackendUnavailable(f"invalid Dask scheduler address {address!r}") from None
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise BackendUnavailable(_unreachable(address, exc)) from None
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


def _unreachable(address: str, exc: BaseException) -> str:
    errno = getattr(exc, "errno", None)
    reason = os.strerror(errno) if errno else str(exc) or type(exc).__name__
    return f"cannot reach the Dask scheduler at {address}: {reason}"
