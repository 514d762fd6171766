"""Lines written vs lines stored while the store is stalled by another connection's lock.

A step prints 300 lines one by one (the event writer fills up, so reading pauses), then
a burst, and exits while another connection holds an exclusive lock on the store
(`BEGIN EXCLUSIVE` on SQLite, `LOCK TABLE ... IN ACCESS EXCLUSIVE MODE` on PostgreSQL).
Goal: stored == written, always. (Before the fix: 3 x 5,300 lines -> a few hundred stored:
the tail still in the pipe when the step exited was dropped 2 s later.)

Run: python benchmarks/bench_tail_loss.py [--db URL] [--lines 5000] [--hold 6] [--steps 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from ansflow_jupyter.pipeline import load_pipeline
from ansflow_jupyter.service import ExecutionManager
from ansflow_jupyter.store import Store

STEP = """\
    shell: python
    run: |
      import sys, time
      for i in range(300):
          print(f"first {{i}}", flush=True)
          time.sleep(0.003)
      for start in range(0, {lines}, 5000):
          end = min(start + 5000, {lines})
          sys.stdout.write("".join(f"second {{i}}\\n" for i in range(start, end)))
"""


def pipeline_yaml(steps: int, lines: int) -> str:
    body = "".join(f"  s{i}:\n{STEP.format(lines=lines)}" for i in range(steps))
    return f"name: tail-loss\nsteps:\n{body}"


def hold_lock(url: str, seconds: float, ready: threading.Event) -> None:
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        if url.startswith("sqlite"):
            conn.exec_driver_sql("BEGIN EXCLUSIVE")
        else:
            conn.execute(text("BEGIN"))
            conn.execute(text("LOCK TABLE events IN ACCESS EXCLUSIVE MODE"))
            conn.execute(text("LOCK TABLE steps IN ACCESS EXCLUSIVE MODE"))
        ready.set()
        time.sleep(seconds)
        conn.rollback() if not url.startswith("sqlite") else conn.exec_driver_sql("ROLLBACK")
    engine.dispose()


async def measure(url: str, steps: int, lines: int, hold: float) -> tuple[int, int, str, float]:
    manager = ExecutionManager(Store(url, busy_timeout=max(60.0, hold * 4)))
    await manager.start_up()
    try:
        spec = load_pipeline(pipeline_yaml(steps, lines), base_dir=Path.cwd())
        info = await manager.start(spec)
        ready = threading.Event()
        locker = threading.Thread(target=hold_lock, args=(url, hold, ready))
        locker.start()
        ready.wait()
        started = time.perf_counter()
        status = await manager.wait(info["execution_id"])
        elapsed = time.perf_counter() - started
        locker.join()
        stored = len(await manager.logs(info["execution_id"]))
        return steps * (300 + lines), stored, status.value, elapsed
    finally:
        await manager.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", help="store URL (default: a temporary SQLite file)")
    parser.add_argument("--lines", type=int, default=5_000)
    parser.add_argument("--hold", type=float, default=6.0)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.db or f"sqlite:///{folder}/ansflow.sqlite"
        written, stored, status, elapsed = asyncio.run(
            measure(url, args.steps, args.lines, args.hold)
        )
    kind = url.split(":", 1)[0]
    print(f"store {kind}, locked {args.hold:g} s, {args.steps} steps x {300 + args.lines} lines")
    print(f"lines written : {written:10d}")
    print(f"lines stored  : {stored:10d}  ({'equal' if stored == written else 'LOST LINES'})")
    print(f"status {status}, run took {elapsed:.1f} s")
    sys.exit(0 if stored == written else 1)


if __name__ == "__main__":
    main()
