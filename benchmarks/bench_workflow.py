"""Workflow files: parallel matrix jobs, and the cost of a job's workspace.

1. A workflow with 4 matrix test jobs (each runs the same CPU-light, sleep-bound test
   command) against running the 4 commands one after another in one shell: the wall-time
   ratio (goal < 1: the legs run in parallel, each in its own workspace).
2. Creating a job workspace (engine/workspace.py: `git worktree add` + the uncommitted
   changes laid over it) for a 10,000-file repository with 100 changed and 100 untracked
   files, against a bare `git worktree add` of the same repository (goal <= 2x).

    python benchmarks/bench_workflow.py [--files 10000] [--sleep 1.0] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from ansflow_jupyter.engine import Executor
from ansflow_jupyter.engine.backends import LocalBackend
from ansflow_jupyter.engine.workspace import create, remove
from ansflow_jupyter.events import Event
from ansflow_jupyter.pipeline import load_pipeline_file

WORKFLOW = """
on: push
jobs:
  test:
    strategy:
      matrix:
        n: [1, 2, 3, 4]
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: {command}
"""


class Sink:
    async def write(self, events: list[Event]) -> None:
        """Discard events (only the wall time matters here)."""


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=b@b", "-c", "user.name=b", "-C", str(repo), *args],
        check=True,
        capture_output=True,
    )


def make_repo(root: Path, files: int) -> Path:
    repo = root / "repo"
    for i in range(files):
        folder = repo / f"pkg{i // 100}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"mod{i}.py").write_text(f"VALUE = {i}\n" * 5)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "init")
    for i in range(min(100, files // 100)):
        (repo / f"pkg{i}" / f"mod{i * 100}.py").write_text("changed\n")
        (repo / f"pkg{i}" / f"new{i}.py").write_text("untracked\n")
    return repo


def bench_matrix(root: Path, sleep: float) -> tuple[float, float]:
    command = f"python3 -c 'import time; time.sleep({sleep})'"
    repo = make_repo(root / "matrix", 50)
    flow = repo / ".github" / "workflows" / "ci.yml"
    flow.parent.mkdir(parents=True)
    flow.write_text(WORKFLOW.format(command=command))
    start = time.perf_counter()
    subprocess.run(" && ".join([command] * 4), shell=True, check=True)
    serial = time.perf_counter() - start
    spec = load_pipeline_file(flow)
    start = time.perf_counter()
    asyncio.run(Executor(spec, "bench-wf", LocalBackend(), Sink(), max_parallel=4).run())
    parallel = time.perf_counter() - start
    return serial, parallel


def bench_workspace(root: Path, files: int, rounds: int) -> tuple[float, float]:
    repo = make_repo(root / "big", files)
    ours, bare = [], []
    for r in range(rounds):
        dest = root / f"ws{r}"
        start = time.perf_counter()
        create(repo, dest)
        ours.append(time.perf_counter() - start)
        remove(repo, dest)
        plain = root / f"wt{r}"
        start = time.perf_counter()
        git(repo, "worktree", "add", "--detach", "--quiet", str(plain), "HEAD")
        bare.append(time.perf_counter() - start)
        git(repo, "worktree", "remove", "--force", str(plain))
    return statistics.median(ours), statistics.median(bare)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--sleep", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ansflow-bench-wf-"))
    try:
        serial, parallel = bench_matrix(root, args.sleep)
        print(
            f"4 matrix jobs: {parallel:.2f} s in parallel vs {serial:.2f} s one after another "
            f"(ratio {parallel / serial:.2f}; goal < 1)"
        )
        ours, bare = bench_workspace(root, args.files, args.rounds)
        print(
            f"workspace of a {args.files:,}-file repository: {ours:.2f} s vs git worktree add "
            f"{bare:.2f} s (ratio {ours / bare:.2f}; goal <= 2)"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
