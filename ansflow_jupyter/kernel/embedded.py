"""Embedded mode: the kernel runs pipelines itself with the same ExecutionManager.

Why a private event loop in a daemon thread rather than the kernel's own loop: ipykernel
(6 and 7) runs an asyncio loop, but a cell executing synchronously blocks it, so
`%ansflow run --wait` would deadlock and a pipeline would stall whenever another cell is
busy; plain IPython and nbclient-driven kernels may have no running loop at all. One
loop thread per store URL works the same everywhere. Widget messages sent from that
thread are safe: ipykernel hands every IOPub send to its IO thread.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any, TypeVar

from ..events import Event, EventType, ExecutionStatus
from ..run_options import workflow_from_body

T = TypeVar("T")

# Widget messages travel over IOPub (about 1000 msgs/s, 1 MB/s): coalesce batches for
# this long and cap one message's lines so a chatty step never trips the rate limit.
FORWARD_INTERVAL = 0.05
FORWARD_MAX_EVENTS = 500
# A view joining late gets at most this much history per step (as the server view does).
HISTORY_TAIL = 20_000
HISTORY_BATCH_LINES = 1_000

_runtimes: dict[str, EmbeddedRuntime] = {}
_lock = threading.Lock()


class EmbeddedRuntime:
    """An ExecutionManager on a private asyncio loop; every method is synchronous."""

    mode = "embedded"

    def __init__(self, db_url: str):
        from ..settings import Settings

        self.db_url = db_url
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="ansflow-embedded", daemon=True
        )
        self._thread.start()
        self._follows: set[concurrent.futures.Future[None]] = set()
        try:
            # The same ANSFLOW_* settings as the CLI (parallelism, backend, retention...).
            settings = Settings.load(db_url=db_url)
            self.manager = self.call(_in_thread(settings.make_manager))
            self.call(self.manager.start_up())
        except BaseException:
            self._stop_loop()
            raise

    # -- plumbing ------------------------------------------------------------------

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run a coroutine on the runtime's loop and wait for its result.

        Waits in short slices so Ctrl-C (a kernel interrupt) stays responsive."""
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            slice_ = 0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic()))
            try:
                return future.result(slice_)
            except concurrent.futures.TimeoutError:
                if deadline is not None and time.monotonic() >= deadline:
                    future.cancel()
                    raise TimeoutError(f"no answer within {timeout} s") from None
            except BaseException:
                future.cancel()
                raise

    def close(self) -> None:
        """Cancel what still runs (killing its processes) and stop the loop."""
        if not self._loop.is_running():
            return
        with contextlib.suppress(Exception):
            self.call(self.manager.shutdown(cancel_running=True), timeout=30)
        self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    # -- the Runner API (same shape as ServerClient) ---------------------------------

    def start(
        self,
        *,
        path: str | None = None,
        yaml: str | None = None,
        env: Mapping[str, str] | None = None,
        force: bool | list[str] = False,
        workflow: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Validate and start a pipeline; its summary. Raises SpecError for bad input."""
        options = workflow_from_body(workflow or {})
        spec = self.manager.load(
            path=path, yaml=yaml, env=env, base_dir=Path.cwd(), workflow=options
        )
        return self.call(self.manager.start(spec, env=env, force=force, workflow=options))

    def snapshot(self, execution_id: str) -> dict[str, Any]:
        """The snapshot envelope of one execution."""
        return self.call(self.manager.snapshot(execution_id)).to_dict()

    def cancel(self, execution_id: str) -> None:
        """Cancel an execution of this kernel."""
        self.call(self.manager.cancel(execution_id))

    def rerun(self, execution_id: str, *, failed_only: bool = False) -> dict[str, Any]:
        """A new execution of the same pipeline; its summary."""
        return self.call(self.manager.rerun(execution_id, failed_only=failed_only))

    def list_executions(
        self, *, limit: int = 20, status: str | None = None
    ) -> list[dict[str, Any]]:
        """Recent executions, newest first."""
        return self.call(self.manager.list(limit=limit, status=status))

    def logs(
        self, execution_id: str, *, step: str | None = None, tail: int | None = None
    ) -> list[dict[str, Any]]:
        """Stored log lines."""
        return self.call(self.manager.logs(execution_id, step=step, tail=tail))

    def artifacts(self, execution_id: str) -> list[dict[str, Any]]:
        """The files the steps of an execution collected."""
        return self.call(self.manager.artifacts(execution_id))

    def wait(self, execution_id: str, timeout: float | None = None) -> ExecutionStatus:
        """Block until the execution ends; its final status."""
        return self.call(self.manager.wait(execution_id), timeout)

    # -- live events to a widget -------------------------------------------------------

    def follow(
        self, execution_id: str, push: Callable[[list[dict[str, Any]]], None], since: int = 0
    ) -> concurrent.futures.Future[None]:
        """Forward every event after `since` (replay, then live) to `push` in batches."""
        future = asyncio.run_coroutine_threadsafe(
            _forward(self.manager, execution_id, push, since), self._loop
        )
        self._follows.add(future)
        future.add_done_callback(self._follows.discard)
        return future

    def history(self, execution_id: str) -> list[dict[str, Any]]:
        """The snapshot, then the stored log lines as seq-less `log_update`s: all a view
        that (re)renders needs (the view dedups lines by offset)."""
        return self.call(_history(self.manager, execution_id))


async def _history(manager: Any, execution_id: str) -> list[dict[str, Any]]:
    snapshot = await manager.snapshot(execution_id)
    out = [snapshot.to_dict()]
    for step in snapshot.data["steps"]:
        if step.get("log_lines"):
            rows = await manager.logs(execution_id, step=step["step_id"], tail=HISTORY_TAIL)
            out.extend(e.to_dict() for e in log_history(execution_id, rows))
    return out


def log_history(execution_id: str, rows: list[dict[str, Any]]) -> list[Event]:
    """Stored log rows as `log_update` envelopes without seq (the view dedups by offset)."""
    events: list[Event] = []
    data: dict[str, Any] | None = None
    for row in rows:
        follows = (
            data is not None
            and data["step_id"] == row["step_id"]
            and data["stream"] == row["stream"]
            and data["offset"] + len(data["lines"]) == row["offset"]
            and len(data["lines"]) < HISTORY_BATCH_LINES
        )
        if not follows:
            data = {"step_id": row["step_id"], "stream": row["stream"], "offset": row["offset"]}
            data.update(lines=[], ts=[])
            events.append(Event(EventType.LOG_UPDATE, execution_id, None, data))
        assert data is not None
        data["lines"].append(row["line"])
        data["ts"].append(row["ts"])
    return events


async def _in_thread(fn: Callable[..., T], *args: Any) -> T:
    # Opening the store does blocking I/O; keep it off the loop like every store call.
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


async def _forward(
    manager: Any, execution_id: str, push: Callable[[list[dict[str, Any]]], None], since: int
) -> None:
    """Coalesce the stream's batches into few widget messages until the execution ends."""
    from ..bus import SubscriberLagged

    last = since
    while True:
        try:
            async with await manager.subscribe(execution_id, since=last) as stream:
                while batch := await stream.next_batch():
                    pending = [e for e in batch if e.type is not EventType.HEARTBEAT]
                    deadline = time.monotonic() + FORWARD_INTERVAL
                    while len(pending) < FORWARD_MAX_EVENTS and time.monotonic() < deadline:
                        more = await _next_within(stream, deadline - time.monotonic())
                        if more is None:
                            break
                        pending.extend(more)
                    for start in range(0, len(pending), FORWARD_MAX_EVENTS):
                        push([e.to_dict() for e in pending[start : start + FORWARD_MAX_EVENTS]])
                    last = max([last, *(e.seq or 0 for e in pending)])
                    if any(event.is_final for event in pending):
                        return
                return
        except SubscriberLagged:
            continue  # resume from the store after the last event the widget got


async def _next_within(stream: Any, seconds: float) -> list[Event] | None:
    """The stream's next batch if it comes within `seconds`; None otherwise or at the end."""
    if seconds <= 0:
        return None
    task = asyncio.ensure_future(stream.next_batch())
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        # next_batch waits on a queue; cancelling loses nothing that was already taken.
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return None
    batch: list[Event] = task.result()
    return batch or None


def get_runtime(db_url: str | None = None) -> EmbeddedRuntime:
    """The runtime for a store URL (default: the same SQLite file as the server and CLI)."""
    from ..store import resolve_db_url

    url = resolve_db_url(db_url)
    with _lock:
        runtime = _runtimes.get(url)
        if runtime is None:
            runtime = _runtimes[url] = EmbeddedRuntime(url)
        return runtime


def shutdown_runtimes() -> None:
    """Stop every runtime of this process (at exit; tests use it between stores)."""
    with _lock:
        runtimes = list(_runtimes.values())
        _runtimes.clear()
    for runtime in runtimes:
        runtime.close()


# A kernel that exits (restart, shutdown) must not leave step processes behind.
atexit.register(shutdown_runtimes)
