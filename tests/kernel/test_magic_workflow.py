"""`%ansflow run wf.yml --job --event --input --strict` and the same in `run_pipeline`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _kernel_helpers import FakeServer, write
from IPython.core.error import UsageError

from ansflow_jupyter import run_pipeline
from ansflow_jupyter.kernel.client import ENV_PID, ENV_TOKEN, ENV_URL

WORKFLOW = """\
name: Greet
on:
  workflow_dispatch:
    inputs:
      who:
        default: nobody
jobs:
  greet:
    runs-on: ubuntu-latest
    steps:
      - run: echo "hello ${{ inputs.who }} on ${{ github.event_name }}"
  other:
    runs-on: ubuntu-latest
    steps:
      - uses: someone/unknown-action@v1
"""


def test_magic_runs_one_job_with_event_and_inputs(ip: Any, tmp_path: Path) -> None:
    write(tmp_path / "greet.yml", WORKFLOW)
    line = "run greet.yml --wait --embedded --job greet --event workflow_dispatch --input who=ada"
    handle = ip.run_line_magic("ansflow", line)
    assert handle.status == "success"
    assert handle.logs()[-1] == "hello ada on workflow_dispatch"
    assert [s["step_id"] for s in handle.snapshot()["data"]["steps"]] == ["greet"]
    again = handle.rerun(display=False)
    assert again.wait(timeout=60) == "success"
    assert again.logs()[-1] == "hello ada on workflow_dispatch"  # the options were kept
    assert [s["step_id"] for s in again.snapshot()["data"]["steps"]] == ["greet"]


def test_magic_strict_refuses_an_unsupported_action(ip: Any, tmp_path: Path) -> None:
    write(tmp_path / "greet.yml", WORKFLOW)
    with pytest.raises(UsageError, match=r"jobs\.other\.steps\[0\]\.uses"):
        ip.run_line_magic("ansflow", "run greet.yml --embedded --strict")


def test_magic_options_for_a_native_pipeline_are_refused(ip: Any) -> None:
    cell = "name: cell\nsteps:\n  greet: {run: echo hi}\n"
    with pytest.raises(UsageError, match="workflow files only"):
        ip.run_cell_magic("ansflow", "run --embedded --job greet", cell)


def test_run_pipeline_sends_the_options_to_the_server(
    tmp_path: Path, fake_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    write(tmp_path / "greet.yml", WORKFLOW)
    monkeypatch.setenv(ENV_URL, fake_server)
    monkeypatch.setenv(ENV_TOKEN, "tok")
    monkeypatch.setenv(ENV_PID, str(os.getpid()))
    FakeServer.answers[("GET", "/base/ansflow/api/executions")] = (200, [])
    FakeServer.answers[("POST", "/base/ansflow/api/executions")] = (
        201,
        {"execution_id": "e1", "status": "pending", "pipeline_name": "Greet"},
    )
    run_pipeline(
        str(tmp_path / "greet.yml"),
        display=False,
        job="greet",
        event="workflow_dispatch",
        inputs={"who": "ada"},
        strict=True,
    )
    posted = next(s for s in FakeServer.seen if s["method"] == "POST")["body"]
    assert posted == {
        "path": str((tmp_path / "greet.yml").resolve()),
        "job": "greet",
        "event": "workflow_dispatch",
        "inputs": {"who": "ada"},
        "strict": True,
    }
