"""A 50-cell notebook as a pipeline step (Executor + LocalBackend, with its control channel,
cell groups and the notebook rewritten after each cell) vs. `papermill` on the same
notebook, alternated, the median of ROUNDS each. Goal: ratio <= 1.1.

Run: python benchmarks/bench_notebook.py
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from ansflow_jupyter.engine import Executor
from ansflow_jupyter.engine.backends import LocalBackend
from ansflow_jupyter.events import Event, ExecutionStatus
from ansflow_jupyter.pipeline import load_pipeline

CELLS = 50
ROUNDS = 3


class NullSink:
    """Drops events."""

    async def write(self, events: list[Event]) -> None:
        pass


def make_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "P"}
    params = nbformat.v4.new_code_cell("n = 20000")
    params.metadata["tags"] = ["parameters"]
    cells = [params]
    for i in range(CELLS - 1):
        cells.append(nbformat.v4.new_code_cell(f"x{i} = sum(range(n))\nprint({i}, x{i})"))
    nb.cells = cells
    nbformat.write(nb, str(path))


def as_step(folder: Path) -> float:
    text = "name: bench\nsteps:\n  nb:\n    notebook: bench.ipynb\n    parameters: {n: 30000}\n"
    spec = load_pipeline(text, path=str(folder / "p.yml"), base_dir=folder)
    started = time.perf_counter()
    status = asyncio.run(Executor(spec, "bench", LocalBackend(), NullSink()).run())
    elapsed = time.perf_counter() - started
    assert status is ExecutionStatus.SUCCESS, status
    return elapsed


def with_papermill(folder: Path) -> float:
    argv = [sys.executable, "-m", "papermill", "bench.ipynb", "out.ipynb", "-p", "n", "30000"]
    started = time.perf_counter()
    subprocess.run(argv, cwd=folder, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_notebook(folder / "bench.ipynb")
        step, paper = [], []
        for _ in range(ROUNDS):
            paper.append(with_papermill(folder))
            step.append(as_step(folder))
        s, p = statistics.median(step), statistics.median(paper)
        print(f"{CELLS}-cell notebook, median of {ROUNDS}:")
        print(f"  papermill (baseline): {p:.2f} s   {[round(x, 2) for x in paper]}")
        print(f"  ansflow step:         {s:.2f} s   {[round(x, 2) for x in step]}")
        print(f"  ratio: {s / p:.2f}x (goal <= 1.1x)")


if __name__ == "__main__":
    main()
