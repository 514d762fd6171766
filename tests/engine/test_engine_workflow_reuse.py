"""A reusable workflow end to end: called jobs run, the caller's node carries their
outputs and result, a failing called job fails the caller."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from _engine_helpers import ListSink, run

from ansflow_jupyter.engine import Executor
from ansflow_jupyter.engine.backends import LocalBackend
from ansflow_jupyter.events import EventType, ExecutionStatus
from ansflow_jupyter.pipeline import load_pipeline_file
from ansflow_jupyter.pipeline.github import WorkflowOptions

CORPUS = Path(__file__).parent.parent / "pipeline" / "workflows" / "reuse"


def repository(tmp_path: Path) -> Path:
    folder = tmp_path / "repo" / ".github" / "workflows"
    folder.mkdir(parents=True)
    for file in CORPUS.iterdir():
        shutil.copy(file, folder / file.name)
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)
    return folder


def execute(path: Path, **options: object) -> tuple[ExecutionStatus, ListSink]:
    sink = ListSink()
    spec = load_pipeline_file(path, workflow=WorkflowOptions(**options))  # type: ignore[arg-type]
    status = run(Executor(spec, "reuse-1", LocalBackend(), sink).run(), timeout=180)
    sink.check_invariants()
    return status, sink


def final_steps(sink: ListSink) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for data in sink.of(EventType.STEP_UPDATE):
        out.setdefault(data["step_id"], {}).update(data)
    return out


def lines(sink: ListSink, step: str) -> list[str]:
    return sink.lines(step)


def test_called_jobs_run_and_the_caller_passes_their_outputs_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLER_TOKEN", "s3cret-value")
    status, sink = execute(repository(tmp_path) / "ci.yml")
    steps = final_steps(sink)
    assert status is ExecutionStatus.SUCCESS, {k: v.get("status") for k, v in steps.items()}
    build = lines(sink, "call[flavour=fancy]/build")
    assert "build fancy loud=true count=2 token=***" in build  # the mapped secret, masked
    assert "test after hi-fancy success" in lines(sink, "call[flavour=fancy]/test")
    assert steps["call[flavour=fancy]"]["outputs"] == {"greeting": "hi-fancy"}
    # The last leg of the calling matrix wins, as for any matrix job's outputs.
    assert "after hi-fancy success" in lines(sink, "after")


def test_a_failing_called_job_fails_the_caller_and_skips_what_needs_it(tmp_path: Path) -> None:
    folder = repository(tmp_path)
    ci = (folder / "ci.yml").read_text().replace("count: 2", "count: 2\n      fail: true")
    (folder / "ci.yml").write_text(ci)
    status, sink = execute(folder / "ci.yml")
    steps = final_steps(sink)
    assert status is ExecutionStatus.FAILED
    assert steps["call[flavour=plain]/build"]["status"] == "failed"
    assert steps["call[flavour=plain]/test"]["status"] == "skipped"
    assert steps["call[flavour=plain]"]["status"] == "failed"
    assert steps["after"]["status"] == "skipped"


def test_the_callers_if_skips_its_called_jobs_and_itself(tmp_path: Path) -> None:
    status, sink = execute(repository(tmp_path) / "ci.yml", event="workflow_dispatch")
    steps = final_steps(sink)
    assert steps["setup"]["status"] == "success"
    for sid in ("call[flavour=plain]/build", "call[flavour=plain]/test", "call[flavour=plain]"):
        assert steps[sid]["status"] == "skipped", sid
    assert steps["after"]["status"] == "skipped"
    assert status is ExecutionStatus.SUCCESS
