"""The example pipelines load with the intended shape, and their scripts behave."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ansflow_jupyter.pipeline import PipelineSpec, StepSpec, load_pipeline_file

FOLDER = Path(__file__).parents[2] / "notebooks" / "pipelines"


def _run(spec: PipelineSpec, step: StepSpec, tmp: Path) -> subprocess.CompletedProcess[str]:
    argv = ["python", "-c", step.run] if step.shell == "python" else [step.shell, "-c", step.run]
    env = {**os.environ, "TMPDIR": str(tmp), **spec.env, **step.env}
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=30, check=False)


def test_demo_shape() -> None:
    spec = load_pipeline_file(FOLDER / "demo.yml")
    assert spec.name == "WebSocket test pipeline"
    steps = spec.steps
    for setup in ("env-check", "checkout", "install"):
        assert steps[setup].needs == ()
    assert steps["unit-test"].needs == ("env-check", "checkout", "install")
    assert steps["build"].needs == ("env-check", "checkout", "install")
    verify = [s for s in steps.values() if s.template_id == "deploy-verify"]
    assert [s.id for s in verify] == ["deploy-verify[python=3.11]", "deploy-verify[python=3.12]"]
    assert all(s.needs == ("unit-test", "build") for s in verify)


def test_demo_scripts_succeed_and_print_logs(tmp_path: Path) -> None:
    spec = load_pipeline_file(FOLDER / "demo.yml")
    procs = {}
    for step in spec.steps.values():  # all at once: every step is independent of the others
        argv = ["python", "-c", step.run] if step.shell == "python" else ["bash", "-c", step.run]
        env = {**os.environ, **spec.env, **step.env}
        procs[step.id] = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
    for step_id, proc in procs.items():
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, (step_id, err)
        assert len(out.splitlines()) >= 3, step_id
    assert "3.12" in procs["deploy-verify[python=3.12]"].args[-1]


def test_failures_shape() -> None:
    spec = load_pipeline_file(FOLDER / "failures.yml")
    steps = spec.steps
    assert steps["flaky"].retry.max >= 1
    assert steps["lint"].continue_on_error
    assert steps["publish"].needs == ("test[python=3.11]", "test[python=3.12]", "lint")
    cleanup, report = steps["cleanup"].condition, steps["report"].condition
    assert cleanup is not None
    assert cleanup.source == "always()"
    assert report is not None
    assert report.source == "failure()"


def test_failures_scripts_are_deterministic(tmp_path: Path) -> None:
    spec = load_pipeline_file(FOLDER / "failures.yml")
    flaky = spec.steps["flaky"]
    for _ in range(2):  # every run: the first attempt fails, the retry succeeds
        assert _run(spec, flaky, tmp_path).returncode == 1
        assert _run(spec, flaky, tmp_path).returncode == 0
    assert _run(spec, spec.steps["lint"], tmp_path).returncode == 1
    assert _run(spec, spec.steps["test[python=3.11]"], tmp_path).returncode == 0
    assert _run(spec, spec.steps["test[python=3.12]"], tmp_path).returncode == 1


def test_secrets_example_prints_the_secret(tmp_path: Path) -> None:
    spec = load_pipeline_file(FOLDER / "secrets.yml")
    assert spec.secrets == ("DEPLOY_TOKEN",)
    token = spec.env["DEPLOY_TOKEN"]
    result = _run(spec, spec.steps["deploy"], tmp_path)
    assert result.returncode == 0
    assert result.stdout.count(token) == 2  # the executor masks both as ***
    overridden = load_pipeline_file(FOLDER / "secrets.yml", env={"DEPLOY_TOKEN": "other"})
    assert "Bearer other" in overridden.steps["deploy"].run
