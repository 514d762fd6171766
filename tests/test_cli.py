"""The `ansflow` command as a user runs it: a real subprocess, a real SQLite file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

OK = """\
name: cli ok
steps:
  hello: {run: "echo hello from $WHO"}
  world: {needs: hello, run: "echo world; echo to-stderr >&2"}
env: {WHO: tests}
"""
FAILING = """\
name: cli failing
steps:
  good: {run: echo fine}
  bad: {needs: good, run: "echo something broke; exit 3"}
  after: {needs: bad, run: echo never}
"""


def ansflow(tmp_path: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ANSFLOW_DB_URL": f"sqlite:///{tmp_path / 'cli.sqlite'}"}
    return subprocess.run(
        [sys.executable, "-m", "ansflow_jupyter.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=tmp_path,
    )


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_run_success_prints_lines_and_exits_0(tmp_path: Path) -> None:
    result = ansflow(tmp_path, "run", write(tmp_path, "ok.yml", OK))
    assert result.returncode == 0, result.stderr
    assert "hello | hello from tests" in result.stdout
    assert "world | to-stderr" in result.stdout
    assert "✔ world success" in result.stdout
    assert "2/2 steps" in result.stdout


def test_failed_pipeline_exits_1_and_shows_the_failing_tail(tmp_path: Path) -> None:
    result = ansflow(tmp_path, "run", write(tmp_path, "bad.yml", FAILING))
    assert result.returncode == 1
    assert "bad failed (exit, exit 3)" in result.stdout
    assert "something broke" in result.stdout
    assert "↷ after skipped" in result.stdout


def test_invalid_pipeline_exits_2_with_a_located_error_and_records_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, "invalid.yml", "name: x\nsteps:\n  a: {run: echo, neds: [b]}\n")
    result = ansflow(tmp_path, "run", path)
    assert result.returncode == 2
    assert f"{path}:3:" in result.stderr
    assert "neds" in result.stderr and "needs" in result.stderr
    assert ansflow(tmp_path, "list", "--json").stdout == ""
    assert ansflow(tmp_path, "validate", path).returncode == 2


def test_json_stream_is_contiguous_and_ends_with_the_final_update(tmp_path: Path) -> None:
    result = ansflow(tmp_path, "run", "--json", write(tmp_path, "ok.yml", OK))
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[0]["type"] == "snapshot"
    seqs = [e["seq"] for e in events[1:]]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert events[-1]["type"] == "execution_update"
    assert events[-1]["data"]["status"] == "success"
    assert {e["v"] for e in events} == {1}


def test_history_list_show_and_logs(tmp_path: Path) -> None:
    ansflow(tmp_path, "run", write(tmp_path, "ok.yml", OK))
    ansflow(tmp_path, "run", write(tmp_path, "bad.yml", FAILING))
    rows = [json.loads(line) for line in ansflow(tmp_path, "list", "--json").stdout.splitlines()]
    assert [r["pipeline_name"] for r in rows] == ["cli failing", "cli ok"]
    assert set(rows[0]) == {"execution_id", "pipeline_name", "status", "started_at", "duration"}
    assert rows[0]["status"] == "failed"
    ok_id = rows[1]["execution_id"]
    shown = ansflow(tmp_path, "show", ok_id).stdout
    assert "hello" in shown and "success" in shown
    logs = ansflow(tmp_path, "logs", ok_id).stdout.splitlines()
    assert logs == ["hello from tests", "world", "to-stderr"]
    assert ansflow(tmp_path, "logs", ok_id, "--tail", "1").stdout == "to-stderr\n"
    assert (
        ansflow(tmp_path, "logs", ok_id, "--step", "world", "--grep", "std").stdout == "to-stderr\n"
    )
    assert ansflow(tmp_path, "logs", ok_id, "--follow").stdout.splitlines() == logs
    missing = ansflow(tmp_path, "show", "no-such-id")
    assert missing.returncode == 2 and "no-such-id" in missing.stderr


def test_schema_is_json(tmp_path: Path) -> None:
    schema = json.loads(ansflow(tmp_path, "schema").stdout)
    assert "steps" in schema["properties"]


@pytest.mark.timeout(60)
def test_ctrl_c_kills_every_step_process_and_exits_130(tmp_path: Path) -> None:
    marker = f"ansflow-ctrl-c-{os.getpid()}"
    path = write(
        tmp_path,
        "long.yml",
        f"""\
        name: long
        steps:
          stubborn:
            run: |
              bash -c 'trap "" TERM; exec -a {marker} sleep 300' &
              sleep 300
          sleeper: {{run: "exec -a {marker} sleep 300"}}
        """,
    )
    env = {**os.environ, "ANSFLOW_DB_URL": f"sqlite:///{tmp_path / 'cli.sqlite'}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ansflow_jupyter.cli", "run", path],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.time() + 20
    while time.time() < deadline and len(marked(marker)) < 2:
        time.sleep(0.1)
    assert len(marked(marker)) == 2, "the step processes never started"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert marked(marker) == []
    assert "cancelled" in out


def marked(marker: str) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmdline = p.info["cmdline"] or []
        if cmdline and cmdline[0] == marker:
            found.append(p)
    return found


CACHED = """\
name: cli cache
steps:
  build:
    run: mkdir -p dist && echo built >> dist/a.txt && echo ran
    artifacts: [dist/]
    cache: {inputs: [c.yml]}
"""


def test_artifacts_cache_and_force_from_the_command_line(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yml", CACHED)
    assert ansflow(tmp_path, "run", "--plain", path).returncode == 0
    second = ansflow(tmp_path, "run", "--plain", path)
    assert "✔ build success" in second.stdout and "cached" in second.stdout
    assert "build | ran" not in second.stdout
    forced = ansflow(tmp_path, "run", "--plain", "--force-step", "build", path)
    assert "build | ran" in forced.stdout
    rows = [json.loads(x) for x in ansflow(tmp_path, "list", "--json").stdout.splitlines()]
    newest = rows[0]["execution_id"]
    listed = ansflow(tmp_path, "artifacts", newest, "--json")
    (row,) = [json.loads(x) for x in listed.stdout.splitlines()]
    assert (row["step_id"], row["path"], row["size"]) == ("build", "dist/a.txt", 12)
    table = ansflow(tmp_path, "artifacts", newest).stdout
    assert "dist/a.txt" in table and "12 B" in table
    got = ansflow(tmp_path, "artifacts", newest, "--download", "out")
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "out" / "build" / "dist" / "a.txt").read_text() == "built\nbuilt\n"
    entries = ansflow(tmp_path, "cache", "list", "--json").stdout.splitlines()
    assert [json.loads(e)["step_id"] for e in entries] == ["build"]
    assert ansflow(tmp_path, "cache", "clear").stdout.strip() == "removed 1 cache entries"
    assert ansflow(tmp_path, "cache", "list").stdout.strip() == "(none)"
    unknown = ansflow(tmp_path, "artifacts", "nope")
    assert (unknown.returncode, unknown.stderr.strip()) == (
        2,
        "ansflow: error: execution nope not found",
    )
