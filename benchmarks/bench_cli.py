"""Whole-process `ansflow run`: start-up, a 200-step DAG and a 1,000,000-line step.

Each figure is measured beside its baseline in the same run (interleaved rounds; best and
median printed, since the machine is noisy); every `ansflow run` uses a fresh temporary
SQLite store through `--db`, so the store's creation is part of the cost.

a. a 1-step `true` pipeline vs `bash -c true` (goal: ansflow <= 0.35 s);
b. the 200-step DAG of bench_scheduling.py as a whole process vs `make -j4` running the
   same `bash --noprofile --norc -eo pipefail -c true` recipes (goal <= 3x make), and the
   in-process executor (goal <= 1.3x make);
c. `seq 1 1000000` through the whole process, output redirected to a file, plain and
   `--json` (goal >= 1,000,000 lines/s), vs the in-process executor.

Run: python benchmarks/bench_cli.py [--rounds N] [--only a|b|c]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import bench_output
import bench_scheduling

ONE_STEP_GOAL = 0.35
DAG_GOAL, DAG_INPROC_GOAL = 3.0, 1.3
LINES_GOAL = 1_000_000


def ansflow_argv() -> list[str]:
    """The console script beside this interpreter, else `python -m ansflow_jupyter.cli`."""
    script = Path(sys.executable).parent / "ansflow"
    if script.exists():
        return [str(script)]
    found = shutil.which("ansflow")
    return [found] if found else [sys.executable, "-m", "ansflow_jupyter.cli"]


def child_env(cache: Path) -> dict[str, str]:
    """Our environment with byte-code caching on, in a private cache directory.

    An installed package starts from its .pyc files; with PYTHONDONTWRITEBYTECODE set (as in
    some dev shells) every run would re-compile every module and measure the compiler.
    """
    env = dict(os.environ, PYTHONPYCACHEPREFIX=str(cache))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


ENV: dict[str, str] = {}
#: What `ansflow run` imports before its first step (Python, asyncio, SQLAlchemy, ours),
#: with the collector paused as the CLI does: the floor under the whole-process figure.
IMPORTS_ONLY = [
    sys.executable,
    "-c",
    "import gc; gc.disable(); "
    "import ansflow_jupyter.cli, ansflow_jupyter.service, ansflow_jupyter.engine.backends.local",
]


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def ansflow_run(
    workdir: Path,
    pipeline: Path,
    *extra: str,
    out: Path | None = None,
    cpu: list[float] | None = None,
) -> float:
    """One whole `ansflow run` process on a fresh SQLite store; wall seconds.

    `cpu` gets the process's CPU seconds (user + system) too: on a machine shared with
    other work, wall time is mostly waiting for a core, CPU time is what we cost."""
    db = workdir / f"store-{time.monotonic_ns()}.db"
    argv = [*ansflow_argv(), "run", str(pipeline), "--db", f"sqlite:///{db}", "--plain", *extra]
    with open(out or "/dev/null", "wb") as sink:
        before = children_cpu()
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=sink, stderr=subprocess.DEVNULL, env=ENV)
        elapsed = time.perf_counter() - start
        if cpu is not None:
            cpu.append(children_cpu() - before)
    db.unlink(missing_ok=True)
    return elapsed


def summary(times: list[float], cpu: list[float] | None = None) -> str:
    text = f"best {min(times) * 1000:8.1f} ms  median {statistics.median(times) * 1000:8.1f} ms"
    return text + (f"  (cpu best {min(cpu) * 1000:7.1f} ms)" if cpu else "")


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def one_step(workdir: Path, rounds: int) -> bool:
    pipeline = workdir / "one.yaml"
    pipeline.write_text("name: one\nsteps:\n  t: {run: 'true'}\n")
    bash: list[float] = []
    ours: list[float] = []
    cpu: list[float] = []
    for _ in range(rounds):
        bash.append(timed(lambda: subprocess.run(["bash", "-c", "true"], check=True)))
        ours.append(ansflow_run(workdir, pipeline, cpu=cpu))
    best = min(ours)
    print("a. 1-step `true` pipeline, whole process")
    print(f"   bash -c true        : {summary(bash)}")
    print(f"   ansflow run         : {summary(ours, cpu)}")
    print(f"   ratio best          : {best / min(bash):8.1f}x")
    print(f"   goal <= {ONE_STEP_GOAL} s      : {verdict(best <= ONE_STEP_GOAL)}")
    return best <= ONE_STEP_GOAL


def dag_yaml() -> str:
    lines = [
        "name: bench-dag",
        f"max-parallel: {bench_scheduling.PARALLEL}",
        "defaults: {shell: bash}",
        "steps:",
    ]
    for sid, needs in bench_scheduling.dag():
        lines.append(f"  {sid}: {{run: 'true'{', needs: [' + needs[0] + ']' if needs else ''}}}")
    return "\n".join(lines) + "\n"


def dag(workdir: Path, rounds: int) -> bool:
    make_dir = workdir / "make"
    make_dir.mkdir()
    bench_scheduling.write_makefile(make_dir, same_shell=True)
    pipeline = workdir / "dag.yaml"
    pipeline.write_text(dag_yaml())
    make: list[float] = []
    whole: list[float] = []
    inproc: list[float] = []
    imports: list[float] = []
    cpu: list[float] = []
    for _ in range(rounds):
        make.append(bench_scheduling.with_make(make_dir))
        whole.append(ansflow_run(workdir, pipeline, cpu=cpu))
        inproc.append(asyncio.run(bench_scheduling.through_executor()))
        imports.append(timed(lambda: subprocess.run(IMPORTS_ONLY, check=True, env=ENV)))
    ratio, inratio = min(whole) / min(make), min(inproc) / min(make)
    steps = bench_scheduling.CHAINS * bench_scheduling.LENGTH
    print(f"b. {steps}-step DAG (20 chains of 10, max-parallel {bench_scheduling.PARALLEL})")
    print(f"   make -j4 (bash)     : {summary(make)}")
    print(f"   ansflow run         : {summary(whole, cpu)}")
    print(f"   executor in-process : {summary(inproc)}")
    print(f"   imports alone       : {summary(imports)}  ({min(imports) / min(make):.2f}x make)")
    print(
        f"   ratio whole/make    : {ratio:8.2f}  (goal <= {DAG_GOAL}: {verdict(ratio <= DAG_GOAL)})"
    )
    print(
        f"   ratio in-proc/make  : {inratio:8.2f}  "
        f"(goal <= {DAG_INPROC_GOAL}: {verdict(inratio <= DAG_INPROC_GOAL)})"
    )
    return ratio <= DAG_GOAL and inratio <= DAG_INPROC_GOAL


def many_lines(workdir: Path, rounds: int) -> bool:
    lines = bench_output.LINES
    pipeline = workdir / "seq.yaml"
    pipeline.write_text(f"name: seq\nsteps:\n  seq: {{run: 'seq 1 {lines}'}}\n")
    out = workdir / "out.txt"
    base: list[float] = []
    plain: list[float] = []
    js: list[float] = []
    inproc: list[float] = []
    cpu_plain: list[float] = []
    cpu_js: list[float] = []
    for _ in range(rounds):
        base.append(bench_output.baseline())
        plain.append(ansflow_run(workdir, pipeline, out=out, cpu=cpu_plain))
        js.append(ansflow_run(workdir, pipeline, "--json", out=out, cpu=cpu_js))
        elapsed, count = asyncio.run(bench_output.through_executor())
        assert count == lines, count
        inproc.append(elapsed)

    def rate(times: list[float]) -> float:
        return lines / min(times)

    print(f"c. {lines:,}-line step, output to a file")
    print(f"   seq > /dev/null     : {summary(base)}")
    for label, times, cpu in (
        ("ansflow run (plain)", plain, cpu_plain),
        ("ansflow run --json ", js, cpu_js),
    ):
        print(f"   {label} : {summary(times, cpu)}  ({rate(times):,.0f} lines/s)")
    print(f"   executor in-process : {summary(inproc)}  ({rate(inproc):,.0f} lines/s)")
    ok = rate(plain) >= LINES_GOAL and rate(js) >= LINES_GOAL
    print(f"   goal >= {LINES_GOAL:,} lines/s whole-process: {verdict(ok)}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", choices=("a", "b", "c"))
    args = parser.parse_args()
    parts = {"a": one_step, "b": dag, "c": many_lines}
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        ENV.update(child_env(Path(tmp) / "pycache"))
        warm = Path(tmp) / "warm"
        warm.mkdir()
        one = warm / "one.yaml"
        one.write_text("name: warm\nsteps:\n  t: {run: 'true'}\n")
        ansflow_run(warm, one)  # fills the byte-code cache
        ansflow_run(warm, one, "--json")
        for key, fn in parts.items():
            if args.only in (None, key):
                sub = Path(tmp) / key
                sub.mkdir()
                results.append(fn(sub, args.rounds))
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
