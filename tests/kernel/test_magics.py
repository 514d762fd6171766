"""`%ansflow` and `%%ansflow` in an IPython shell without a kernel (embedded mode)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from _kernel_helpers import FAILING_PIPELINE, OK_PIPELINE, write
from IPython.core.error import UsageError

from ansflow_jupyter import ExecutionHandle, PipelineFailed


def test_loading_the_package_does_not_import_ipython() -> None:
    import subprocess

    code = "import ansflow_jupyter, sys; print('IPython' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_run_file_wait_embedded(ip: Any, tmp_path: Path) -> None:
    write(tmp_path / "tiny.yml", OK_PIPELINE)
    handle = ip.run_line_magic("ansflow", "run tiny.yml --wait --embedded")
    assert isinstance(handle, ExecutionHandle)
    assert handle.mode == "embedded"
    assert handle.status == "success"
    assert handle.logs("hello") == ["hello from tiny"]
    assert handle.logs() == ["hello from tiny", "after hello"]


def test_cell_magic_runs_yaml_with_env(ip: Any) -> None:
    cell = "name: cell\nsteps:\n  greet: {run: echo hi $WHO}\n"
    handle = ip.run_cell_magic("ansflow", "run --wait --env WHO=there", cell)
    assert handle.status == "success"
    assert handle.logs("greet") == ["hi there"]


def test_run_without_wait_returns_at_once(ip: Any, tmp_path: Path) -> None:
    write(tmp_path / "tiny.yml", OK_PIPELINE)
    handle = ip.run_line_magic("ansflow", "run tiny.yml")
    assert handle.wait(timeout=60) == "success"


def test_missing_file_is_a_usage_error(ip: Any) -> None:
    with pytest.raises(UsageError, match=r"pipeline file not found: nope\.yml"):
        ip.run_line_magic("ansflow", "run nope.yml")


def test_invalid_pipeline_names_file_line_and_key(ip: Any, tmp_path: Path) -> None:
    write(tmp_path / "bad.yml", "name: bad\nsteps:\n  a: {run: echo, needz: b}\n")
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("ansflow", "run bad.yml --embedded")
    message = str(info.value)
    assert "invalid pipeline" in message
    assert "bad.yml:3:" in message
    assert "needz" in message


def test_user_mistakes_show_no_traceback(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    result = ip.run_cell("%ansflow run nope.yml")
    captured = capsys.readouterr()
    assert not result.success
    assert isinstance(result.error_in_exec, UsageError)
    assert "Traceback" not in captured.out + captured.err


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("frobnicate", "invalid choice"),
        ("run", "needs a FILE"),
        ("run x.yml --env NOEQUALS", "KEY=VALUE"),
        ("show", "required"),
        ("run 'unclosed", "cannot parse"),
    ],
)
def test_bad_arguments(ip: Any, line: str, expected: str) -> None:
    with pytest.raises(UsageError, match=expected):
        ip.run_line_magic("ansflow", line)


def test_unknown_execution_id(ip: Any) -> None:
    with pytest.raises(UsageError, match="0123"):
        ip.run_line_magic("ansflow", "show 0123")


def test_wait_on_failing_pipeline_raises_pipeline_failed(ip: Any, tmp_path: Path) -> None:
    write(tmp_path / "broken.yml", FAILING_PIPELINE)
    with pytest.raises(PipelineFailed) as info:
        ip.run_line_magic("ansflow", "run broken.yml --wait")
    message = str(info.value)
    assert "explode" in message
    assert "'explode' failed (exit 3)" in message
    assert "boom: something broke" in message
    assert "line 30" in message
    assert "line 5\n" not in message  # only the tail of the log
    assert info.value.status == "failed"


def test_list_show_logs_cancel(ip: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path / "tiny.yml", OK_PIPELINE)
    handle = ip.run_line_magic("ansflow", "run tiny.yml --wait")
    capsys.readouterr()
    ip.run_line_magic("ansflow", "list")
    listing = capsys.readouterr().out
    assert handle.id in listing
    assert "tiny" in listing
    assert "success" in listing

    shown = ip.run_line_magic("ansflow", f"show {handle.id}")
    assert shown.id == handle.id
    assert shown.status == "success"

    capsys.readouterr()
    ip.run_line_magic("ansflow", f"logs {handle.id} --step after")
    assert capsys.readouterr().out.strip() == "after hello"

    ip.run_line_magic("ansflow", f"cancel {handle.id}")  # finished: a no-op, not an error
    assert capsys.readouterr().out.strip() == f"execution {handle.id} already ended: success"


def test_logs_of_an_unknown_step_is_an_error_and_a_matrix_step_prints_its_legs(
    ip: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        tmp_path / "legs.yml",
        "name: legs\nsteps:\n  t:\n    matrix: {py: ['3.11', '3.12']}\n"
        "    run: echo on ${{ matrix.py }}\n",
    )
    handle = ip.run_line_magic("ansflow", "run legs.yml --wait")
    with pytest.raises(UsageError, match=r"unknown step 'nope'; the steps are: t\[py=3.11\]"):
        ip.run_line_magic("ansflow", f"logs {handle.id} --step nope")
    capsys.readouterr()
    ip.run_line_magic("ansflow", f"logs {handle.id} --step t")
    assert capsys.readouterr().out.splitlines() == ["t[py=3.11] | on 3.11", "t[py=3.12] | on 3.12"]


def test_help_prints_usage(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    ip.run_line_magic("ansflow", "")
    assert "%ansflow run FILE" in capsys.readouterr().out


def test_run_goes_to_the_server_when_one_launched_the_kernel(
    ip: Any, tmp_path: Path, fake_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from _kernel_helpers import FakeServer

    api = "/base/ansflow/api/"
    FakeServer.answers[("GET", api + "executions")] = (200, {"executions": []})
    summary = {"execution_id": "e1", "pipeline_name": "tiny", "status": "pending"}
    FakeServer.answers[("POST", api + "executions")] = (201, summary)
    snapshot = {"v": 1, "seq": 3, "type": "snapshot", "execution_id": "e1", "ts": 0.0}
    snapshot["data"] = {"execution": {**summary, "status": "running"}, "steps": []}
    FakeServer.answers[("GET", api + "executions/e1")] = (200, snapshot)
    monkeypatch.setenv("ANSFLOW_SERVER_URL", fake_server)
    monkeypatch.setenv("ANSFLOW_SERVER_TOKEN", "secret")
    monkeypatch.setenv("ANSFLOW_SERVER_PID", str(os.getpid()))
    write(tmp_path / "tiny.yml", OK_PIPELINE)

    handle = ip.run_line_magic("ansflow", "run tiny.yml --env A=1")
    assert handle.mode == "server"
    assert handle.id == "e1"
    posted = next(r for r in FakeServer.seen if r["method"] == "POST")
    assert posted["body"] == {"path": str(tmp_path / "tiny.yml"), "env": {"A": "1"}}
    assert posted["auth"] == "ansflow-kernel secret"
    assert handle.widget.mode == "server"
    assert handle.widget.base_url == "/base/"
    assert handle.widget.execution_id == "e1"
    assert handle.widget.status == "running"  # from the snapshot at display time


def test_server_validation_errors_are_located(
    ip: Any, tmp_path: Path, fake_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from _kernel_helpers import FakeServer

    api = "/base/ansflow/api/"
    FakeServer.answers[("GET", api + "executions")] = (200, [])
    error = {"message": "unknown key 'needz'", "line": 3, "column": 16, "path": "steps.a.needz"}
    FakeServer.answers[("POST", api + "executions")] = (400, {"message": "bad", "errors": [error]})
    monkeypatch.setenv("ANSFLOW_SERVER_URL", fake_server)
    monkeypatch.setenv("ANSFLOW_SERVER_PID", str(os.getpid()))
    write(tmp_path / "bad.yml", "x\n")
    with pytest.raises(UsageError, match=r"bad\.yml:3:16: steps\.a\.needz: unknown key"):
        ip.run_line_magic("ansflow", "run bad.yml")


def test_failed_wait_shows_the_failure_not_our_internals(
    ip: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "broken.yml", FAILING_PIPELINE)
    result = ip.run_cell("%ansflow run broken.yml --wait")
    assert isinstance(result.error_in_exec, PipelineFailed)
    shown = capsys.readouterr()
    text = shown.out + shown.err
    assert "PipelineFailed: pipeline failed" in text
    assert "boom: something broke" in text
    assert "handle.py" not in text


def test_cell_with_invalid_yaml_is_located(ip: Any) -> None:
    with pytest.raises(UsageError, match=r"<pipeline>:\d+:\d+: YAML syntax error"):
        ip.run_cell_magic("ansflow", "run", "name: x\nsteps: [unclosed\n")
