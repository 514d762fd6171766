"""Workflow artifacts: upload-artifact in one job and download-artifact in the next, against
the same two jobs handing the files over with `cp` through a shared folder (the baseline:
the same job and workspace costs, no store). Both run through `ansflow run` on a fresh
SQLite store; the ratio is the artifact store's cost over a plain copy.

    python benchmarks/bench_workflow_artifacts.py [--files 200] [--mib 64] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STORE = """
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: python3 {make}
      - uses: actions/upload-artifact@v4
        with:
          name: out
          path: out/
  use:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - uses: actions/download-artifact@v4
        with:
          name: out
          path: got
      - run: du -sh got
"""

COPY = """
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: python3 {make} && cp -r out {shared}/out
  use:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - run: cp -r {shared}/out got && du -sh got
"""

MAKE = """
import os
os.makedirs("out/small", exist_ok=True)
for i in range({files}):
    with open(f"out/small/f{{i}}.txt", "wb") as fh:
        fh.write(os.urandom(4096))
with open("out/big.bin", "wb") as fh:
    for _ in range({mib}):
        fh.write(os.urandom(1 << 20))
"""


def run(root: Path, name: str, text: str) -> float:
    repo = root / name
    flow = repo / ".github" / "workflows" / "ci.yml"
    flow.parent.mkdir(parents=True)
    flow.write_text(text)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    env = {**os.environ, "ANSFLOW_DB_URL": f"sqlite:///{root / name}.sqlite"}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "ansflow_jupyter.cli", "run", "--plain", str(flow)],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(done.stdout + done.stderr)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    store, copy = [], []
    for number in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            make = root / "make.py"
            make.write_text(MAKE.format(files=args.files, mib=args.mib))
            shared = root / "shared"
            shared.mkdir()
            copy.append(run(root, f"copy{number}", COPY.format(make=make, shared=shared)))
            store.append(run(root, f"store{number}", STORE.format(make=make)))
    s, c = statistics.median(store), statistics.median(copy)
    print(
        f"{args.files} x 4 KiB + {args.mib} MiB from one job to the next (median of {args.rounds})"
    )
    print(f"upload/download-artifact: {s:.2f} s; cp through a shared folder: {c:.2f} s")
    print(f"ratio {s / c:.2f}")


if __name__ == "__main__":
    main()
