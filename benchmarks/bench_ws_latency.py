"""Log-line latency over the ansflow WebSocket vs. a raw Tornado fan-out, same machine, same run.

A step prints its own clock (`time.time()`) every 10 ms for ~5 s; N websocket subscribers
(one asyncio process, `websockets` client) record receipt time - printed time for every
line. The baseline is a bare Tornado WebSocket server sending a timestamp every 10 ms to N
clients, measured by the same client code. Goal: p99 <= 25 ms at 50 subscribers.

    python benchmarks/bench_ws_latency.py [--subscribers 50 500] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

# The helpers that start a real Jupyter process are shared with the tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from jupyter_process import free_port, jupyter_process, wait_ready

TOKEN = "ansflow-bench"
AUTH = {"Authorization": f"token {TOKEN}"}
CLOCK_STEP = """\
name: clock
steps:
  clock:
    shell: python
    run: |
      import os, time
      go = os.environ["BENCH_GO"]
      while not os.path.exists(go):
          time.sleep(0.002)
      end = time.time() + float(os.environ["BENCH_SECONDS"])
      while time.time() < end:
          print(repr(time.time()), flush=True)
          time.sleep(0.01)
"""

# ---- servers ------------------------------------------------------------------------


@contextmanager
def ansflow_server(workdir: Path, **traits: Any) -> Iterator[tuple[str, int]]:
    """A real `jupyter server` with only the ansflow extension; (base URL, pid)."""
    config_dir = workdir / "config"
    config_dir.mkdir(exist_ok=True)
    extensions = {
        "jupyterlab": False,
        "jupyter_lsp": False,
        "notebook_shim": False,
        "jupyter_server_terminals": False,
        "ansflow_jupyter": True,
    }
    config = {"ServerApp": {"jpserver_extensions": extensions}, "AnsFlowApp": traits}
    (config_dir / "jupyter_server_config.json").write_text(json.dumps(config))
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(config_dir),
        "JUPYTER_RUNTIME_DIR": str(workdir / "runtime"),
        "ANSFLOW_DB_URL": f"sqlite:///{workdir / 'bench.sqlite'}",
    }
    log = workdir / "server.log"
    args = ["--ServerApp.log_level=WARN"]
    with jupyter_process("server", root=workdir, env=env, token=TOKEN, log=log, args=args) as (
        url,
        proc,
    ):
        yield url, proc.pid


BASELINE_SERVER = """
import json, sys, time
import tornado.ioloop, tornado.web, tornado.websocket
clients = set()
class Feed(tornado.websocket.WebSocketHandler):
    def open(self):
        self.set_nodelay(True)
        clients.add(self)
    def on_close(self): clients.discard(self)
class Go(tornado.web.RequestHandler):
    def get(self):
        seconds = float(self.get_argument("seconds"))
        end = time.time() + seconds
        def tick():
            now = time.time()
            if now >= end:
                timer.stop()
                for c in list(clients): c.close(1000)
                return
            frame = json.dumps([{"type": "log_update", "data": {"lines": [repr(now)]}}])
            for c in list(clients): c.write_message(frame)
        timer = tornado.ioloop.PeriodicCallback(tick, 10)
        timer.start()
        self.write("ok")
class Status(tornado.web.RequestHandler):
    def get(self): self.write(str(len(clients)))
app = tornado.web.Application([(r"/feed", Feed), (r"/go", Go), (r"/status", Status)])
app.listen(int(sys.argv[1]), "127.0.0.1")
tornado.ioloop.IOLoop.current().start()
"""


@contextmanager
def baseline_server() -> Iterator[tuple[str, int]]:
    """A bare Tornado WebSocket fan-out in its own process; (base URL, pid)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", BASELINE_SERVER, str(port)], start_new_session=True
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_ready(f"{url}status", proc)
        yield url, proc.pid
    finally:
        proc.kill()
        proc.wait()


def rest(url: str, method: str, route: str, body: Any = None) -> Any:
    """A JSON call to the ansflow REST API."""
    request = urllib.request.Request(
        f"{url}ansflow/api/{route}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={**AUTH, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


# ---- clients ------------------------------------------------------------------------


async def open_clients(url: str, count: int, headers: dict[str, str]) -> list[ClientConnection]:
    """`count` connections, opened 100 at a time."""
    clients: list[ClientConnection] = []
    for start in range(0, count, 100):
        batch = [
            connect(
                url, additional_headers=headers, max_size=None, ping_interval=None, open_timeout=120
            )
            for _ in range(start, min(count, start + 100))
        ]
        clients.extend(await asyncio.gather(*batch))
    return clients


async def collect(
    ws: ClientConnection,
    latencies: list[float],
    counts: list[int],
    after_batch: list[float] | None = None,
) -> None:
    """Record receipt - printed time of every line until the connection closes; with
    `after_batch`, also receipt - the event's own ts (the part after the engine's batching)."""
    async for frame in ws:
        received = time.time()
        for event in json.loads(frame):
            if event.get("type") != "log_update":
                continue
            lines = event["data"]["lines"]
            counts[0] += len(lines)
            if after_batch is not None and "ts" in event:
                after_batch.append(received - event["ts"])
            for line in lines:
                with suppress(ValueError):  # a line that is not a clock reading
                    latencies.append(received - float(line))


async def run_clients(
    clients: list[ClientConnection],
    start: Callable[[], Awaitable[None]],
    after_batch: list[float] | None = None,
) -> tuple[list[float], int]:
    """Start the source, collect on every client until all close; (latencies, lines)."""
    latencies: list[float] = []
    counts = [0]
    tasks = [asyncio.ensure_future(collect(ws, latencies, counts, after_batch)) for ws in clients]
    await start()
    await asyncio.gather(*tasks, return_exceptions=True)
    return latencies, counts[0]


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ---- measurements -------------------------------------------------------------------


async def measure_ansflow(
    url: str,
    subscribers: int,
    seconds: float,
    workdir: Path,
    after_batch: list[float] | None = None,
) -> tuple[list[float], int]:
    """Latencies of one clock execution followed by `subscribers` websockets."""
    go = workdir / f"go-{subscribers}"
    execution = await asyncio.to_thread(
        rest,
        url,
        "POST",
        "executions",
        {"yaml": CLOCK_STEP, "env": {"BENCH_GO": str(go), "BENCH_SECONDS": str(seconds)}},
    )
    ws_url = url.replace("http", "ws", 1) + f"ansflow/ws/executions/{execution['execution_id']}"
    clients = await open_clients(ws_url, subscribers, AUTH)

    async def start() -> None:
        await asyncio.sleep(0.5)  # every snapshot is in
        go.touch()

    return await run_clients(clients, start, after_batch)


async def measure_baseline(url: str, subscribers: int, seconds: float) -> tuple[list[float], int]:
    """Latencies of the raw Tornado fan-out to `subscribers` websockets."""
    clients = await open_clients(url.replace("http", "ws", 1) + "feed", subscribers, {})

    async def start() -> None:
        await asyncio.sleep(0.5)
        await asyncio.to_thread(urllib.request.urlopen, f"{url}go?seconds={seconds}")

    return await run_clients(clients, start)


def report(label: str, latencies: list[float], lines: int) -> tuple[float, float]:
    """Print p50/p99 in ms; returns them."""
    p50, p99 = percentile(latencies, 0.5) * 1e3, percentile(latencies, 0.99) * 1e3
    print(f"  {label:<9} lines={lines:>8}  p50={p50:7.2f} ms  p99={p99:7.2f} ms")
    return p50, p99


def main() -> None:
    """Run both servers for each subscriber count and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, nargs="+", default=[50, 500])
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        with (
            ansflow_server(workdir, ws_queue_events=100_000) as (url, _),
            baseline_server() as (base_url, _),
        ):
            for n in args.subscribers:
                print(f"{n} subscribers, one line every 10 ms for {args.seconds:g} s")
                after: list[float] = []
                ours = asyncio.run(measure_ansflow(url, n, args.seconds, workdir, after))
                base = asyncio.run(measure_baseline(base_url, n, args.seconds))
                _, p99 = report("ansflow", *ours)
                _, b99 = report("baseline", *base)
                # The engine holds a log batch up to 25 ms before the event exists;
                # receipt - event ts is what the store, bus and WebSocket layers add.
                a50, a99 = percentile(after, 0.5) * 1e3, percentile(after, 0.99) * 1e3
                print(
                    f"  ansflow after the engine's batching: p50={a50:.2f} ms p99={a99:.2f} ms"
                    " (commit + fan-out + client)"
                )
                line = f"  p99 ratio ansflow/baseline = {p99 / b99:.2f}x"
                if n == 50:
                    line += f"  (goal p99 <= 25 ms: {'met' if p99 <= 25 else 'NOT met'})"
                print(line)


if __name__ == "__main__":
    main()
