"""Where a Dask step's time goes: the hops of each step of a 50-step `true` chain on a
LocalCluster with one worker process, as medians in ms (with the local backend's whole
step beside it, measured in the same run).

Worker-side times are taken inside the worker (wrappers installed with `client.run`), so
the clocks compare because worker and client run on one host. Hops:

  submit -> task entry      client -> scheduler -> worker -> task thread
  task entry -> claimed     the attempt's claim (two scheduler RPCs from the task thread)
  claimed -> spawned        environment + Popen in the worker process
  started sent -> received  worker -> scheduler -> client (log_event, batched streams)
  exit sent -> received     the same for the exit message
  exit -> next submit       the executor on the client

Run: python benchmarks/bench_dask_timeline.py
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import defaultdict
from itertools import pairwise
from typing import Any

from bench_dask_overhead import per_step
from bench_step_overhead import NullSink, spec

from ansflow_jupyter.engine import Executor
from ansflow_jupyter.engine.backends import LocalBackend
from ansflow_jupyter.engine.backends import dask as dask_backend
from ansflow_jupyter.events import ExecutionStatus

STEPS = 50
MARKS: defaultdict[str, dict[str, float]] = defaultdict(dict)


def instrument_worker(dask_worker: Any = None) -> None:
    """Runs in the worker process: stamp the claim, the spawn and every message sent."""
    import subprocess
    import types

    from ansflow_jupyter.engine.backends import dask_worker as task

    marks: dict[str, dict[str, float]] = {}
    current = [""]
    claim = task._claim

    def timed_claim(worker: Any, key: str) -> bool:
        current[0] = key
        marks[key] = {"entry": time.time()}
        claimed = claim(worker, key)
        marks[key]["claimed"] = time.time()
        return claimed

    class TimedPopen(subprocess.Popen):  # type: ignore[type-arg]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            marks[current[0]]["spawned"] = time.time()

    task._claim = timed_claim
    task.subprocess = types.SimpleNamespace(  # type: ignore[assignment]
        Popen=TimedPopen, DEVNULL=subprocess.DEVNULL, PIPE=subprocess.PIPE
    )
    log_event = dask_worker.log_event

    def timed_log_event(topic: str, msg: dict[str, Any]) -> None:
        stamps = {f"w_{k}": v for k, v in marks.get(msg.get("key", ""), {}).items()}
        log_event(topic, {**msg, **stamps, "w_sent": time.time()})

    dask_worker.log_event = timed_log_event


def instrument_client() -> None:
    start, on_event = dask_backend.DaskBackend.start, dask_backend.DaskProcess.on_event

    async def timed_start(self: Any, launch: Any, on_output: Any) -> Any:
        key = f"ansflow-{launch.execution_id}-{launch.step_id}-{launch.attempt}"
        MARKS[key]["submit"] = time.time()
        return await start(self, launch, on_output)

    def timed_on_event(self: Any, msg: dict[str, Any]) -> None:
        kind, marks = msg.get("kind", "?"), MARKS[self.key]
        marks.setdefault(f"recv_{kind}", time.time())
        marks.setdefault(f"sent_{kind}", msg.get("w_sent", 0.0))
        for name in ("entry", "claimed", "spawned"):
            if f"w_{name}" in msg:
                marks.setdefault(name, msg[f"w_{name}"])
        on_event(self, msg)

    dask_backend.DaskBackend.start = timed_start  # type: ignore[method-assign]
    dask_backend.DaskProcess.on_event = timed_on_event  # type: ignore[method-assign]


HOPS = [
    ("submit", "entry", "submit -> task entry"),
    ("entry", "claimed", "task entry -> claimed"),
    ("claimed", "spawned", "claimed -> spawned"),
    ("spawned", "sent_started", "spawned -> started sent"),
    ("sent_started", "recv_started", "started sent -> received"),
    ("recv_started", "sent_exit", "started received -> exit sent"),
    ("sent_exit", "recv_exit", "exit sent -> received"),
]


async def main() -> None:
    instrument_client()
    local = LocalBackend()
    procs = await dask_backend.DaskBackend.local(n_workers=1, processes=True)
    try:
        await procs.client.run(instrument_worker)
        base = await per_step(local, "local")
        for run in range(2):  # the first chain warms the worker up
            MARKS.clear()
            executor = Executor(spec(STEPS, "timeline"), f"tl-{run}", procs, NullSink())
            assert await executor.run() is ExecutionStatus.SUCCESS
    finally:
        await local.close()
        await procs.close()
    keys = sorted(MARKS, key=lambda k: MARKS[k]["submit"])
    print(f"chain of {STEPS} `true` steps on a worker process, medians in ms")
    for start, end, label in HOPS:
        gaps = [(MARKS[k][end] - MARKS[k][start]) * 1e3 for k in keys if end in MARKS[k]]
        print(f"  {label:<32} {statistics.median(gaps):7.2f}")
    nexts = [(MARKS[b]["submit"] - MARKS[a]["recv_exit"]) * 1e3 for a, b in pairwise(keys)]
    steps = [(MARKS[b]["submit"] - MARKS[a]["submit"]) * 1e3 for a, b in pairwise(keys)]
    print(f"  {'exit received -> next submit':<32} {statistics.median(nexts):7.2f}")
    print(f"  {'whole step (Dask)':<32} {statistics.median(steps):7.2f}")
    print(f"  {'whole step (local backend)':<32} {base * 1e3:7.2f}")


if __name__ == "__main__":
    asyncio.run(main())
