"""REST latency while the server is under attack: p99 of `GET executions` per attack.

One real `jupyter server` with the ansflow extension. A probe in its own process (so the
attackers' GIL never delays it) sends `GET executions` back to back on one keep-alive
connection and records every latency. First with nothing else going on (the baseline),
then while each attack of the reliability review runs for a few seconds:

- regex: `q=/(a+)+$/` on lines of 'a'*24 + '!' (20 s of frozen server with Python's `re`)
- ping flood: a WebSocket client sending pings without ever reading
- pipelines scan: `GET pipelines` over 20 YAML files of 0.9 MB (mtimes touched each time)
- text download: four full-log `?format=text` downloads of a big log at once
- big bodies: 100 MB POST bodies (refused by Content-Length) and 15 MB `env` bodies
- bad input: 100,000-deep JSON bodies, lone surrogates, deep YAML

Goal: p99 <= 100 ms under every attack. Also printed: text download MB/s (goal >= 50)
and the cold `GET pipelines` time (goal < 1 s) against parsing the same files with
PyYAML's pure-Python loader as before (measured on 2 of them, extrapolated).

    python benchmarks/bench_attacks.py [--seconds 4] [--log-lines 300000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import yaml
from bench_ws_latency import AUTH, ansflow_server, percentile, rest
from websockets.asyncio.client import connect

PROBE = r"""
import http.client, json, sys, time, urllib.parse
url, token, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
parts = urllib.parse.urlsplit(url)
conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
path = parts.path + "ansflow/api/executions?limit=20"
latencies = []
end = time.perf_counter() + seconds
while time.perf_counter() < end:
    start = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": "token " + token})
    response = conn.getresponse()
    response.read()
    latencies.append(time.perf_counter() - start)
    assert response.status == 200, response.status
    time.sleep(0.005)
print(json.dumps(latencies))
"""

EVIL = "name: evil\nsteps:\n  a:\n    run: for i in 1 2 3; do echo '" + "a" * 24 + "!'; done\n"
SLEEPY = "name: sleepy\nsteps:\n  nap: {run: sleep 600}\n"


def big_log(lines: int) -> str:
    """A step printing `lines` coloured lines of ~60 bytes."""
    return (
        "name: biglog\nsteps:\n  spam:\n    shell: python\n    run: |\n"
        f"      for i in range({lines}):\n"
        "          print(f'\\x1b[32mline {i}\\x1b[0m ' + 'x' * 40)\n"
    )


def big_pipeline(name: str) -> str:
    """A 0.9 MB pipeline file (16,000 steps)."""
    steps = "".join(f"  s{i}:\n    run: echo {i} padding-padding-padding\n" for i in range(16_000))
    return f"name: {name}\nsteps:\n{steps}"


def wait_done(url: str, execution_id: str, timeout: float = 300) -> None:
    """Poll until the execution finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snap = rest(url, "GET", f"executions/{execution_id}")
        if snap["data"]["execution"]["status"] in ("success", "failed", "cancelled"):
            return
        time.sleep(0.2)
    raise TimeoutError(execution_id)


def request(url: str, method: str, route: str, body: bytes | None = None, **headers: str) -> int:
    """One raw request (any body); its status. Connection errors count as 0."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    try:
        conn.request(method, parts.path + route, body=body, headers={**AUTH, **headers})
        response = conn.getresponse()
        response.read()
        return response.status
    except OSError:
        return 0
    finally:
        conn.close()


# ---- attacks: each runs until `stop` is set ---------------------------------------------


async def attack_regex(url: str, ctx: dict[str, Any], stop: asyncio.Event) -> str:
    route = f"ansflow/api/executions/{ctx['evil']}/logs?q=" + urllib.parse.quote("/(a+)+$/")
    count = 0
    while not stop.is_set():
        await asyncio.to_thread(request, url, "GET", route)
        count += 1
    return f"{count} searches"


async def attack_ping_flood(url: str, ctx: dict[str, Any], stop: asyncio.Event) -> str:
    parts = urllib.parse.urlsplit(url)
    closes: list[str] = []
    sent = 0
    while not stop.is_set():
        sock = socket.create_connection((parts.hostname, parts.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        ws_url = url.replace("http", "ws", 1) + f"ansflow/ws/executions/{ctx['sleepy']}"
        async with connect(
            ws_url, sock=sock, max_queue=1, additional_headers=AUTH, ping_interval=None
        ) as ws:
            try:
                while not stop.is_set():
                    await asyncio.wait_for(ws.send('{"type":"ping"}'), 2)
                    sent += 1
                    if sent % 200 == 0:
                        await asyncio.sleep(0)
            except Exception as exc:  # closed by the server (4008) or send blocked
                closes.append(type(exc).__name__)
    return f"{sent} pings, {len(closes)} connections closed"


async def attack_scan(url: str, ctx: dict[str, Any], stop: asyncio.Event) -> str:
    times: list[float] = []
    while not stop.is_set():
        for file in ctx["big_files"]:
            os.utime(file)  # a cold cache every time
        start = time.perf_counter()
        status = await asyncio.to_thread(request, url, "GET", "ansflow/api/pipelines")
        assert status == 200, status
        times.append(time.perf_counter() - start)
    return f"cold listing {1000 * max(times):.0f} ms max ({len(times)} listings)"


async def attack_download(url: str, ctx: dict[str, Any], stop: asyncio.Event) -> str:
    route = f"ansflow/api/executions/{ctx['biglog']}/logs?format=text"
    done = 0

    async def one() -> None:
        nonlocal done
        while not stop.is_set():
            await asyncio.to_thread(request, url, "GET", route)
            done += 1

    await asyncio.gather(*(one() for _ in range(4)))
    return f"{done} full downloads"


async def attack_bodies(url: str, ctx: dict[str, Any], stop: asyncio.Event) -> str:
    huge = b"{" + b" " * (100 * 2**20) + b"}"
    env = json.dumps({"yaml": SLEEPY, "env": {f"K{i}": "v" for i in range(1_000_000)}}).encode()
    statuses: set[int] = set()
    while not stop.is_set():
        for body in (huge, env):
            statuses.add(
                await asyncio.to_thread(
                    request,
                    url,
                    "POST",
                    "ansflow/api/executions",
                    body,
                    **{"Content-Type": "application/json"},
                )
            )
    return f"answers {sorted(statuses)} (0: closed while sending)"


async def attack_bad_input(url: str, ctx: dict[str, Any], stop: asyncio.Event) -> str:
    bodies = [
        ("[" * 100_000 + "]" * 100_000).encode(),
        b'{"yaml": "name: x\\ud800"}',
        json.dumps({"yaml": "name: d\nsteps: " + "[" * 5000 + "]" * 5000}).encode(),
    ]
    statuses: set[int] = set()
    while not stop.is_set():
        for body in bodies:
            statuses.add(
                await asyncio.to_thread(request, url, "POST", "ansflow/api/executions", body)
            )
    return f"answers {sorted(statuses)}"


ATTACKS = {
    "regex (a+)+$": attack_regex,
    "ping flood, never reads": attack_ping_flood,
    "GET pipelines, 20 x 0.9 MB": attack_scan,
    "4 text downloads at once": attack_download,
    "100 MB / 15 MB bodies": attack_bodies,
    "deep JSON, surrogates, deep YAML": attack_bad_input,
}


async def under(
    url: str, seconds: float, attack: Any, ctx: dict[str, Any]
) -> tuple[list[float], str]:
    """Latencies of the probe while `attack` runs (None: no attack)."""
    probe = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PROBE,
        url,
        AUTH["Authorization"].split()[1],
        str(seconds),
        stdout=subprocess.PIPE,
    )
    stop = asyncio.Event()
    task = asyncio.ensure_future(attack(url, ctx, stop)) if attack else None
    out, _ = await probe.communicate()
    stop.set()
    note = ""
    if task is not None:
        note = await asyncio.wait_for(task, 300)
    return json.loads(out), note


def download_rate(url: str, execution_id: str, query: str = "") -> tuple[float, float]:
    """(MB, MB/s) of one full text download alone."""
    start = time.perf_counter()
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)
    route = f"ansflow/api/executions/{execution_id}/logs?format=text{query}"
    conn.request("GET", parts.path + route, headers=AUTH)
    size = len(conn.getresponse().read())
    seconds = time.perf_counter() - start
    return size / 1e6, size / 1e6 / seconds


def paged_rate(url: str, execution_id: str, page: int = 5_000) -> float:
    """MB/s of reading the merged log page by page by offset, as the download used to."""
    start, size, offset = time.perf_counter(), 0, 0
    while True:
        answer = rest(url, "GET", f"executions/{execution_id}/logs?offset={offset}&limit={page}")
        lines = answer["lines"]
        size += sum(len(line["line"]) + 1 for line in lines)
        offset += len(lines)
        if len(lines) < page:
            break
    return size / 1e6 / (time.perf_counter() - start)


def old_scan_estimate(files: list[Path]) -> float:
    """Seconds the former scan (pure-Python yaml.safe_load of each file) would take."""
    start = time.perf_counter()
    for file in files[:2]:
        yaml.safe_load(file.read_text())
    return (time.perf_counter() - start) / 2 * len(files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--log-lines", type=int, default=300_000)
    parser.add_argument("--only", default="", help="run only attacks whose name contains this")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        big = workdir / "big"
        big.mkdir()
        files = [big / f"p{i:02}.yml" for i in range(20)]
        for i, file in enumerate(files):
            file.write_text(big_pipeline(f"big {i}"))
        with ansflow_server(workdir) as (url, _pid):
            ctx: dict[str, Any] = {"big_files": files}
            for key, text in (("evil", EVIL), ("biglog", big_log(args.log_lines))):
                ctx[key] = rest(url, "POST", "executions", {"yaml": text})["execution_id"]
                wait_done(url, ctx[key])
            ctx["sleepy"] = rest(url, "POST", "executions", {"yaml": SLEEPY})["execution_id"]
            download_rate(url, ctx["biglog"])  # warm the store's pages and the thread pool
            megabytes, rate = download_rate(url, ctx["biglog"])
            _, raw_rate = download_rate(url, ctx["biglog"], "&raw=1")
            before = paged_rate(url, ctx["biglog"])
            rows = [("no attack (baseline)", *asyncio.run(under(url, args.seconds, None, ctx)))]
            for name, attack in ATTACKS.items():
                if args.only not in name:
                    continue
                rows.append((name, *asyncio.run(under(url, args.seconds, attack, ctx))))
            rest(url, "POST", f"executions/{ctx['sleepy']}/cancel")
        old = old_scan_estimate(files)
    base99 = percentile(rows[0][1], 0.99)
    print(
        f"\nREST GET executions while under attack ({args.seconds:.0f} s each; goal p99 <= 100 ms)"
    )
    print(f"{'attack':34} {'requests':>8} {'p50 ms':>7} {'p99 ms':>7} {'x base':>7}  note")
    for name, latencies, note in rows:
        p50, p99 = percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000
        ratio = p99 / (base99 * 1000) if base99 else float("nan")
        print(f"{name:34} {len(latencies):8} {p50:7.1f} {p99:7.1f} {ratio:7.1f}  {note}")
    print(
        f"\ntext download alone ({args.log_lines} lines, {megabytes:.1f} MB; goal >= 50 MB/s): "
        f"{rate:.0f} MB/s ANSI stripped, {raw_rate:.0f} MB/s raw=1; paging by offset as "
        f"before: {before:.1f} MB/s"
    )
    print(f"former pipeline scan (pure-Python YAML, estimated from 2 files): {old:.1f} s")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
