"""`ansflow run` stopped by a signal other than Ctrl-C: SIGTERM (`timeout`, a CI runner,
`kill`) and SIGHUP (the terminal closed) cancel the run as Ctrl-C does; no step process
is left behind and the run is not left `running`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from ansflow_jupyter.store import Store


def marked(marker: str) -> list[psutil.Process]:
    """Processes whose command line carries the marker."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if marker in " ".join(proc.info["cmdline"] or []):
            found.append(proc)
    return found


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_cancels_the_run_and_leaves_no_step_process(
    tmp_path: Path, sig: signal.Signals
) -> None:
    marker = f"ansflow-signal-{os.getpid()}-{sig.name}"
    pipeline = tmp_path / "nap.yml"
    pipeline.write_text(
        "name: nap\nsteps:\n  nap:\n    run: |\n"
        f"      echo napping\n      exec -a {marker} sleep 300\n"
    )
    url = f"sqlite:///{tmp_path / 'signals.sqlite'}"
    env = {**os.environ, "ANSFLOW_DB_URL": url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ansflow_jupyter.cli", "run", "--plain", str(pipeline)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not marked(marker):
            assert time.monotonic() < deadline, "the step never started"
            assert proc.poll() is None
            time.sleep(0.05)
        proc.send_signal(sig)
        code = proc.wait(timeout=60)
        assert code == 128 + sig
        store = Store(url)
        try:
            (run,) = store.list_executions()
        finally:
            store.close()
        assert run["status"] == "cancelled"
        assert marked(marker) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for left in marked(marker):
            left.kill()
