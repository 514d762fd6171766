"""`ansflow validate` and `ansflow run` on workflow files (real processes, a tiny git repo)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from cli_process import ansflow

CORPUS = Path(__file__).parent / "pipeline" / "workflows"


def test_validate_says_what_runs_and_what_is_skipped_and_why(tmp_path: Path) -> None:
    done = ansflow(tmp_path, "validate", str(CORPUS / "matrix.yml"))
    assert done.returncode == 0, done.stderr
    assert "run   test[os=ubuntu-latest,n=1]" in done.stdout
    assert "skip  test[os=windows-latest,n=2]: runner-os" in done.stdout
    assert "skip  services: needs-container" in done.stdout
    assert "skip Run someone/some-action@v2: unsupported-action" in done.stdout
    strict = ansflow(tmp_path, "validate", "--strict", str(CORPUS / "matrix.yml"))
    assert strict.returncode == 2
    assert "matrix.yml:33:15: jobs.unsupported.steps[0].uses:" in strict.stderr


def test_run_one_job_with_event_and_input(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    workflow = repo / ".github" / "workflows" / "steps.yml"
    shutil.copy(CORPUS / "steps.yml", workflow)
    (repo / "data.txt").write_text("data\n")
    (repo / "tracked.txt").write_text("tracked\n")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    args = ("run", "--plain", "--job", "first", "--event", "workflow_dispatch")
    done = ansflow(tmp_path, *args, "--input", "greeting=bonjour", str(workflow))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "levels workflow job step yes bonjour ci=true gha=true" in done.stdout
    assert "second" not in done.stdout


def test_rerun_repeats_the_job_event_and_inputs(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    workflow = repo / ".github" / "workflows" / "steps.yml"
    shutil.copy(CORPUS / "steps.yml", workflow)
    (repo / "data.txt").write_text("data\n")
    (repo / "tracked.txt").write_text("tracked\n")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    args = ("run", "--plain", "--job", "first", "--event", "workflow_dispatch")
    done = ansflow(tmp_path, *args, "--input", "greeting=bonjour", str(workflow))
    assert done.returncode == 0, done.stdout + done.stderr
    listed = ansflow(tmp_path, "list", "--json")
    execution_id = listed.stdout.split('"execution_id": "')[1].split('"')[0]
    again = ansflow(tmp_path, "rerun", "--plain", execution_id)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "levels workflow job step yes bonjour ci=true gha=true" in again.stdout
    assert "second" not in again.stdout


def test_workflow_options_on_a_native_pipeline_are_refused(tmp_path: Path) -> None:
    pipeline = tmp_path / "p.yml"
    pipeline.write_text("name: p\nsteps:\n  a: {run: echo a}\n")
    done = ansflow(tmp_path, "run", "--plain", "--job", "a", str(pipeline))
    assert done.returncode == 2
    assert "apply to GitHub Actions workflow files only" in done.stderr
    assert ansflow(tmp_path, "run", "--plain", str(pipeline)).returncode == 0


def test_a_matrix_from_needs_outputs_is_decided_at_run_time(tmp_path: Path) -> None:
    done = ansflow(tmp_path, "validate", str(CORPUS / "dynamic.yml"))
    assert done.returncode == 0, done.stderr
    assert "run   tests (after plan)" in done.stdout
    assert "note: its matrix legs are decided at run time" in done.stdout
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    workflow = repo / ".github" / "workflows" / "dynamic.yml"
    shutil.copy(CORPUS / "dynamic.yml", workflow)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    done = ansflow(tmp_path, "run", "--plain", str(workflow))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "testing on x" in done.stdout and "testing on y" in done.stdout
    assert "tests ended success" in done.stdout
    listed = ansflow(tmp_path, "list", "--json").stdout.splitlines()
    shown = json.loads(
        ansflow(tmp_path, "show", "--json", json.loads(listed[0])["execution_id"]).stdout
    )
    steps = {s["step_id"]: s["status"] for s in shown["data"]["steps"]}
    assert steps == {
        "plan": "success",
        "tests": "success",
        "tests[python-version=x]": "success",
        "tests[python-version=y]": "success",
        "done": "success",
    }


def test_validate_skips_a_job_whose_if_is_already_false_for_the_event(tmp_path: Path) -> None:
    # filelock's changelog job runs for pull requests only: under push, validate said
    # "run changelog" while the run skipped it.
    flow = tmp_path / "ci.yml"
    flow.write_text(
        "on: [push, pull_request]\njobs:\n"
        "  changelog:\n    if: >-\n      github.event_name == 'pull_request' &&"
        " !contains(github.event.pull_request.labels.*.name, 'skip news')\n"
        "    runs-on: ubuntu-latest\n    steps: [{run: echo news}]\n"
        "  after:\n    needs: changelog\n    if: always() && github.event_name == 'x'\n"
        "    runs-on: ubuntu-latest\n    steps: [{run: echo after}]\n"
        "  reads-needs:\n    needs: changelog\n    if: needs.changelog.result == 'skipped'\n"
        "    runs-on: ubuntu-latest\n    steps: [{run: echo x}]\n"
    )
    done = ansflow(tmp_path, "validate", str(flow))
    assert done.returncode == 0, done.stderr
    assert (
        "skip  changelog: condition-false (its if: is false for event push:"
        " github.event_name == 'pull_request' &&" in done.stdout
    )
    assert "run   after (after changelog)" in done.stdout  # a status function: the run decides
    assert "run   reads-needs (after changelog)" in done.stdout  # reads needs: the run decides
    pull = ansflow(tmp_path, "validate", "--event", "pull_request", str(flow))
    assert "run   changelog" in pull.stdout


def test_validate_names_a_matrix_job_that_is_needed_once_with_its_leg_count(
    tmp_path: Path,
) -> None:
    # packaging's `pass` job needs `test` (36 legs): one line of 36 leg ids said little.
    flow = tmp_path / "ci.yml"
    flow.write_text(
        "on: push\njobs:\n"
        "  test:\n    strategy: {matrix: {py: ['3.10', '3.11', '3.12']}}\n"
        "    runs-on: ubuntu-latest\n    steps: [{run: echo}]\n"
        "  one:\n    strategy: {matrix: {py: ['3.12']}}\n"
        "    runs-on: ubuntu-latest\n    steps: [{run: echo}]\n"
        "  pass:\n    needs: [test, one]\n    runs-on: ubuntu-latest\n    steps: [{run: echo}]\n"
    )
    done = ansflow(tmp_path, "validate", str(flow))
    assert "run   pass (after test (3 legs), one[py=3.12])" in done.stdout, done.stdout
