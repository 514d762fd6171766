"""Workflow jobs run for real: the job runner, per-job workspaces, job-step groups."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from _engine_helpers import ListSink, run

from ansflow_jupyter.engine import Executor
from ansflow_jupyter.engine.backends import LocalBackend
from ansflow_jupyter.events import EventType, ExecutionStatus
from ansflow_jupyter.pipeline import load_pipeline_file

CORPUS = Path(__file__).parent.parent / "pipeline" / "workflows"


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@t", "-c", "user.name=t", "-C", str(repo), *args],
        check=True,
        capture_output=True,
    )


def repository(tmp_path: Path, workflow: str) -> Path:
    """A tiny git repository holding a corpus workflow, with uncommitted changes."""
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(CORPUS / workflow, repo / ".github" / "workflows" / workflow)
    (repo / "tracked.txt").write_text("committed\n")
    (repo / "gone.txt").write_text("deleted later\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "init")
    (repo / "data.txt").write_text("uncommitted data\n")  # untracked: copied too
    (repo / "tracked.txt").write_text("changed\n")
    (repo / "gone.txt").unlink()
    return repo


def execute(path: Path, execution_id: str = "wf-1") -> tuple[ExecutionStatus, ListSink]:
    sink = ListSink()
    spec = load_pipeline_file(path)
    status = run(Executor(spec, execution_id, LocalBackend(), sink).run(), timeout=120)
    sink.check_invariants()
    return status, sink


def job_steps(sink: ListSink, sid: str) -> list[tuple[str, str, Any]]:
    groups: dict[int, dict[str, Any]] = {}
    for data in sink.of(EventType.GROUP_UPDATE):
        if data["step_id"] == sid and data["kind"] == "job-step":
            groups[data["index"]] = data
    return [(g["title"], g["status"], g["reason"]) for _, g in sorted(groups.items())]


def test_a_job_runs_its_steps_in_order_with_github_files_and_outputs(tmp_path: Path) -> None:
    repo = repository(tmp_path, "steps.yml")
    status, sink = execute(repo / ".github" / "workflows" / "steps.yml")
    assert status is ExecutionStatus.FAILED  # `second` fails on purpose
    assert sink.final("first")["status"] == "success"
    assert sink.final("first")["outputs"] == {"answer": "42", "missing": ""}
    lines = sink.lines("first")
    assert "levels workflow job step yes hello ci=true gha=true" in lines
    assert "tool-ran" in lines  # GITHUB_PATH carried to the next step
    assert "python says 42" in lines
    assert "uncommitted data" in lines  # the workspace holds uncommitted changes too
    assert "changed" in lines and "committed" not in lines
    assert "should-not-run" not in lines
    assert job_steps(sink, "first") == [
        ("Set up job", "success", "exit"),
        ("Run actions/checkout@v4", "success", "exit"),
        ("Carry env and path", "success", "exit"),
        (
            'Run echo "levels $LEVEL $JOB_LEVEL $STEP_LEVEL $CARRIED $FROM_INPUT ci=$CI '
            'gha=$GITHUB_ACTIONS"',
            "success",
            "exit",
        ),
        ("Python shell", "success", "exit"),
        ("Allowed to fail", "failed", "exit"),
        ("Pipefail", "failed", "exit"),  # bash -o pipefail, as GitHub runs `shell: bash`
        ("Only on failure", "skipped", "condition-false"),
        ("Reads a file of the repository", "success", "exit"),
    ]
    second = sink.lines("second")
    assert "got 42 []" in second
    assert "cleanup-ran" in second and "never" not in second
    assert sink.final("second")["status"] == "failed"
    assert [s for _, s, _ in job_steps(sink, "second")] == [
        "success",
        "success",
        "failed",
        "success",
        "skipped",
    ]
    leftovers = subprocess.run(
        ["git", "-C", str(repo), "worktree", "list"], capture_output=True, text=True
    ).stdout
    assert len(leftovers.strip().splitlines()) == 1  # every job workspace removed


def test_matrix_legs_run_in_their_own_workspaces_and_skips_say_why(tmp_path: Path) -> None:
    repo = repository(tmp_path, "matrix.yml")
    status, sink = execute(repo / ".github" / "workflows" / "matrix.yml")
    assert status is ExecutionStatus.SUCCESS
    one = [x for x in sink.lines("test[os=ubuntu-latest,n=1]") if x.startswith("leg ")]
    two = [x for x in sink.lines("test[os=ubuntu-latest,n=2,extra=true]") if x.startswith("leg ")]
    assert one[0].startswith("leg ubuntu-latest 1  /") and two[0].startswith(
        "leg ubuntu-latest 2 true /"
    )
    assert one[0].split()[-1] != two[0].split()[-1]  # never the same directory
    windows = sink.final("test[os=windows-latest,n=2]")
    assert (windows["status"], windows["reason"]) == ("skipped", "runner-os")
    services = sink.final("services")
    assert (services["status"], services["reason"]) == ("skipped", "needs-container")
    assert job_steps(sink, "unsupported")[1:] == [
        ("Run someone/some-action@v2", "skipped", "unsupported-action"),
        ("Run actions/github-script@v7", "skipped", "unsupported-action"),
        ("Run echo ran-after-unsupported", "success", "exit"),
    ]
    assert "Skipped: action someone/some-action@v2 is not supported" in sink.lines("unsupported")


def test_a_failed_leg_cancels_its_siblings_unless_fail_fast_is_false(tmp_path: Path) -> None:
    repo = repository(tmp_path, "failfast.yml")
    path = repo / ".github" / "workflows" / "failfast.yml"
    sink = ListSink()
    spec = load_pipeline_file(path)
    status = run(Executor(spec, "wf-ff", LocalBackend(), sink, max_parallel=1).run(), 120)
    sink.check_invariants()
    assert status is ExecutionStatus.FAILED
    assert sink.final("fast[n=1]")["status"] == "failed"
    for leg in ("fast[n=2]", "fast[n=3]"):
        assert (sink.final(leg)["status"], sink.final(leg)["reason"]) == ("cancelled", "fail-fast")
    assert sink.final("slow[n=1]")["status"] == "failed"
    assert sink.final("slow[n=2]")["status"] == "success"


def test_contexts_secrets_summary_and_step_results(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("ANSFLOW_WF_TOKEN", "s3cr3t-value-123")
    repo = repository(tmp_path, "contexts.yml")
    status, sink = execute(repo / ".github" / "workflows" / "contexts.yml")
    assert status is ExecutionStatus.SUCCESS
    lines = sink.lines("ctx")
    assert "token *** end" in lines
    assert not any("s3cr3t-value-123" in line for line in lines)
    assert "event=push os=Linux job=ctx" in lines
    assert "ws=true total=1" in lines
    assert "sha-ok=true" in lines
    assert "outcome=failure conclusion=success" in lines
    assert '"line one\\nline two"' in lines
    assert "slow=n/a success" in lines
    assert sink.final("ctx")["summary"] > 0
    titles = [(t, s) for t, s, _ in job_steps(sink, "ctx")]
    assert ("Too slow", "failed") in titles


ACTION = """
name: greet
inputs:
  who: {default: nobody}
  punctuation: {default: "!"}
outputs:
  greeting:
    value: ${{ steps.make.outputs.text }}
runs:
  using: composite
  steps:
    - id: make
      shell: bash
      run: echo "text=hello ${{ inputs.who }}${{ inputs.punctuation }}" >> "$GITHUB_OUTPUT"
    - shell: bash
      if: inputs.who == 'world'
      run: echo "inner step ran for ${{ inputs.who }}"
    - shell: bash
      if: inputs.who == 'nobody'
      run: echo "never"
"""


def test_a_local_composite_action_runs_its_steps_with_inputs_and_outputs(
    tmp_path: Path,
) -> None:
    repo = repository(tmp_path, "composite.yml")
    (repo / ".github" / "actions" / "greet").mkdir(parents=True)
    (repo / ".github" / "actions" / "greet" / "action.yml").write_text(ACTION)
    status, sink = execute(repo / ".github" / "workflows" / "composite.yml")
    assert status is ExecutionStatus.SUCCESS, sink.lines("use")
    lines = sink.lines("use")
    assert "inner step ran for world" in lines and "never" not in lines
    assert "action said hello world!" in lines


def test_a_cancelled_job_leaves_no_workspace_behind(tmp_path: Path) -> None:
    repo = repository(tmp_path, "steps.yml")
    flow = repo / ".github" / "workflows" / "slow.yml"
    flow.write_text("on: push\njobs:\n  slow:\n    steps:\n      - run: echo started; sleep 60\n")
    sink = ListSink()
    executor = Executor(load_pipeline_file(flow), "wf-cancel", LocalBackend(), sink)

    async def scenario() -> ExecutionStatus:
        task = asyncio.ensure_future(executor.run())
        while "started" not in sink.lines("slow"):
            await asyncio.sleep(0.05)
        executor.cancel()
        return await task

    assert run(scenario(), 60) is ExecutionStatus.CANCELLED
    listed = subprocess.run(
        ["git", "-C", str(repo), "worktree", "list"], capture_output=True, text=True
    ).stdout
    assert len(listed.strip().splitlines()) == 1
    assert not (Path(tempfile.gettempdir()) / "ansflow-work" / "wf-cancel").exists()
