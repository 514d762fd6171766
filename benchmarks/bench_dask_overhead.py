"""Dask per-step overhead: a chain of 50 `true` steps through the Executor on the Dask backend
(a LocalCluster with one worker process, and one in-process worker) vs. the local backend,
in the same run. Goal: Dask ≤ 10 ms per step.

Run: python benchmarks/bench_dask_overhead.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from bench_step_overhead import NullSink, spec

from ansflow_jupyter.engine import Executor
from ansflow_jupyter.engine.backend import Backend
from ansflow_jupyter.engine.backends import LocalBackend
from ansflow_jupyter.engine.backends.dask import DaskBackend
from ansflow_jupyter.events import ExecutionStatus
from ansflow_jupyter.pipeline.spec import PipelineSpec

STEPS = 50


def chain() -> PipelineSpec:
    return spec(STEPS, "bench-dask")


async def per_step(backend: Backend, label: str) -> float:
    """Seconds per step of one chain (after a warm-up chain)."""
    for run in range(2):
        executor = Executor(chain(), f"{label}-{run}-{time.time()}", backend, NullSink())
        start = time.perf_counter()
        assert await executor.run() is ExecutionStatus.SUCCESS
        elapsed = time.perf_counter() - start
    return elapsed / STEPS


async def main(repeat: int) -> None:
    local = LocalBackend()
    threads = await DaskBackend.local(n_workers=1, processes=False)
    procs = await DaskBackend.local(n_workers=1, processes=True)
    results: dict[str, list[float]] = {"local": [], "dask-thread": [], "dask-process": []}
    try:
        for _ in range(repeat):
            results["local"].append(await per_step(local, "local"))
            results["dask-thread"].append(await per_step(threads, "thread"))
            results["dask-process"].append(await per_step(procs, "process"))
    finally:
        await local.close()
        await threads.close()
        await procs.close()
    base = min(results["local"])
    print(f"chain of {STEPS} `true` steps, best of {repeat}, ms per step")
    print(f"  local backend (baseline)      {base * 1e3:7.2f}")
    for name in ("dask-thread", "dask-process"):
        best = min(results[name])
        print(
            f"  {name:<29} {best * 1e3:7.2f}  ratio {best / base:5.2f}x  "
            f"overhead {(best - base) * 1e3:6.2f} ms/step (goal <= 10 ms per step in total)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    asyncio.run(main(parser.parse_args().repeat))
