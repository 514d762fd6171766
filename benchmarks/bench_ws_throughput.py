"""Throughput: a 1,000,000-line step delivered live to 10 WebSocket subscribers.

Reports lines/s as seen by the subscribers (first to last line) against a baseline measured
in the same run: the same script with its stdout read straight from a pipe by this process.

    python benchmarks/bench_ws_throughput.py [--lines 1000000] [--subscribers 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_ws_latency import AUTH, ansflow_server, open_clients, rest
from websockets.asyncio.client import ClientConnection

SCRIPT = """\
import os, sys, time
go = os.environ.get("BENCH_GO")
while go and not os.path.exists(go):
    time.sleep(0.005)
out = sys.stdout
for i in range({lines}):
    out.write(f"line {{i}} of the throughput benchmark\\n")
"""


def baseline(lines: int) -> float:
    """Lines/s of the bare script read from a pipe."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT.format(lines=lines)], stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    count = sum(chunk.count(b"\n") for chunk in iter(lambda: proc.stdout.read(65536), b""))
    proc.wait()
    assert count == lines, count
    return lines / (time.perf_counter() - start)


async def follow(ws: ClientConnection) -> tuple[int, float, float]:
    """(lines, first receipt, last receipt) of one subscriber until the connection closes."""
    count, first, last = 0, 0.0, 0.0
    async for frame in ws:
        now = time.perf_counter()
        for event in json.loads(frame):
            if event["type"] == "log_update":
                count += len(event["data"]["lines"])
                first = first or now
                last = now
    return count, first, last


async def measure(url: str, lines: int, subscribers: int, workdir: Path) -> list[float]:
    """Lines/s per subscriber over one execution."""
    go = workdir / "go"
    step = SCRIPT.format(lines=lines).replace("\n", "\n      ")
    yaml = f"name: flood\nsteps:\n  flood:\n    shell: python\n    run: |\n      {step}\n"
    execution = await asyncio.to_thread(
        rest, url, "POST", "executions", {"yaml": yaml, "env": {"BENCH_GO": str(go)}}
    )
    ws_url = url.replace("http", "ws", 1) + f"ansflow/ws/executions/{execution['execution_id']}"
    clients = await open_clients(ws_url, subscribers, AUTH)
    tasks = [asyncio.ensure_future(follow(ws)) for ws in clients]
    await asyncio.sleep(0.5)
    start = time.perf_counter()
    go.touch()
    results = await asyncio.gather(*tasks)
    total = time.perf_counter() - start
    rates = []
    for count, _, last in results:
        assert count == lines, f"a subscriber got {count} of {lines} lines"
        rates.append(count / (last - start))
    snapshot = await asyncio.to_thread(rest, url, "GET", f"executions/{execution['execution_id']}")
    step = snapshot["data"]["steps"][0]
    print(
        f"  wall time go -> last subscriber done: {total:.2f} s; the step itself ran "
        f"{step['duration']:.2f} s (engine + store, subscribers included)"
    )
    return rates


def main() -> None:
    """Run the baseline and the ansflow measurement; print lines/s and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--subscribers", type=int, default=10)
    args = parser.parse_args()
    base = baseline(args.lines)
    print(f"{args.lines} lines, {args.subscribers} subscribers")
    print(f"  baseline (bare pipe read): {base:12,.0f} lines/s")
    with (
        tempfile.TemporaryDirectory() as tmp,
        ansflow_server(Path(tmp), ws_queue_events=1_000_000) as (url, _),
    ):
        rates = asyncio.run(measure(url, args.lines, args.subscribers, Path(tmp)))
    slowest = min(rates)
    print(
        f"  ansflow per subscriber:    {slowest:12,.0f} lines/s (slowest), "
        f"{sum(rates) / len(rates):,.0f} mean, {sum(rates):,.0f} aggregate"
    )
    print(f"  ratio ansflow/baseline = {slowest / base:.3f}")


if __name__ == "__main__":
    main()
