"""`runs-on` labels that name an OS or a CPU architecture this machine does not have."""

from __future__ import annotations

from pathlib import Path

from ansflow_jupyter.pipeline import load_pipeline_file
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
