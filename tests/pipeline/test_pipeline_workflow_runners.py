"""`runs-on` labels that name an OS or a CPU architecture this machine does not have."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from ansflow_jupyter.pipeline import load_pipeline, load_pipeline_file
from ansflow_jupyter.pipeline.github.context import runner_arch

CORPUS = Path(__file__).parent / "workflows"


def test_a_runner_of_another_architecture_is_skipped_with_the_reason() -> None:
    spec = load_pipeline_file(CORPUS / "runners.yml")
    host = runner_arch()
    arm = spec.steps["arm"]
    x64 = spec.steps["x64"]
    other, same = (arm, x64) if host == "X64" else (x64, arm)
    assert other.skip_reason == "runner-os"
    wanted = "ARM64" if host == "X64" else "X64"
    assert f"needs an {wanted} machine; this one is {host}" in other.note
    assert same.skip_reason == ""
    # ubuntu-latest names no architecture: it runs on any machine.
    assert spec.steps["legs[runner=ubuntu-latest]"].skip_reason == ""
    leg = spec.steps["legs[runner=ubuntu-22.04-arm]"]
    assert leg.skip_reason == ("" if host == "ARM64" else "runner-os")


def test_a_full_python_version_asks_for_that_release_not_any_of_its_minor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # packaging's matrix adds python_version 3.11.0 next to 3.11 to test the oldest
    # release: another 3.11.x must not stand in for it.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    v = sys.version_info
    here, absent = f"{v.major}.{v.minor}.{v.micro}", f"{v.major}.{v.minor}.999"
    text = (
        "on: push\njobs:\n  t:\n    strategy:\n      matrix:\n"
        f"        py: ['{here}', '{absent}']\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/setup-python@v5\n        with:\n"
        "          python-version: ${{ matrix.py }}\n"
    )
    spec = load_pipeline(text)
    assert spec.steps[f"t[py={here}]"].skip_reason == ""
    leg = spec.steps[f"t[py={absent}]"]
    assert (leg.skip_reason, leg.note) == (
        "tool-missing",
        f"no Python {absent} on PATH or in pyenv",
    )
