"""What real projects' workflows met: each case as small as the defect it showed."""

from __future__ import annotations

from pathlib import Path

from test_engine_workflow import execute, job_steps, repository

from ansflow_jupyter.events import EventType, ExecutionStatus


def test_a_secret_that_is_not_set_reads_empty_and_the_log_says_so_once(tmp_path: Path) -> None:
    repo = repository(tmp_path, "secrets.yml")
    status, sink = execute(repo / ".github" / "workflows" / "secrets.yml")
    assert status is ExecutionStatus.SUCCESS
    assert [(t, s) for t, s, _ in job_steps(sink, "publish")][1:] == [
        ("Publish", "skipped"),
        ("Upload", "success"),
    ]
    assert "password=[]" in sink.lines("publish")
    notes = [d["message"] for d in sink.of(EventType.ANNOTATION) if d["level"] == "warning"]
    assert notes == [
        "secrets.ANSFLOW_WF_ABSENT_TOKEN is not set on this machine: it reads as ''"
        " (set ANSFLOW_WF_ABSENT_TOKEN in the environment to give it)"
    ]


def test_a_missing_working_directory_fails_the_step_naming_the_folder(tmp_path: Path) -> None:
    repo = repository(tmp_path, "workdir.yml")
    (repo / "sub").mkdir()
    (repo / "sub" / "keep.txt").write_text("untracked: copied into the workspace\n")
    status, sink = execute(repo / ".github" / "workflows" / "workdir.yml")
    assert status is ExecutionStatus.FAILED
    assert [s for _, s, _ in job_steps(sink, "wd")][1:] == ["success", "failed", "skipped"]
    lines = sink.lines("wd") + sink.lines("wd", "stderr")
    missing = [line for line in lines if "working directory" in line]
    assert len(missing) == 1 and missing[0].endswith("/wd/repo/inner'. No such file or directory")
    assert not any("cannot run bash" in line for line in lines)
