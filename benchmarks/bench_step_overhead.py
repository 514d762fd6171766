"""Per-step overhead: N sequential `true` steps through Executor + LocalBackend vs. a bare
`asyncio.create_subprocess_exec` of the same command line, awaited one after another.

Run: python benchmarks/bench_step_overhead.py
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from ansflow_jupyter.engine import Executor, shell_argv
from ansflow_jupyter.engine.backends import LocalBackend
from ansflow_jupyter.events import Event, ExecutionStatus
from ansflow_jupyter.pipeline.spec import PipelineSpec, RetrySpec, StepSpec

STEPS = 200


class NullSink:
    """Drops events."""

    async def write(self, events: list[Event]) -> None:
        pass


def spec(count: int = STEPS, name: str = "bench-overhead") -> PipelineSpec:
    """A chain of `count` `true` steps (also used by bench_dask_overhead)."""
    ids = [f"s{i}" for i in range(count)]
    steps = {
        sid: StepSpec(
            id=sid,
            name=sid,
            run="true",
            shell="bash",
            needs=(ids[i - 1],) if i else (),
            env={},
            working_directory=".",
            timeout=None,
            retry=RetrySpec(),
            continue_on_error=False,
            condition=None,
        )
        for i, sid in enumerate(ids)
    }
    return PipelineSpec(
        name=name,
        steps=steps,
        env={},
        secrets=(),
        max_parallel=1,
        source="",
        path=None,
        base_dir=Path.cwd(),
    )


async def through_executor() -> float:
    executor = Executor(spec(), "bench", LocalBackend(), NullSink())
    start = time.perf_counter()
    assert await executor.run() is ExecutionStatus.SUCCESS
    return time.perf_counter() - start


async def bare() -> float:
    argv = shell_argv("bash", "true")
    start = time.perf_counter()
    for _ in range(STEPS):
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        await proc.communicate()
    return time.perf_counter() - start


def main() -> None:
    bases, ourses = [], []
    for _ in range(5):  # interleaved, best of each: machine load hits both sides alike
        bases.append(asyncio.run(bare()))
        ourses.append(asyncio.run(through_executor()))
    base, ours = min(bases), min(ourses)
    per_base, per_ours = base / STEPS * 1000, ours / STEPS * 1000
    print(f"{STEPS} sequential steps of `bash -c true`, best of 5")
    print(f"bare create_subprocess_exec : {per_base:6.2f} ms/step")
    print(f"executor + LocalBackend     : {per_ours:6.2f} ms/step")
    print(
        f"overhead per step           : {per_ours - per_base:+6.2f} ms  (ratio {ours / base:.2f})"
    )


if __name__ == "__main__":
    main()
