"""Cross-process live latency: a run of `ansflow run` (another process) followed on a server
WebSocket, against the same pipeline run by the server itself, on SQLite and PostgreSQL.

A step prints its own clock every 10 ms for a few seconds; one WebSocket client of a real
`jupyter server` records, for every line, receipt time - printed time (the whole path),
and for every event receipt time - the event's `ts` (what the store, the watcher that
relays other processes' runs, the bus and the socket add after the engine's batching).
Baseline: the same pipeline started through the server's REST API (in-process events).
Goals for the cross-process relay: p99 <= 250 ms on SQLite, <= 50 ms on PostgreSQL.
Also: how long a REST cancel of a CLI run takes to show as `cancelled` on the socket
(the CLI must act on the request within 1 s; the step's SIGTERM is included).

    python benchmarks/bench_cross_process.py [--seconds 4] [--pg URL]

Without --pg, a throwaway PostgreSQL cluster is started when initdb is installed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ws_latency import AUTH, CLOCK_STEP, ansflow_server, percentile, rest
from pg_cluster import installed, pg_cluster

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def postgres(url: str | None) -> Iterator[str | None]:
    """The given URL, or a throwaway cluster (None when PostgreSQL is not installed)."""
    if url or not installed():
        yield url
        return
    with contextlib.ExitStack() as stack:
        try:
            started: str | None = stack.enter_context(pg_cluster())
        except RuntimeError as exc:
            print(f"(no PostgreSQL: {exc})")
            started = None
        yield started


async def follow(ws_url: str, go: Path) -> tuple[list[float], list[float]]:
    """(line latencies, event latencies) of one execution until its socket closes."""
    lines: list[float] = []
    events: list[float] = []
    async with connect(ws_url, additional_headers=AUTH, max_size=None) as ws:
        await asyncio.sleep(0.3)  # the snapshot is in
        await asyncio.to_thread(go.touch)
        async for frame in ws:
            received = time.time()
            for event in json.loads(frame):
                if event.get("type") != "log_update":
                    continue
                events.append(received - event["ts"])
                for line in event["data"]["lines"]:
                    with contextlib.suppress(ValueError):
                        lines.append(received - float(line))
    return lines, events


async def in_server(url: str, workdir: Path, seconds: float) -> tuple[list[float], list[float]]:
    """The server runs the clock itself."""
    go = workdir / "go-server"
    env = {"BENCH_GO": str(go), "BENCH_SECONDS": str(seconds)}
    execution = await asyncio.to_thread(
        rest, url, "POST", "executions", {"yaml": CLOCK_STEP, "env": env}
    )
    ws_url = url.replace("http", "ws", 1) + f"ansflow/ws/executions/{execution['execution_id']}"
    return await follow(ws_url, go)


async def from_cli(
    url: str, db_url: str, workdir: Path, seconds: float
) -> tuple[list[float], list[float]]:
    """`ansflow run --db URL` runs the clock; the server relays it."""
    go = workdir / "go-cli"
    pipeline = workdir / "clock.yml"
    pipeline.write_text(CLOCK_STEP)
    env = {**os.environ, "BENCH_GO": str(go), "BENCH_SECONDS": str(seconds)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ansflow_jupyter.cli", "run", "--json", "--db", db_url,
        str(pipeline), env=env, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    execution_id = json.loads(await proc.stdout.readline())["execution_id"]
    drain = asyncio.ensure_future(proc.stdout.read())
    ws_url = url.replace("http", "ws", 1) + f"ansflow/ws/executions/{execution_id}"
    try:
        return await follow(ws_url, go)
    finally:
        await drain
        await proc.wait()


async def cancel_latency(url: str, db_url: str, workdir: Path, runs: int) -> list[float]:
    """Seconds from the REST cancel of a CLI run to its final event on the server socket."""
    pipeline = workdir / "nap.yml"
    pipeline.write_text("name: nap\nsteps:\n  nap:\n    run: echo up; sleep 300\n")
    out: list[float] = []
    for _ in range(runs):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ansflow_jupyter.cli", "run", "--json", "--db", db_url,
            str(pipeline), stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert proc.stdout is not None
        execution_id = json.loads(await proc.stdout.readline())["execution_id"]
        drain = asyncio.ensure_future(proc.stdout.read())
        ws_url = url.replace("http", "ws", 1) + f"ansflow/ws/executions/{execution_id}?since=0"
        async with connect(ws_url, additional_headers=AUTH, max_size=None) as ws:
            async for frame in ws:  # until the step printed: it is running
                events = json.loads(frame)
                if any(e["type"] == "log_update" for e in events):
                    break
            started = time.perf_counter()
            await asyncio.to_thread(rest, url, "POST", f"executions/{execution_id}/cancel")
            async for frame in ws:
                if any(e["type"] == "execution_update" and e["data"]["status"] == "cancelled"
                       for e in json.loads(frame)):  # fmt: skip
                    out.append(time.perf_counter() - started)
                    break
        await drain
        await proc.wait()
    return out


def report(label: str, lines: list[float], events: list[float]) -> float:
    """Print p50/p99 in ms; returns the event p99."""
    l50, l99 = percentile(lines, 0.5) * 1e3, percentile(lines, 0.99) * 1e3
    e50, e99 = percentile(events, 0.5) * 1e3, percentile(events, 0.99) * 1e3
    print(
        f"  {label:<13} lines={len(lines):>5}  printed->received p50={l50:6.1f} p99={l99:6.1f} ms"
        f"   event ts->received p50={e50:6.1f} p99={e99:6.1f} ms"
    )
    return e99


def main() -> None:
    """Measure on each store and print the ratio to the in-process baseline."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--pg", help="PostgreSQL URL (default: a throwaway cluster)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, postgres(args.pg) as pg:
        stores = [("sqlite", f"sqlite:///{Path(tmp) / 'bench.sqlite'}", 250.0)]
        if pg:
            stores.append(("postgresql", pg, 50.0))
        for name, db_url, goal in stores:
            workdir = Path(tmp) / name
            workdir.mkdir()
            print(f"{name}: one line every 10 ms for {args.seconds:g} s, one WebSocket client")
            with ansflow_server(workdir, db_url=db_url) as (url, _):
                base = report("in-process", *asyncio.run(in_server(url, workdir, args.seconds)))
                cross = report(
                    "cross-process", *asyncio.run(from_cli(url, db_url, workdir, args.seconds))
                )
                cancels = asyncio.run(cancel_latency(url, db_url, workdir, 5))
            verdict = "met" if cross <= goal else "NOT met"
            print(
                f"  event p99 cross/in-process = {cross / base:.2f}x"
                f"  (goal p99 <= {goal:g} ms: {verdict})"
            )
            print(
                f"  REST cancel of a CLI run -> its final event on the server socket: "
                f"median {sorted(cancels)[len(cancels) // 2] * 1e3:.0f} ms, "
                f"max {max(cancels) * 1e3:.0f} ms over {len(cancels)} runs"
                f" (goal: acted on within 1 s: {'met' if max(cancels) <= 1 else 'NOT met'})"
            )


if __name__ == "__main__":
    main()
