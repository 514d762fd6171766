"""Run the `ansflow` command as a user would: a real process on a store in the test's folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def ansflow(cwd: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """`ansflow ARGS` in `cwd`, with the SQLite store `cwd/cli.sqlite`."""
    env = {**os.environ, "ANSFLOW_DB_URL": f"sqlite:///{cwd / 'cli.sqlite'}"}
    return subprocess.run(
        [sys.executable, "-m", "ansflow_jupyter.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=cwd,
    )
