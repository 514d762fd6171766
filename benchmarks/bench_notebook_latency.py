"""Cell end -> `progress` at a WebSocket client of a real Jupyter server, vs a log line.

A notebook step of ~50 cells runs under a real `jupyter server` (subprocess) with the
ansflow extension. Each cell sleeps a little, then, as its last statement, appends its
number and `time.time()` to a file. A WebSocket client follows the execution and records
when each `step_update` whose `progress.done` grew arrives; latency = arrival - the end
time the cell wrote. Baseline, same server, same run: a `run` step printing
`time.time()` every 50 ms, latency = arrival of its `log_update` - the printed time
(what a plain step's line costs end to end). Goal: p99 <= 100 ms.

    python benchmarks/bench_notebook_latency.py [--cells 50] [--sleep 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from bench_ws_latency import AUTH, ansflow_server, percentile, rest
from websockets.asyncio.client import connect

NOTEBOOK_PIPELINE = "name: nb-latency\nsteps:\n  nb:\n    notebook: cells.ipynb\n"
LINE_PIPELINE = """\
name: line-latency
steps:
  lines:
    shell: python
    run: |
      import os, time
      while not os.path.exists(os.environ["BENCH_GO"]):
          time.sleep(0.002)
      for _ in range({count}):
          time.sleep({sleep})
          print(repr(time.time()), flush=True)
"""


def write_notebook(path: Path, cells: int, sleep: float) -> None:
    """Cell 1 waits for the go file and opens the end-times file; then `cells` cells."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "P"}
    first = (
        "import os, time\n"
        "while not os.path.exists(os.environ['BENCH_GO']):\n"
        "    time.sleep(0.002)\n"
        "ends = open(os.environ['BENCH_ENDS'], 'a', buffering=1)"
    )
    body = [nbformat.v4.new_code_cell(first)]
    for n in range(2, cells + 2):
        body.append(
            nbformat.v4.new_code_cell(
                f"time.sleep({sleep})\nx = {n} * 2\nends.write(f'{n} {{time.time()!r}}\\n')"
            )
        )
    nb.cells = body
    nbformat.write(nb, str(path))


async def follow(
    url: str, execution_id: str, go: Path, kind: str
) -> dict[int, float] | list[float]:
    """Arrival times: progress.done -> time (kind 'progress'), or line latencies ('log')."""
    ws_url = url.replace("http", "ws", 1) + f"ansflow/ws/executions/{execution_id}"
    arrivals: dict[int, float] = {}
    latencies: list[float] = []
    async with connect(ws_url, additional_headers=AUTH, max_size=None, ping_interval=None) as ws:
        await asyncio.sleep(0.5)  # the snapshot is in
        await asyncio.to_thread(go.touch)
        async for frame in ws:
            received = time.time()
            for event in json.loads(frame):
                data = event.get("data") or {}
                if kind == "progress" and event.get("type") == "step_update":
                    done = (data.get("progress") or {}).get("done")
                    if isinstance(done, int) and done not in arrivals:
                        arrivals[done] = received
                elif kind == "log" and event.get("type") == "log_update":
                    for line in data["lines"]:
                        with contextlib.suppress(ValueError):  # not a clock reading
                            latencies.append(received - float(line))
                if event.get("type") == "execution_update" and data.get("status") not in (
                    None,
                    "pending",
                    "running",
                ):
                    return arrivals if kind == "progress" else latencies
    return arrivals if kind == "progress" else latencies


def start(url: str, workdir: Path, pipeline: str, env: dict[str, str]) -> str:
    (workdir / "p.yml").write_text(pipeline)
    execution = rest(url, "POST", "executions", {"path": str(workdir / "p.yml"), "env": env})
    return str(execution["execution_id"])


def main() -> None:
    """Measure both and print p50/p99 with the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=50)
    parser.add_argument("--sleep", type=float, default=0.05)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        write_notebook(workdir / "cells.ipynb", args.cells, args.sleep)
        with ansflow_server(workdir) as (url, _):
            go, ends = workdir / "go-nb", workdir / "ends.txt"
            env = {"BENCH_GO": str(go), "BENCH_ENDS": str(ends)}
            nb_id = start(url, workdir, NOTEBOOK_PIPELINE, env)
            arrivals = asyncio.run(follow(url, nb_id, go, "progress"))
            assert isinstance(arrivals, dict)
            # Cell n (n >= 2) ends -> progress.done == n (cell 1 is the go cell).
            ended = {
                int(n): float(t) for n, t in (ln.split() for ln in ends.read_text().splitlines())
            }
            cell_latencies = [arrivals[n] - t for n, t in ended.items() if n in arrivals]
            missing = len(ended) - len(cell_latencies)

            go = workdir / "go-lines"
            line_pipeline = LINE_PIPELINE.format(count=args.cells, sleep=args.sleep)
            line_id = start(url, workdir, line_pipeline, {"BENCH_GO": str(go)})
            line_latencies = asyncio.run(follow(url, line_id, go, "log"))
            assert isinstance(line_latencies, list)
    p50, p99 = percentile(cell_latencies, 0.5) * 1e3, percentile(cell_latencies, 0.99) * 1e3
    b50, b99 = percentile(line_latencies, 0.5) * 1e3, percentile(line_latencies, 0.99) * 1e3
    print(f"{args.cells} cells of {args.sleep:g} s, one notebook step, real jupyter server")
    print(
        f"  cell end -> progress  n={len(cell_latencies):>4}  p50={p50:7.2f} ms  p99={p99:7.2f} ms"
    )
    print(
        f"  baseline line -> log  n={len(line_latencies):>4}  p50={b50:7.2f} ms  p99={b99:7.2f} ms"
    )
    if missing:
        print(f"  {missing} cells had no progress event")
    goal = "met" if p99 <= 100 else "NOT met"
    print(f"  p99 ratio progress/log-line = {p99 / b99:.2f}x  (goal p99 <= 100 ms: {goal})")


if __name__ == "__main__":
    sys.exit(main())
