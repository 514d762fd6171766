"""Many subscribers: 1000 / 2000 / 5000 WebSockets on one execution; p99 latency and server RSS.

Raises RLIMIT_NOFILE (the server inherits it), starts one real `jupyter server`, and for
each count follows one clock execution (a line every 10 ms) with that many websockets
from this process. The baseline is the server's RSS before any subscriber connected and
the same clock followed by 10 subscribers.

    python benchmarks/bench_ws_connections.py [--counts 1000 2000 5000] [--seconds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from pathlib import Path

import psutil
from bench_ws_latency import (
    AUTH,
    CLOCK_STEP,
    ansflow_server,
    open_clients,
    percentile,
    rest,
    run_clients,
)
from websockets.asyncio.client import ClientConnection

MEASURED = 50


async def drain(ws: ClientConnection) -> None:
    """Read every frame without looking at it."""
    async for _ in ws:
        pass


def raise_fd_limit(wanted: int) -> int:
    """Lift the soft open-files limit towards `wanted` (never above the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def follow(
    url: str, count: int, seconds: float, workdir: Path, server: psutil.Process
) -> tuple[list[float], int, float, float]:
    """(latencies, lines, connect seconds, peak server RSS MiB) for `count` subscribers."""
    go = workdir / f"go-{count}"
    execution = await asyncio.to_thread(
        rest,
        url,
        "POST",
        "executions",
        {"yaml": CLOCK_STEP, "env": {"BENCH_GO": str(go), "BENCH_SECONDS": str(seconds)}},
    )
    ws_url = url.replace("http", "ws", 1) + f"ansflow/ws/executions/{execution['execution_id']}"
    started = time.perf_counter()
    clients = await open_clients(ws_url, count, AUTH)
    connect_time = time.perf_counter() - started
    peak = [server.memory_info().rss]

    async def sample() -> None:
        while True:
            peak[0] = max(peak[0], server.memory_info().rss)
            await asyncio.sleep(0.1)

    sampler = asyncio.ensure_future(sample())

    async def start() -> None:
        await asyncio.sleep(0.5)
        go.touch()

    # One client process cannot parse every frame of thousands of sockets: a sample of
    # MEASURED clients parses and measures, the others only drain their frames.
    drains = [asyncio.ensure_future(drain(ws)) for ws in clients[MEASURED:]]
    latencies, lines = await run_clients(clients[:MEASURED], start)
    await asyncio.gather(*drains)
    sampler.cancel()
    return latencies, lines, connect_time, peak[0] / 2**20


def main() -> None:
    """Measure each subscriber count on one server."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[1000, 2000, 5000])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    limit = raise_fd_limit(2 * max(args.counts) + 1024)
    print(f"RLIMIT_NOFILE soft limit: {limit}")
    with (
        tempfile.TemporaryDirectory() as tmp,
        ansflow_server(Path(tmp), ws_queue_events=100_000, heartbeat_interval=0) as (url, pid),
    ):
        server = psutil.Process(pid)
        idle = server.memory_info().rss / 2**20
        lat, lines, _, _ = asyncio.run(follow(url, 10, args.seconds, Path(tmp), server))
        print(
            f"baseline: server RSS idle {idle:.0f} MiB; 10 subscribers "
            f"p50={percentile(lat, 0.5) * 1e3:.1f} ms p99={percentile(lat, 0.99) * 1e3:.1f} ms"
        )
        for count in args.counts:
            if count + 64 > limit:
                print(f"{count:>5} subscribers: skipped (open-files limit {limit})")
                continue
            lat, lines, connect, rss = asyncio.run(
                follow(url, count, args.seconds, Path(tmp), server)
            )
            expected = MEASURED * int(args.seconds / 0.01)
            print(
                f"{count:>5} subscribers: connect {connect:5.1f} s, lines {lines:>6} "
                f"(~{expected} printed x {MEASURED} measured), "
                f"p50={percentile(lat, 0.5) * 1e3:7.1f} ms "
                f"p99={percentile(lat, 0.99) * 1e3:7.1f} ms, server peak RSS {rss:.0f} MiB "
                f"(+{(rss - idle) * 1024 / count:.0f} KiB/subscriber)"
            )


if __name__ == "__main__":
    main()
