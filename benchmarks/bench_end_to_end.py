"""End to end: one step printing 1,000,000 lines, run by the ExecutionManager into SQLite.

    python benchmarks/bench_end_to_end.py [--lines 1000000] [--db URL]

The whole path a user gets (process -> line processing -> events -> store commit -> bus),
against `seq 1 N > file` in the same run; then the replay of the whole log to a
subscriber (`subscribe(since=0)`). Goals: >= 500k lines/s persisted, >= 1M lines/s replay.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import tempfile
import time
from pathlib import Path

from ansflow_jupyter.events import EventType, ExecutionStatus
from ansflow_jupyter.pipeline import load_pipeline
from ansflow_jupyter.service import ExecutionManager
from ansflow_jupyter.store import Store


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(url: str, lines: int, folder: Path) -> tuple[float, float, int]:
    manager = ExecutionManager(Store(url))
    await manager.start_up()
    try:
        spec = load_pipeline(
            f"name: e2e\nsteps:\n  flood: {{run: seq 1 {lines}}}\n", base_dir=folder
        )
        started = time.perf_counter()
        info = await manager.start(spec)
        status = await manager.wait(info["execution_id"])
        persisted = time.perf_counter() - started
        assert status is ExecutionStatus.SUCCESS, status
        started = time.perf_counter()
        count = 0
        async with await manager.subscribe(info["execution_id"], since=0) as stream:
            while batch := await stream.next_batch():
                count += sum(len(e.data["lines"]) for e in batch if e.type is EventType.LOG_UPDATE)
        replayed = time.perf_counter() - started
        return persisted, replayed, count
    finally:
        await manager.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--db", help="SQLAlchemy URL (default: a SQLite file in a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        subprocess.run(f"seq 1 {args.lines} > {folder / 'out.txt'}", shell=True, check=True)
        baseline = time.perf_counter() - started
        url = args.db or f"sqlite:///{folder / 'e2e.sqlite'}"
        persisted, replayed, count = asyncio.run(run(url, args.lines, folder))
    assert count == args.lines, count
    rate = args.lines / persisted
    print(f"{args.lines:,} lines from one step, store {url.split(':')[0]}")
    print(f"baseline  seq > file          : {baseline * 1000:9.1f} ms")
    print(f"ansflow   run, persisted      : {persisted * 1000:9.1f} ms  ({rate:,.0f} lines/s)")
    print(f"ratio ansflow/baseline        : {persisted / baseline:9.1f}x")
    replay_rate = count / replayed
    print(
        f"replay    subscribe(since=0)  : {replayed * 1000:9.1f} ms  ({replay_rate:,.0f} lines/s)"
    )
    print(f"peak RSS                      : {peak_rss_mib():9.1f} MiB")
    print(
        f"goals: persisted >= 500k lines/s {'met' if rate >= 500_000 else 'MISSED'}; "
        f"replay >= 1M lines/s {'met' if replay_rate >= 1_000_000 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
