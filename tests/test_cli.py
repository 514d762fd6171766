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
from cli_process import ansflow

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
    assert "── bad failed (" in result.stdout and "exit 3) ──\nsomething broke\n" in result.stdout
    assert "↷ after skipped (skipped: a step it needs failed)" in result.stdout
    assert "steps: 1 success, 1 failed, 1 skipped" in result.stdout.splitlines()[-1]


def test_invalid_pipeline_exits_2_with_a_located_error_and_records_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, "invalid.yml", "name: x\nsteps:\n  a: {run: echo, neds: [b]}\n")
    result = ansflow(tmp_path, "run", path)
    assert result.returncode == 2
    assert f"{path}:3:" in result.stderr
    assert "neds" in result.stderr and "needs" in result.stderr
    assert ansflow(tmp_path, "list", "--json").stdout == ""
    assert ansflow(tmp_path, "validate", path).returncode == 2


def test_a_missing_pipeline_file_is_named_without_a_line_0_column_0(tmp_path: Path) -> None:
    result = ansflow(tmp_path, "run", "nope.yml")
    assert result.returncode == 2
    missing = tmp_path / "nope.yml"
    assert result.stderr.strip() == f"nope.yml: pipeline file not found: {missing}"


def test_run_names_an_invalid_file_as_typed_like_validate(tmp_path: Path) -> None:
    write(tmp_path, "invalid.yml", "name: x\nsteps:\n  a: {run: echo, neds: [b]}\n")
    ran, validated = (ansflow(tmp_path, c, "invalid.yml") for c in ("run", "validate"))
    assert ran.returncode == validated.returncode == 2
    assert ran.stderr.startswith("invalid.yml:3:"), ran.stderr
    assert ran.stderr == validated.stderr


def test_validate_checks_a_notebook_as_run_reads_it(tmp_path: Path) -> None:
    good = tmp_path / "good.ipynb"
    cell = {"cell_type": "code", "metadata": {}, "source": "print(1)", "outputs": []}
    cell["execution_count"] = None
    good.write_text(
        json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    )
    result = ansflow(tmp_path, "validate", str(good))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{good}: ok"
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [')
    result = ansflow(tmp_path, "validate", str(broken))
    assert result.returncode == 2
    assert "not a valid notebook" in result.stderr and "name" not in result.stderr


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
    assert logs == ["hello | hello from tests", "world | world", "world | to-stderr"]
    assert ansflow(tmp_path, "logs", ok_id, "--tail", "1").stdout == "world | to-stderr\n"
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


def store_execution(tmp_path: Path, execution_id: str, name: str) -> None:
    """Record an execution straight into the CLI's store, as another user's run would be."""
    from ansflow_jupyter.store import Store

    store = Store(f"sqlite:///{tmp_path / 'cli.sqlite'}")
    try:
        store.create_execution(execution_id, name, "steps: {}", steps=[])
    finally:
        store.close()


def test_stored_markup_neither_crashes_nor_styles_list_and_show(tmp_path: Path) -> None:
    name = "[/] boom [link=https://evil.example]click[/link] [bold]x :smile:"
    result = ansflow(tmp_path, "run", write(tmp_path, "m.yml", f"name: '{name}'\n" + OK[12:]))
    assert result.returncode == 0, result.stderr
    listed = ansflow(tmp_path, "list")
    assert listed.returncode == 0, listed.stderr
    assert name in listed.stdout
    execution_id = json.loads(ansflow(tmp_path, "list", "--json").stdout)["execution_id"]
    shown = ansflow(tmp_path, "show", execution_id)
    assert shown.returncode == 0, shown.stderr
    assert name in shown.stdout and "\x1b" not in shown.stdout
    store_execution(tmp_path, "e5c", "clears\x1b[2Jthe screen")
    for command in ("list", "show e5c"):
        escaped = ansflow(tmp_path, *command.split())
        assert escaped.returncode == 0 and "\x1b" not in escaped.stdout
        assert "clears␛[2Jthe screen" in escaped.stdout


def test_short_ids_as_list_prints_them(tmp_path: Path) -> None:
    ansflow(tmp_path, "run", write(tmp_path, "ok.yml", OK))
    row = json.loads(ansflow(tmp_path, "list", "--json").stdout)
    short = ansflow(tmp_path, "list").stdout.splitlines()[1].split()[0]
    assert row["execution_id"].startswith(short) and len(short) == 12
    shown = ansflow(tmp_path, "show", short[:6])
    assert shown.returncode == 0 and row["execution_id"] in shown.stdout
    assert ansflow(tmp_path, "logs", short, "--step", "hello").stdout == "hello from tests\n"
    cancelled = ansflow(tmp_path, "cancel", short)
    assert cancelled.returncode == 0 and "already ended: success" in cancelled.stdout
    store_execution(tmp_path, "abcd1111", "one")
    store_execution(tmp_path, "abcd2222", "two")
    for command in ("show", "logs", "cancel", "rerun"):
        ambiguous = ansflow(tmp_path, command, "abcd")
        assert ambiguous.returncode == 2, command
        assert "'abcd' is ambiguous (abcd2222, abcd1111)" in ambiguous.stderr
        assert "Traceback" not in ambiguous.stderr
    assert "one" in ansflow(tmp_path, "show", "abcd1").stdout


MATRIX = """\
name: matrix logs
steps:
  build:
    matrix: {python: ["3.11", "3.12"]}
    run: "echo built ${{ matrix.python }}"
  check: {needs: build, run: echo checked}
"""


def test_logs_prefix_steps_show_matrix_legs_and_refuse_unknown_steps(tmp_path: Path) -> None:
    assert ansflow(tmp_path, "run", write(tmp_path, "m.yml", MATRIX)).returncode == 0
    execution_id = json.loads(ansflow(tmp_path, "list", "--json").stdout)["execution_id"]
    every = ansflow(tmp_path, "logs", execution_id).stdout.splitlines()
    assert sorted(every[:2]) == [
        "build[python=3.11] | built 3.11",
        "build[python=3.12] | built 3.12",
    ]
    assert every[2] == "check | checked"
    legs = ansflow(tmp_path, "logs", execution_id, "--step", "build").stdout.splitlines()
    assert sorted(legs) == sorted(every[:2])
    one = ansflow(tmp_path, "logs", execution_id, "--step", "build[python=3.12]")
    assert one.stdout == "built 3.12\n"  # one step: its raw lines
    followed = ansflow(tmp_path, "logs", execution_id, "--step", "build", "--follow")
    assert sorted(followed.stdout.splitlines()) == sorted(legs)
    unknown = ansflow(tmp_path, "logs", execution_id, "--step", "buil")
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert "unknown step 'buil'" in unknown.stderr and "check" in unknown.stderr


FLAKY = """\
name: flaky
steps:
  a:
    retry: {max: 1, delay: 0.05}
    run: |
      n=$(cat tries 2>/dev/null || echo 0); n=$((n + 1)); echo $n > tries
      echo "try $n"
      [ "$n" -ge 2 ] || exit 7
"""


def test_logs_of_a_retried_step_say_where_each_attempt_begins(tmp_path: Path) -> None:
    assert ansflow(tmp_path, "run", write(tmp_path, "flaky.yml", FLAKY)).returncode == 0
    execution_id = json.loads(ansflow(tmp_path, "list", "--json").stdout)["execution_id"]
    logs = ansflow(tmp_path, "logs", execution_id, "--step", "a").stdout.splitlines()
    assert logs == ["try 1", "── attempt 1 failed (exit 7); attempt 2 follows ──", "try 2"]


def test_piped_failure_report_is_not_wrapped(tmp_path: Path) -> None:
    long_line = "x" * 150 + " end-of-line"
    path = write(
        tmp_path,
        "long.yml",
        f"name: {'n' * 90}\nsteps:\n  bad: {{run: 'echo {long_line}; exit 1'}}\n",
    )
    out = ansflow(tmp_path, "run", path).stdout.splitlines()
    report = out.index(next(x for x in out if "bad failed" in x and x.endswith("──")))
    assert out[report + 1] == long_line
    assert out[-1].startswith("✖ failed  " + "n" * 90) and out[-1].endswith("1 failed")


def test_rerun_failed_reuses_what_succeeded(tmp_path: Path) -> None:
    first = ansflow(tmp_path, "run", write(tmp_path, "bad.yml", FAILING))
    assert first.returncode == 1
    failed_id = json.loads(ansflow(tmp_path, "list", "--json").stdout)["execution_id"]
    again = ansflow(tmp_path, "rerun", failed_id[:8], "--failed")
    assert again.returncode == 1, again.stderr
    assert f"re-running {failed_id[:12]} as " in again.stderr
    assert f"good success (reused from run {failed_id[:12]})" in again.stdout
    assert again.stdout.splitlines()[-1].endswith("steps: 1 failed, 1 skipped, 1 reused")
    assert "something broke" in again.stdout
    rows = [json.loads(line) for line in ansflow(tmp_path, "list", "--json").stdout.splitlines()]
    assert len(rows) == 2 and rows[0]["execution_id"] != failed_id
    forced = ansflow(tmp_path, "rerun", failed_id, "--force", "--json")
    events = [json.loads(line) for line in forced.stdout.splitlines()]
    assert forced.returncode == 1 and events[0]["type"] == "snapshot"
    assert '"fine"' in forced.stdout and "something broke" in forced.stdout  # good ran again


@pytest.mark.timeout(60)
def test_cancel_stops_an_ansflow_run_in_another_process(tmp_path: Path) -> None:
    path = write(tmp_path, "slow.yml", "name: slow\nsteps:\n  wait: {run: sleep 300}\n")
    env = {**os.environ, "ANSFLOW_DB_URL": f"sqlite:///{tmp_path / 'cli.sqlite'}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ansflow_jupyter.cli", "run", path],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.time() + 20
    rows: list[dict[str, str]] = []
    while time.time() < deadline and not (rows and rows[0]["status"] == "running"):
        rows = [json.loads(x) for x in ansflow(tmp_path, "list", "--json").stdout.splitlines()]
        time.sleep(0.2)
    assert rows and rows[0]["status"] == "running"
    cancelled = ansflow(tmp_path, "cancel", rows[0]["execution_id"][:10])
    assert cancelled.returncode == 0, cancelled.stderr
    # The request goes through the store; the owner cancels (exit 1: cancelled, not by Ctrl-C).
    assert proc.wait(timeout=30) == 1
    assert json.loads(ansflow(tmp_path, "list", "--json").stdout)["status"] == "cancelled"
    # `show` does not repeat the badge on a line of its own ("cancelled" under ■ cancelled).
    shown = ansflow(tmp_path, "show", rows[0]["execution_id"]).stdout.splitlines()
    assert "■ cancelled" in shown[0] and shown[1].split()[0] == "status", shown


def test_summary_counts_by_category(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "mixed.yml",
        """\
        name: mixed
        steps:
          good: {run: echo fine}
          flaky: {run: "echo oops; exit 1", continue-on-error: true}
          bad: {needs: good, run: "echo broke; exit 3"}
          after: {needs: bad, run: echo never}
          off: {if: "false", run: echo off}
        """,
    )
    result = ansflow(tmp_path, "run", path)
    assert result.returncode == 1
    summary = result.stdout.splitlines()[-1]
    assert summary.endswith("steps: 1 success, 1 failed, 1 allowed-failure, 2 skipped")
    assert "── bad failed" in result.stdout and "── flaky" not in result.stdout
    assert "✖ flaky failed (" in result.stdout and "exit 1, allowed to fail)" in result.stdout
    execution_id = json.loads(ansflow(tmp_path, "list", "--json").stdout)["execution_id"]
    shown = ansflow(tmp_path, "show", execution_id).stdout
    assert "5 steps: 1 success, 1 failed, 1 allowed-failure, 2 skipped" in shown
    assert "skipped: its if: condition was false" in shown


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


@pytest.mark.parametrize("mode", ["--plain", "--json"])
def test_start_up_loads_no_rendering_code_and_runs_no_collection(tmp_path: Path, mode: str) -> None:
    # Start-up is most of a short `ansflow run`: these imports were half of it.
    pipeline = write(tmp_path, "ok.yml", OK)
    probe = (
        "import sys\n"
        "from ansflow_jupyter.cli import main\n"
        f"code = main(['run', {pipeline!r}, {mode!r}])\n"
        "import gc\n"
        "heavy = {'rich', 'fsspec', 'sqlalchemy.orm'} & set(sys.modules)\n"
        "print('LOADED', sorted(heavy), file=sys.stderr)\n"
        "print('GC', gc.isenabled(), gc.get_stats()[2]['collections'], file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    env = {**os.environ, "ANSFLOW_DB_URL": f"sqlite:///{tmp_path / 'cli.sqlite'}"}
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stderr
    # ...and the collector, walking start-up's objects again and again, a tenth of it; it
    # runs again once the store is open (and after `main` returns, for callers in Python).
    assert "GC True 0" in result.stderr
