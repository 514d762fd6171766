"""Store throughput against baselines measured in the same run.

    python benchmarks/bench_store.py [--lines 1000000] [--pg URL]

1. Log append: N lines in ~64 KiB log_update batches (as the executor emits them), one
   `Store.append` (one transaction) per batch, on SQLite -- against writing the same
   batches to a plain file. Goal: >= 500k lines/s end to end.
2. Replay of the whole log: `events_since` (envelopes) and `log_lines` (one dict per line).
   Goal: >= 1M lines/s.
3. Small step_update events committed in batches of 100, and one per transaction.
4. The same on PostgreSQL when --pg or $ANSFLOW_TEST_PG_URL is set (a scratch database
   is created and dropped). Peak RSS of the whole run at the end.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ansflow_jupyter.events import Event, EventType
from ansflow_jupyter.store import Owner, Store

BATCH_BYTES = 64 * 1024


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_lines(count: int) -> list[str]:
    """Lines shaped like a pytest -v run (~70 bytes each)."""
    return [
        f"tests/test_module_{i % 97:02d}.py::test_case_{i:07d} PASSED"
        f"{' ' * (i % 13)}[{i * 100 // count:3d}%]"
        for i in range(count)
    ]


def batches(lines: list[str]) -> Iterator[list[str]]:
    """Cut at ~64 KiB, like the executor's log batching."""
    start, size = 0, 0
    for i, line in enumerate(lines):
        size += len(line) + 1
        if size >= BATCH_BYTES:
            yield lines[start : i + 1]
            start, size = i + 1, 0
    if start < len(lines):
        yield lines[start:]


class Timing:
    """Wall and CPU seconds of one measurement (the machines are shared: CPU is steadier)."""

    def __init__(self, wall: float, cpu: float):
        self.wall, self.cpu = wall, cpu

    def rate(self, count: int, unit: str) -> str:
        return f"{count / self.wall:>12,.0f} {unit}/s wall {count / self.cpu:>12,.0f} /s cpu"


def timed(fn: Callable[[], Any]) -> tuple[Timing, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return Timing(time.perf_counter() - wall, time.process_time() - cpu), result


def file_baseline(chunks: list[list[str]], folder: Path) -> Timing:
    """Write every batch to a plain file, flushing per batch (no fsync, like WAL NORMAL)."""

    def write() -> None:
        with open(folder / "baseline.log", "w", encoding="utf-8") as out:
            for chunk in chunks:
                out.write("\n".join(chunk))
                out.write("\n")
                out.flush()

    return timed(write)[0]


def append_logs(store: Store, chunks: list[list[str]]) -> tuple[str, Timing, int]:
    """One log_update event and one transaction per batch; returns (id, timing, events)."""
    execution_id = uuid.uuid4().hex
    store.create_execution(
        execution_id, "bench", "name: bench", None, Owner.current(), [{"step_id": "s"}]
    )

    def run() -> int:
        seq, offset = 0, 0
        for chunk in chunks:
            seq += 1
            now = time.time()
            data = {
                "step_id": "s",
                "stream": "stdout",
                "offset": offset,
                "lines": chunk,
                "ts": [now] * len(chunk),
            }
            store.append([Event(EventType.LOG_UPDATE, execution_id, seq, data, now)])
            offset += len(chunk)
        return seq

    timing, events = timed(run)
    return execution_id, timing, events


def small_events(store: Store, total: int, per_batch: int) -> Timing:
    """step_update events (as the executor emits them) committed `per_batch` at a time."""
    execution_id = uuid.uuid4().hex
    steps = [{"step_id": f"s{i}", "name": f"step {i}"} for i in range(50)]
    store.create_execution(execution_id, "bench", "src", None, Owner.current(), steps)
    events = [
        Event(
            EventType.STEP_UPDATE,
            execution_id,
            seq,
            {
                "step_id": f"s{seq % 50}",
                "name": f"step {seq % 50}",
                "status": "running",
                "attempt": 1,
                "exit_code": None,
                "reason": None,
                "started_at": 1.0,
                "finished_at": None,
                "duration": None,
            },
        )
        for seq in range(1, total + 1)
    ]

    def run() -> None:
        for start in range(0, total, per_batch):
            store.append(events[start : start + per_batch])

    return timed(run)[0]


def bench_store(label: str, url: str, chunks: list[list[str]], baseline: Timing | None) -> None:
    store = Store(url)
    count = sum(len(chunk) for chunk in chunks)
    execution_id, timing, events = append_logs(store, chunks)
    ratio = ""
    if baseline:
        ratio = f"  ({baseline.wall / timing.wall:.2f}x / {baseline.cpu / timing.cpu:.2f}x file)"
    print(f"{label:10} append   {timing.rate(count, 'lines')}  {events} commits{ratio}")
    print(f"{label:10} peak RSS {peak_rss_mib():>12.0f} MiB so far (after appending)")

    timing, replay = timed(lambda: store.events_since(execution_id, 0))
    assert sum(len(e.data["lines"]) for e in replay) == count
    print(f"{label:10} replay   {timing.rate(count, 'lines')}  events_since")
    del replay
    timing, rows = timed(lambda: store.log_lines(execution_id))
    assert len(rows) == count
    print(f"{label:10} replay   {timing.rate(count, 'lines')}  log_lines (a dict per line)")
    del rows
    timing, _ = timed(lambda: store.log_lines(execution_id, step="s", tail=100))
    print(f"{label:10} tail 100 {timing.wall * 1000:>12.1f} ms")
    timing, hits = timed(lambda: store.log_lines(execution_id, q="test_case_0999"))
    print(f"{label:10} search   {timing.rate(count, 'lines')}  ({len(hits)} hits)")

    for per_batch in (100, 1):
        total = 20_000 if per_batch > 1 else 2_000
        timing = small_events(store, total, per_batch)
        print(
            f"{label:10} events   {timing.rate(total, 'events')}  step_update, {per_batch}/commit"
        )
    store.close()


@contextmanager
def scratch_pg_database(server: str) -> Iterator[str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    url = make_url(server).set(drivername="postgresql+psycopg")
    name = f"ansflow_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--pg", default=os.environ.get("ANSFLOW_TEST_PG_URL"))
    args = parser.parse_args()

    lines = make_lines(args.lines)
    size = sum(len(line) + 1 for line in lines)
    # Batching is the executor's work, not the store's: cut once, outside the timings.
    chunks = list(batches(lines))
    print(f"{args.lines:,} lines, {size / 2**20:.1f} MiB, {len(chunks)} batches of ~64 KiB")
    print(f"{'start':10} peak RSS {peak_rss_mib():>12.0f} MiB with the test lines in memory")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        baseline = file_baseline(chunks, folder)
        print(f"{'file':10} append   {baseline.rate(args.lines, 'lines')}  (baseline)")
        bench_store("sqlite", f"sqlite:///{folder / 'bench.sqlite'}", chunks, baseline)
        if args.pg:
            with scratch_pg_database(args.pg) as url:
                bench_store("postgresql", url, chunks, baseline)
        else:
            print("postgresql skipped: set --pg or ANSFLOW_TEST_PG_URL")
    print(f"peak RSS {peak_rss_mib():.0f} MiB (replays hold every line in memory at once)")


if __name__ == "__main__":
    main()
