"""A throwaway PostgreSQL cluster (`.ci/start-postgres.sh`) for the tests and benchmarks."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

_START = Path(__file__).resolve().parent.parent / ".ci" / "start-postgres.sh"


def installed() -> bool:
    """Whether PostgreSQL's server binaries are here."""
    return bool(glob.glob("/usr/lib/postgresql/*/bin/initdb"))


@contextlib.contextmanager
def pg_cluster() -> Iterator[str]:
    """The URL of a fresh cluster, stopped and removed afterwards; RuntimeError (with the
    script's own words) when it cannot start."""
    folder = tempfile.mkdtemp(prefix="ansflow-pg-")
    started = subprocess.run([str(_START), folder], capture_output=True, text=True, check=False)
    if started.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(started.stderr.strip())
    try:
        yield started.stdout.strip()
    finally:
        pg_ctl = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))[-1]
        user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(
            [*user, pg_ctl, "-D", f"{folder}/data", "stop", "-m", "immediate"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(folder, ignore_errors=True)
