"""Many subscribers of one live step, clients spread over several processes: p50/p99 line
latency and server RSS per subscriber.

Starts one real `jupyter server` (ansflow extension only) and, per case, one execution
whose step prints its own clock (`time.time()`) at a fixed rate. The subscribers are
split over `--procs` client processes, each a minimal WebSocket reader (handshake,
frame parsing, pong, close) on a bare, inlined epoll loop that finds the lines of a frame
with a regex rather than decoding its JSON, so thousands of sockets cost the client side
little; their CPU is printed beside the server's. Latency is receipt time - printed time of
every line on every socket (same machine clock; includes the engine's batching of up to
25 ms). The server's CPU time while the step prints, per frame sent, is the
fan-out's cost whatever else loads the machine. RSS is the server process's (/proc)
before the subscribers connected, once they all are, and its peak while the step
prints. The baseline is the same step followed by one subscriber, in the same run.

Cases: (a) 500 subscribers, 100 lines/s; (b) 5,000 subscribers, 10 lines/s.
Goal: p99 <= 100 ms each.

    python benchmarks/bench_subscribers.py [--cases 500:100 5000:10] [--seconds 15] [--procs 6]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from pathlib import Path
from urllib.parse import urlsplit

from bench_ws_connections import raise_fd_limit
from bench_ws_latency import TOKEN, ansflow_server, percentile, rest

GOAL_P99_MS = 100.0
STEP = """\
name: ticker
steps:
  ticker:
    shell: python
    run: |
      import os, time
      go = os.environ["BENCH_GO"]
      while not os.path.exists(go):
          time.sleep(0.002)
      period = 1.0 / float(os.environ["BENCH_RATE"])
      start = time.time()
      end = start + float(os.environ["BENCH_SECONDS"])
      tick = 0
      while True:
          now = time.time()
          if now >= end:
              break
          print(repr(now), flush=True)
          tick += 1
          time.sleep(max(0.0, start + tick * period - time.time()))
"""

# ---- client process -------------------------------------------------------------------

#: The `lines` of a log_update envelope in a frame's JSON. The step's lines are clock
#: readings (no quote, comma or bracket in them), so a regex over the frame finds each one
#: without decoding the JSON: the client's CPU per frame is then mostly its recv().
GATHER = 0.001  # seconds a client lets readable sockets gather (counted in the latency)
LINES = re.compile(rb'"lines":\[([^\]]*)\]')


def pong(sock: socket.socket, opcode: int, payload: bytes) -> None:
    """A masked client frame; the zero mask leaves the (short) payload as it is."""
    with contextlib.suppress(OSError):
        sock.send(bytes([0x80 | opcode, 0x80 | len(payload), 0, 0, 0, 0]) + payload)


def handshake(ws_url: str, count: int) -> tuple[list[socket.socket], dict[int, bytearray]]:
    """`count` WebSocket connections, 50 handshakes in flight at a time; with what each
    socket received after its response (the first frame may follow it at once)."""
    parts = urlsplit(ws_url)
    address = (parts.hostname or "127.0.0.1", parts.port or 80)
    socks: list[socket.socket] = []
    early: dict[int, bytearray] = {}
    for start in range(0, count, 50):
        batch = [
            socket.create_connection(address, timeout=120) for _ in range(min(50, count - start))
        ]
        for sock in batch:
            key = base64.b64encode(os.urandom(16)).decode()
            sock.sendall(
                (
                    f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                    f"Authorization: token {TOKEN}\r\n\r\n"
                ).encode()
            )
        for sock in batch:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(1 << 16)
                if not chunk:
                    raise ConnectionError("closed during the handshake")
                data += chunk
            head, _, rest = data.partition(b"\r\n\r\n")
            if b" 101 " not in head.split(b"\r\n", 1)[0] + b" ":
                raise ConnectionError(head.split(b"\r\n", 1)[0].decode(errors="replace"))
            sock.setblocking(False)
            if rest:
                early[sock.fileno()] = bytearray(rest)
        socks.extend(batch)
    return socks, early


def client_main(ws_url: str, count: int) -> tuple[list[int], array[float]]:
    """Open `count` subscribers, say "ready", time every line until all are closed.

    A bare epoll loop, inlined: with thousands of sockets per process, a callback (or
    even a method call) per readable socket would cost the clients more CPU than the
    server spends. Each recv() lands in one scratch buffer; only a partial frame is kept
    per socket. Every line of every frame is timed: the frame count and the line count
    say whether each client got each line."""
    latencies: array[float] = array("d")
    record = latencies.append
    counts = [0, 0, 0, 0, 0]  # lines, frames, closed 4008, other closes, ended without
    socks, held = handshake(ws_url, count)
    by_fd = {sock.fileno(): sock for sock in socks}
    lines_of = dict.fromkeys(by_fd, 0)  # lines each socket got
    receive = {fd: sock.recv_into for fd, sock in by_fd.items()}
    poller = select.epoll()
    for fd in by_fd:
        poller.register(fd, select.EPOLLIN)
    scratch = bytearray(1 << 20)
    view = memoryview(scratch)
    finditer = LINES.finditer
    print("ready", flush=True)
    cpu = time.process_time()
    ready: list[tuple[int, int]] = [(fd, 0) for fd in held]  # frames that came early
    while by_fd:
        now = time.time()
        for fd, _ in ready:
            try:
                size = receive[fd](scratch)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                size = 0
            rest = held.pop(fd, None)
            if not size and rest is None:  # EOF (or reset) without a close frame
                counts[4] += 1
                poller.unregister(fd)
                by_fd.pop(fd).close()
                continue
            data: bytearray = scratch
            if rest is not None:
                rest += view[:size]
                data, size = rest, len(rest)
            pos, is_open = 0, True
            while size - pos >= 2:
                opcode, length, head = data[pos] & 0x0F, data[pos + 1] & 0x7F, 2
                if length == 126:
                    if size - pos < 4:
                        break
                    length, head = int.from_bytes(data[pos + 2 : pos + 4], "big"), 4
                elif length == 127:
                    if size - pos < 10:
                        break
                    length, head = int.from_bytes(data[pos + 2 : pos + 10], "big"), 10
                end = pos + head + length
                if end > size:
                    break
                if opcode == 0x1:
                    counts[1] += 1
                    got = 0
                    for match in finditer(data, pos + head, end):
                        for line in match.group(1).split(b","):
                            try:
                                record(now - float(line[1:-1]))
                            except ValueError:  # not a clock reading
                                continue
                            got += 1
                    counts[0] += got
                    lines_of[fd] += got
                elif opcode == 0x9:
                    pong(by_fd[fd], 0xA, bytes(data[pos + head : end]))
                elif opcode == 0x8:
                    code = int.from_bytes(data[pos + head : pos + head + 2], "big")
                    code = code if length >= 2 else 1005
                    counts[2 if code == 4008 else 3] += code not in (1000, 1001)
                    pong(by_fd[fd], 0x8, bytes(data[pos + head : pos + head + 2]))
                    is_open = False
                pos = end
            if not is_open:
                poller.unregister(fd)
                by_fd.pop(fd).close()
            elif pos < size:
                held[fd] = bytearray(data[pos:size])
        ready = poller.poll(1.0)
        if ready:
            # Let the server's fan-out fill more sockets before reading them: one wake-up
            # then serves many sockets, where waking per frame cost the clients more CPU
            # than the server. The wait counts in the latency measured (`now` is later).
            time.sleep(GATHER)
            ready = poller.poll(0)
    counts.append(round((time.process_time() - cpu) * 1e3))  # CPU ms while following
    counts += [min(lines_of.values(), default=0), max(lines_of.values(), default=0)]
    return counts, latencies


# ---- driver ---------------------------------------------------------------------------


def rss_mib(pid: int) -> float:
    """Resident set size of a process from /proc, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU time a process used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def run_case(
    url: str, pid: int, workdir: Path, subscribers: int, rate: float, seconds: float, procs: int
) -> dict[str, float]:
    """One execution followed by `subscribers` sockets over `procs` client processes."""
    go = workdir / f"go-{subscribers}-{rate:g}-{time.monotonic_ns()}"
    env = {"BENCH_GO": str(go), "BENCH_SECONDS": str(seconds), "BENCH_RATE": str(rate)}
    execution = rest(url, "POST", "executions", {"yaml": STEP, "env": env})
    ws_url = url.replace("http", "ws", 1) + f"ansflow/ws/executions/{execution['execution_id']}"
    procs = max(1, min(procs, subscribers))
    shares = [subscribers // procs + (i < subscribers % procs) for i in range(procs)]
    rss_before = rss_mib(pid)
    started = time.perf_counter()
    clients = [
        subprocess.Popen(
            [sys.executable, __file__, "--client", ws_url, str(share), str(out)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for share, out in ((s, workdir / f"out-{i}-{go.name}") for i, s in enumerate(shares))
    ]
    outs = [workdir / f"out-{i}-{go.name}" for i in range(procs)]
    for client in clients:
        assert client.stdout is not None
        if client.stdout.readline().strip() != "ready":
            raise RuntimeError(f"a client process failed (exit {client.wait()})")
    connect = time.perf_counter() - started
    time.sleep(0.5)  # every snapshot is sent
    rss_connected = rss_mib(pid)
    peak = [rss_connected]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.2):
            peak[0] = max(peak[0], rss_mib(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    cpu_before = cpu_seconds(pid)
    go.touch()
    print(f"  streaming to {subscribers} (server pid {pid})", file=sys.stderr, flush=True)
    for client in clients:
        if client.wait(timeout=seconds + 300) != 0:
            raise RuntimeError(f"a client process exited with {client.returncode}")
    cpu_after = cpu_seconds(pid)
    stop.set()
    sampler.join()
    latencies: array[float] = array("d")
    counts = [0, 0, 0, 0, 0, 0, 1 << 62, 0]
    for out in outs:
        head, _, body = out.read_bytes().partition(b"\n")
        theirs = json.loads(head)
        counts = [a + b for a, b in zip(counts[:6], theirs[:6], strict=True)] + [
            min(counts[6], theirs[6]),
            max(counts[7], theirs[7]),
        ]
        latencies.frombytes(body)
    values = list(latencies)
    return {
        "p50": percentile(values, 0.5) * 1e3,
        "p99": percentile(values, 0.99) * 1e3,
        "max": max(values, default=float("nan")) * 1e3,
        "lines": counts[0],
        "frames": counts[1],
        "lagged": counts[2],
        "other_closes": counts[3],
        "no_close": counts[4],
        "fewest": counts[6],
        "most": counts[7],
        "connect": connect,
        "cpu_user": cpu_after[0] - cpu_before[0],
        "cpu_sys": cpu_after[1] - cpu_before[1],
        "client_cpu": counts[5] / 1e3,
        "rss_before": rss_before,
        "rss_connected": rss_connected,
        "rss_peak": peak[0],
    }


def describe(label: str, subscribers: int, rate: float, seconds: float, r: dict[str, float]) -> str:
    """One result line."""
    expected = int(subscribers * rate * seconds)
    per_sub = (r["rss_peak"] - r["rss_before"]) * 1024 / subscribers
    idle_per_sub = (r["rss_connected"] - r["rss_before"]) * 1024 / subscribers
    closes = f", closed 4008: {r['lagged']:.0f}" if r["lagged"] else ""
    closes += f", other closes: {r['other_closes']:.0f}" if r["other_closes"] else ""
    closes += f", ended without a close frame: {r['no_close']:.0f}" if r["no_close"] else ""
    if r["fewest"] != r["most"]:  # every socket should get every line
        closes += f", lines per socket {r['fewest']:.0f}..{r['most']:.0f}"
    # Server CPU per frame sent: what the fan-out costs, whatever else loads the machine.
    total = r["cpu_user"] + r["cpu_sys"]
    cpu = (
        f"server CPU {total:.1f} s (user {r['cpu_user']:.1f} s + sys {r['cpu_sys']:.1f} s; "
        f"{total * 1e6 / max(1.0, r['frames']):.0f} us/frame), "
        f"clients' CPU {r['client_cpu']:.1f} s"
    )
    return (
        f"  {label:<9} {subscribers:>5} subs: p50={r['p50']:7.1f} ms p99={r['p99']:7.1f} ms "
        f"max={r['max']:7.1f} ms, lines {r['lines']:.0f}/~{expected} in {r['frames']:.0f} frames, "
        f"{cpu}, connect {r['connect']:.1f} s, RSS {r['rss_before']:.0f}->{r['rss_connected']:.0f}"
        f"->{r['rss_peak']:.0f} MiB ({idle_per_sub:.0f} KiB/sub connected, "
        f"{per_sub:.0f} KiB/sub peak){closes}"
    )


def main() -> None:
    """Each case beside its 1-subscriber baseline, on one server."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cases", nargs="+", default=["500:100", "5000:10"], help="SUBSCRIBERS:LINES_PER_S"
    )
    parser.add_argument("--seconds", type=float, default=15.0, help="how long the step prints")
    parser.add_argument("--procs", type=int, default=6, help="client processes")
    parser.add_argument(
        "--client", nargs=3, metavar=("WS_URL", "COUNT", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.client:
        counts, latencies = client_main(args.client[0], int(args.client[1]))
        Path(args.client[2]).write_bytes(json.dumps(counts).encode() + b"\n" + latencies.tobytes())
        return
    cases = [(int(n), float(r)) for n, r in (case.split(":") for case in args.cases)]
    limit = raise_fd_limit(2 * max(n for n, _ in cases) + 1024)
    print(
        f"RLIMIT_NOFILE soft limit: {limit}; {args.procs} client processes; {os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory() as tmp, ansflow_server(Path(tmp)) as (url, pid):
        workdir = Path(tmp)
        run_case(url, pid, workdir, 1, 50, 1.0, 1)  # warm-up: first imports, first writes
        for subscribers, rate in cases:
            print(f"{subscribers} subscribers, {rate:g} lines/s for {args.seconds:g} s")
            base = run_case(url, pid, workdir, 1, rate, args.seconds, 1)
            print(describe("baseline", 1, rate, args.seconds, base))
            ours = run_case(url, pid, workdir, subscribers, rate, args.seconds, args.procs)
            print(describe("measured", subscribers, rate, args.seconds, ours))
            verdict = "met" if ours["p99"] <= GOAL_P99_MS else "NOT met"
            print(
                f"  p99 {ours['p99']:.1f} ms vs {base['p99']:.1f} ms at 1 subscriber "
                f"({ours['p99'] / base['p99']:.1f}x); goal p99 <= {GOAL_P99_MS:.0f} ms: {verdict}"
            )


if __name__ == "__main__":
    main()
