"""The Python API: run_pipeline and ExecutionHandle (embedded mode, no kernel)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from _kernel_helpers import FAILING_PIPELINE, OK_PIPELINE, SLOW_PIPELINE, write

from ansflow_jupyter import PipelineFailed, run_pipeline
from ansflow_jupyter.errors import NotFound
from ansflow_jupyter.pipeline import SpecError

pytestmark = pytest.mark.usefixtures("embedded_store")


def test_yaml_text_and_file_path(tmp_path: Path) -> None:
    from_text = run_pipeline(OK_PIPELINE, wait=True, display=False)
    from_file = run_pipeline(write(tmp_path / "t.yml", OK_PIPELINE), wait=True, display=False)
    assert from_text.status == from_file.status == "success"
    assert from_text.id != from_file.id
    assert from_text.pipeline_name == "tiny"
    steps = from_file.steps()
    assert [steps[s]["status"] for s in ("hello", "after")] == ["success", "success"]


def test_wait_returns_status_and_raises_only_when_asked() -> None:
    handle = run_pipeline(FAILING_PIPELINE, display=False)
    assert handle.wait(timeout=60) == "failed"
    with pytest.raises(PipelineFailed, match="explode") as info:
        handle.wait(raise_on_failure=True)
    assert [f["step_id"] for f in info.value.failures] == ["explode"]  # not the tolerated lint
    assert info.value.failures[0]["tail"][-1] == "boom: something broke"
    assert len(info.value.failures[0]["tail"]) == 20


def test_run_pipeline_wait_raises_by_default() -> None:
    with pytest.raises(PipelineFailed, match="explode"):
        run_pipeline(FAILING_PIPELINE, wait=True, display=False)
    handle = run_pipeline(FAILING_PIPELINE, wait=True, display=False, raise_on_failure=False)
    assert handle.status == "failed"


def test_logs_tail() -> None:
    handle = run_pipeline(FAILING_PIPELINE, wait=True, display=False, raise_on_failure=False)
    assert handle.logs("explode", tail=2) == ["line 30", "boom: something broke"]
    assert handle.logs("setup") == ["setting up"]


def test_cancel_kills_the_step_process() -> None:
    handle = run_pipeline(SLOW_PIPELINE, display=False)
    deadline = time.monotonic() + 30
    pid = None
    while pid is None and time.monotonic() < deadline:
        pid = handle.steps()["nap"].get("pid")
        time.sleep(0.05)
    assert pid is not None
    handle.cancel()
    assert handle.wait(timeout=30) == "cancelled"
    assert handle.steps()["nap"]["status"] == "cancelled"
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_wait_timeout() -> None:
    handle = run_pipeline(SLOW_PIPELINE, display=False)
    with pytest.raises(TimeoutError):
        handle.wait(timeout=0.3)
    handle.cancel()
    assert handle.wait(timeout=30) == "cancelled"


def test_rerun_failed_only_reuses_successful_steps(tmp_path: Path) -> None:
    flag = tmp_path / "fixed"
    text = f"""\
name: fixable
steps:
  ok: {{run: echo fine}}
  fragile:
    needs: ok
    run: test -e {flag} && echo fixed
"""
    first = run_pipeline(text, wait=True, display=False, raise_on_failure=False)
    assert first.status == "failed"
    flag.touch()
    second = first.rerun(failed_only=True, wait=True, display=False)
    assert second.id != first.id
    steps = second.steps()
    assert steps["ok"]["reason"] == "reused"
    assert steps["fragile"]["status"] == "success"
    assert second.status == "success"


def test_bad_input_raises_domain_errors() -> None:
    with pytest.raises(NotFound, match=r"missing\.yml"):
        run_pipeline("missing.yml", display=False)
    with pytest.raises(SpecError):
        run_pipeline("name: x\nsteps: 3\n", display=False)


def test_repr_and_mimebundle() -> None:
    handle = run_pipeline(OK_PIPELINE, wait=True, display=False)
    assert handle.id in repr(handle)
    bundle = handle._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"]
    assert "tiny" in bundle["text/plain"]
    assert handle.id in bundle["text/plain"]
    assert handle.mode == "embedded"
    assert not any("ansflow" in key for key in bundle)  # embedded: no kernel-free renderer


def test_embedded_widget_follows_the_execution() -> None:
    handle = run_pipeline(FAILING_PIPELINE, display=False)
    widget = handle.widget
    assert widget.mode == "embedded"
    assert widget.execution_id == handle.id
    handle.wait(timeout=60)
    deadline = time.monotonic() + 10
    while widget.status != "failed" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert widget.status == "failed"  # the forwarded events reached the widget

    history = widget.snapshot_provider()  # what a view that says hello receives
    assert history[0]["type"] == "snapshot"
    lines = [
        line
        for event in history[1:]
        if event["data"]["step_id"] == "explode"
        for line in event["data"]["lines"]
    ]
    assert lines[0] == "line 1"
    assert lines[-1] == "boom: something broke"
    assert all(event["seq"] is None for event in history[1:])


def test_widget_cancel_button_cancels() -> None:
    handle = run_pipeline(SLOW_PIPELINE, display=False)
    handle.widget.on_cancel()
    assert handle.wait(timeout=30) == "cancelled"


class _ServerRunner:
    """Just enough of the server runner for displaying a handle (no HTTP)."""

    mode = "server"
    base_path = "/base/"

    def snapshot(self, execution_id: str) -> dict[str, Any]:
        execution = {"execution_id": execution_id, "pipeline_name": "p", "status": "running"}
        return {
            "type": "snapshot",
            "execution_id": execution_id,
            "seq": 1,
            "data": {"execution": execution, "steps": []},
        }

    def cancel(self, execution_id: str) -> None:
        pass


def test_server_mode_bundle_names_the_execution(monkeypatch: pytest.MonkeyPatch) -> None:
    from ansflow_jupyter.kernel import view
    from ansflow_jupyter.kernel.handle import EXECUTION_MIME_TYPE, ExecutionHandle
    from ansflow_jupyter.kernel.widget import EXECUTION_MIME_TYPE as WIDGET_MIME_TYPE

    assert EXECUTION_MIME_TYPE == WIDGET_MIME_TYPE == "application/vnd.ansflow.execution+json"
    runner: Any = _ServerRunner()
    handle = ExecutionHandle(runner, {"execution_id": "ex-7", "pipeline_name": "p"})
    bundle = handle._repr_mimebundle_()
    assert bundle[EXECUTION_MIME_TYPE] == {"execution_id": "ex-7", "base_url": "/base/"}
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"]
    assert {"text/plain", "text/html"} <= set(bundle)
    handle.widget.close()
    # Without the widget (no anywidget) the lab extension still gets the execution.
    monkeypatch.setattr(view, "make_widget", lambda *args: None)
    bare = ExecutionHandle(runner, {"execution_id": "ex-8"})
    assert bare._repr_mimebundle_()[EXECUTION_MIME_TYPE]["execution_id"] == "ex-8"


def test_embedded_mode_honours_ansflow_max_parallel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two independent steps that each hold a lock directory for a while: they fail when
    # they overlap, so the run succeeds only if at most one step runs at a time.
    monkeypatch.setenv("ANSFLOW_MAX_PARALLEL", "1")
    lock = tmp_path / "lock"
    hold = f"mkdir {lock} || exit 9; sleep 0.3; rmdir {lock}"
    pipeline = f"name: serial\nsteps:\n  a:\n    run: {hold}\n  b:\n    run: {hold}\n"
    handle = run_pipeline(pipeline, wait=True, display=False, raise_on_failure=False)
    assert handle.status == "success", handle.steps()


def test_outputs_of_each_step() -> None:
    text = """\
name: outputs
steps:
  build: {run: 'echo "version=2.0" >> "$ANSFLOW_OUTPUT"'}
  use: {needs: build, run: 'echo "seen=${{ needs.build.outputs.version }}" >> "$ANSFLOW_OUTPUT"'}
  quiet: {run: 'true'}
"""
    handle = run_pipeline(text, wait=True, display=False)
    assert handle.outputs == {"build": {"version": "2.0"}, "use": {"seen": "2.0"}}

def test_artifacts_of_a_handle(tmp_path: Path) -> None:
    text = f"""\
name: files
steps:
  make:
    run: echo hi > {tmp_path}/a.txt
    working-directory: {tmp_path}
    artifacts: [a.txt]
"""
    handle = run_pipeline(text, wait=True, display=False)
    (row,) = handle.artifacts()
    assert (row["step_id"], row["path"], row["size"], row["media_type"]) == (
        "make",
        "a.txt",
        3,
        "text/plain",
    )
