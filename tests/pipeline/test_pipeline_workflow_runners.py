"""`runs-on` labels that name an OS or a CPU architecture this machine does not have."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ansflow_jupyter.pipeline import load_pipeline, load_pipeline_file
from ansflow_jupyter.pipeline.github import pyrange
from ansflow_jupyter.pipeline.github.context import find_python, runner_arch

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


def test_a_version_range_is_one_version_and_takes_the_newest_interpreter_in_it() -> None:
    # setup-python reads one version a line; '>=3.9 <3.13' is one semver range.
    assert not pyrange.is_range("3.12") and pyrange.is_range(">=3.9 <3.13")
    inside = [(3, 9, 0), (3, 12, 7), (3, 10, 0)]
    outside = [(3, 8, 20), (3, 13, 0)]
    for spec in (">=3.9 <3.13", "3.9 - 3.12", ">=3.9 <=3.12", "3.9.x || 3.10 || >3.11 <3.13"):
        assert [pyrange.satisfies(r, spec) for r in inside] == [True] * 3, spec
        assert [pyrange.satisfies(r, spec) for r in outside] == [False] * 2, spec
    assert pyrange.satisfies((3, 12, 1), ">3.11") and not pyrange.satisfies((3, 11, 9), ">3.11")
    assert pyrange.satisfies((3, 12, 1), "3.x") and pyrange.satisfies((3, 12, 1), ">=3.12.1")
    # The newest interpreter here inside the range, never one outside it.
    v = sys.version_info
    spec = f">={v.major}.{v.minor} <{v.major}.{v.minor + 1}"
    found = find_python(spec)
    assert found is not None
    assert re.match(rf"Python {v.major}\.{v.minor}\.", run_version(found))
    assert find_python(f">{v.major}.{v.minor}.{v.micro} <{v.major}.{v.minor}.{v.micro}") is None
    # 3.x is the newest 3 here, not whichever python3 comes first on PATH.
    newest = find_python("3.x")
    assert newest is not None and newest == find_python(">=3")


def test_several_versions_are_one_a_line_and_a_range_line_is_checked_whole() -> None:
    text = (
        "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/setup-python@v5\n        with:\n"
        "          python-version: '>=3.98 <3.99'\n"
    )
    leg = load_pipeline(text).steps["t"]
    assert (leg.skip_reason, leg.note) == (
        "tool-missing",
        "no Python >=3.98 <3.99 on PATH or in pyenv",
    )


def run_version(python: str) -> str:
    done = subprocess.run([python, "--version"], capture_output=True, text=True, check=True)
    return done.stdout.strip()
