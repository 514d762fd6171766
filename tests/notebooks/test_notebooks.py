"""Every example notebook runs headless with nbclient (embedded mode: no server)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
SERVER_VARS = ("ANSFLOW_SERVER_URL", "ANSFLOW_SERVER_TOKEN", "ANSFLOW_SERVER_PID")


@pytest.fixture(autouse=True)
def _embedded_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel inherits this environment: no server, a private store and TMPDIR."""
    for name in SERVER_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ANSFLOW_DB_URL", f"sqlite:///{tmp_path / 'ansflow.sqlite'}")
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))


def execute(nb: nbformat.NotebookNode, cwd: Path) -> nbformat.NotebookNode:
    """Run a notebook the way papermill / nbconvert --execute do."""
    client = NotebookClient(
        nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(cwd)}}
    )
    return client.execute()


def outputs_text(nb: nbformat.NotebookNode) -> str:
    """Every text output of every cell, except cells that print a pipeline file."""
    parts: list[str] = []
    for cell in nb.cells:
        if "read_text()" in cell.source:
            continue  # the cell showing the pipeline file, where the demo value is written
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            parts.append(str(out.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


# What a reader of each notebook must see (and must never see) in its outputs.
EXPECTED = {
    "quickstart.ipynb": [
        "AnsFlow · WebSocket test pipeline",  # the widget's text summary
        "missing release config",  # the failure summary shows the log tail
        "'build': 'success (reused)'",  # re-run failed reused the build
        "'release': 'success'",
    ],
    "matrix.ipynb": ["test[python=3.12,os=linux]", "42 passed on linux-py3.12"],
    "retries.ipynb": ["attempt 3  reason exit", "reason timeout", "503 Service Unavailable"],
    "secrets.ipynb": ["Using token ***"],
    "python-api.ipynb": ["chunk 3", "cancelled", "test[python=3.12]", "app.py:3:1: E302"],
}
FORBIDDEN = {"secrets.ipynb": ["s3cr3t-t0k3n-for-demo", "run-time-value-42", "from-the-magic"]}


@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")))
def test_example_notebook_runs(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "has outputs"
    text = outputs_text(execute(nb, NOTEBOOKS))
    assert "Traceback" not in text
    for expected in EXPECTED.get(name, []):
        assert expected in text
    for forbidden in FORBIDDEN.get(name, []):
        assert forbidden not in text


def test_failing_wait_fails_the_notebook(tmp_path: Path) -> None:
    (tmp_path / "broken.yml").write_text(
        "name: broken\nsteps:\n  explode: {run: 'echo about to fail; exit 7'}\n"
    )
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext ansflow_jupyter"),
        nbformat.v4.new_code_cell("%ansflow run broken.yml --wait"),
        nbformat.v4.new_code_cell("print('never reached')"),
    ]
    with pytest.raises(CellExecutionError) as info:
        execute(nb, tmp_path)
    assert info.value.ename == "PipelineFailed"
    assert "explode" in info.value.evalue
    assert "about to fail" in info.value.evalue
