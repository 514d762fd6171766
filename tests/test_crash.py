"""kill -9 of the process running an execution: the next start marks it interrupted, kills
what it left behind, and every log line that had been published is in the store."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ANSFLOW_DB_URL": f"sqlite:///{tmp_path / 'crash.sqlite'}"}
    return subprocess.run(
        [sys.executable, "-m", "ansflow_jupyter.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_mid_run_loses_no_published_line_and_leaves_no_process(
    tmp_path: Path, seed: int
) -> None:
    marker = f"ansflow-crash-{os.getpid()}-{seed}"
    pipeline = tmp_path / "crash.yml"
    pipeline.write_text(
        "name: crash\n"
        "steps:\n"
        "  talk:\n"
        "    run: |\n"
        f"      (exec -a {marker} sleep 300) &\n"
        "      for i in $(seq 1 100000); do echo line-$i; sleep 0.002; done\n"
    )
    env = {**os.environ, "ANSFLOW_DB_URL": f"sqlite:///{tmp_path / 'crash.sqlite'}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ansflow_jupyter.cli", "run", "--json", str(pipeline)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    published: list[str] = []
    execution_id = ""
    kill_after = random.Random(seed).randint(3, 40)  # log_update envelopes seen
    seen = 0
    deadline = time.time() + 30
    while seen < kill_after and time.time() < deadline:
        event = json.loads(proc.stdout.readline())
        execution_id = event["execution_id"]
        if event["type"] == "log_update":
            published += event["data"]["lines"]
            seen += 1
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert seen == kill_after, "the pipeline never got going"

    rows = [json.loads(line) for line in cli(tmp_path, "list", "--json").stdout.splitlines()]
    assert [(r["execution_id"], r["status"]) for r in rows] == [(execution_id, "interrupted")]
    stored = cli(tmp_path, "logs", execution_id, "--step", "talk").stdout.splitlines()
    assert stored[: len(published)] == published
    assert stored == [f"line-{i}" for i in range(1, len(stored) + 1)]
    leftovers = [
        p for p in psutil.process_iter(["cmdline"]) if (p.info["cmdline"] or [""])[0] == marker
    ]
    assert leftovers == []
    shown = cli(tmp_path, "show", execution_id).stdout
    assert "interrupted" in shown
