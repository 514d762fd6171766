"""`validate()` of files full of unknown names: "did you mean" hints within a budget.

    python benchmarks/bench_hints.py [--n 3000]

A file with N steps whose needs all name a missing step, and one reading an unknown env
name in 1,000 matrix legs among N variables. Baseline: the same validate() without the
per-load hint state (every hint computed every time, as before). Goal: under a second.
"""

from __future__ import annotations

import argparse
import contextlib
import time

from ansflow_jupyter.pipeline import loader, validate


def cpu(text: str) -> float:
    """CPU seconds of one validate()."""
    start = time.process_time()
    validate(text, "bench.yml")
    return time.process_time() - start


def main() -> None:
    """Print budgeted vs unbounded CPU time per case and the ratio."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=3000)
    n = parser.parse_args().n
    needs = "".join(f"  step{i}: {{run: e, needs: [stepx{i}]}}\n" for i in range(n))
    env = ", ".join(f"VAR{i}: x" for i in range(n))
    legs = ", ".join(str(i) for i in range(1000))
    cases = {
        f"{n} unknown needs": "name: p\nsteps:\n" + needs,
        f"1 unknown env x 1,000 legs, {n} vars": (
            f"name: p\nenv: {{{env}}}\nsteps:\n  a:\n    matrix: {{x: [{legs}]}}\n"
            "    run: ${{ env.VARX }}\n"
        ),
    }
    for name, text in cases.items():
        ours = cpu(text)
        budgeted = loader.hint_budget
        loader.hint_budget = contextlib.nullcontext  # type: ignore[assignment]
        try:
            base = cpu(text)
        finally:
            loader.hint_budget = budgeted
        print(f"{name}: {ours:.2f} s CPU vs {base:.2f} s before ({base / ours:.0f}x)")


if __name__ == "__main__":
    main()
