"""Log throughput: `seq 1 1000000` through Executor + LocalBackend vs. the bare command.

Prints lines/s (goal >= 1,000,000) and peak RSS. Run: python benchmarks/bench_output.py
"""

from __future__ import annotations

import asyncio
import resource
import subprocess
import sys
import time
from pathlib import Path

from ansflow_jupyter.engine import Executor
from ansflow_jupyter.engine.backends import LocalBackend
from ansflow_jupyter.events import Event, EventType
from ansflow_jupyter.pipeline.spec import PipelineSpec, RetrySpec, StepSpec

LINES = 1_000_000
GOAL = 1_000_000


class CountingSink:
    """Counts log lines and keeps nothing (an in-memory sink with no cost of its own)."""

    def __init__(self) -> None:
        self.lines = 0
        self.events = 0

    async def write(self, events: list[Event]) -> None:
        self.events += len(events)
        for event in events:
            if event.type is EventType.LOG_UPDATE:
                self.lines += len(event.data["lines"])


def spec(command: str) -> PipelineSpec:
    step = StepSpec(
        id="seq",
        name="seq",
        run=command,
        shell="bash",
        needs=(),
        env={},
        working_directory=".",
        timeout=None,
        retry=RetrySpec(),
        continue_on_error=False,
        condition=None,
    )
    return PipelineSpec(
        name="bench-output",
        steps={"seq": step},
        env={},
        secrets=(),
        max_parallel=1,
        source="",
        path=None,
        base_dir=Path.cwd(),
    )


async def through_executor() -> tuple[float, int]:
    sink = CountingSink()
    executor = Executor(spec(f"seq 1 {LINES}"), "bench", LocalBackend(), sink)
    start = time.perf_counter()
    await executor.run()
    return time.perf_counter() - start, sink.lines


def baseline() -> float:
    start = time.perf_counter()
    subprocess.run(["bash", "-c", f"seq 1 {LINES} > /dev/null"], check=True)
    return time.perf_counter() - start


def main() -> None:
    base = min(baseline() for _ in range(3))
    runs = [asyncio.run(through_executor()) for _ in range(3)]
    elapsed = min(t for t, _ in runs)
    lines = runs[0][1]
    assert lines == LINES, lines
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rate = lines / elapsed
    print(f"baseline  seq > /dev/null : {base * 1000:8.1f} ms")
    print(f"executor  seq -> sink     : {elapsed * 1000:8.1f} ms  ({rate:,.0f} lines/s)")
    print(f"ratio executor/baseline   : {elapsed / base:8.1f}x")
    print(f"peak RSS                  : {rss_mb:8.1f} MB")
    print(f"goal >= {GOAL:,} lines/s  : {'met' if rate >= GOAL else 'MISSED'}")
    sys.exit(0 if rate >= GOAL else 1)


if __name__ == "__main__":
    main()
