"""Cancel where orphans are reaped late: a container whose PID 1 is `jupyter lab` (or any
subreaper that reaps only its own children) keeps a killed step's children as zombies.
A zombie is dead: the cancel must not wait out the kill grace for it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ansflow_jupyter.store import Store

# A parent that adopts orphans (PR_SET_CHILD_SUBREAPER) and never reaps them, like a
# container's PID 1 that is not an init; it waits for the CLI alone and passes its code on.
SUBREAPER = """
import ctypes, subprocess, sys
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)
sys.exit(subprocess.call(sys.argv[1:]))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_CHILD_SUBREAPER is Linux only")
def test_a_cancel_does_not_wait_for_zombies_nobody_reaps(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'orphans.sqlite'}"
    pipeline = tmp_path / "orphans.yml"
    # Background children die with the step shell, become orphans, and stay zombies.
    pipeline.write_text(
        "name: orphans\nsteps:\n  nap:\n"
        "    run: |\n      sleep 600 &\n      sleep 600 &\n      echo started\n      wait\n"
    )
    # A grace far beyond the test's patience: waiting for the zombies would show.
    env = {**os.environ, "ANSFLOW_DB_URL": url, "ANSFLOW_KILL_GRACE": "600"}
    cli = [sys.executable, "-m", "ansflow_jupyter.cli", "run", "--plain", str(pipeline)]
    proc = subprocess.Popen(
        [sys.executable, "-c", SUBREAPER, *cli],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    store = None
    try:
        deadline = time.monotonic() + 60
        execution_id = ""
        while time.monotonic() < deadline:
            if Path(url.removeprefix("sqlite:///")).exists():
                store = store or Store(url)
                rows = store.list_executions(status="running")
                if rows and store.log_lines(rows[0]["execution_id"], step="nap"):
                    execution_id = rows[0]["execution_id"]
                    break
            time.sleep(0.1)
        assert execution_id, "the run never started"
        assert store is not None
        store.request_cancel(execution_id)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail("the cancelled run waited for its zombie children (the kill grace)")
        assert code == 1  # cancelled elsewhere
        assert store.get_execution(execution_id)["status"] == "cancelled"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()
        if store is not None:
            store.close()
