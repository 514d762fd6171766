"""`PipelineFailed` of a failed notebook step names the failing cell."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from _kernel_helpers import write

from ansflow_jupyter import PipelineFailed, run_pipeline

pytestmark = [pytest.mark.usefixtures("embedded_store"), pytest.mark.timeout(120)]


def test_pipeline_failed_shows_the_failing_cell(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "P"}
    nb.cells = [
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("df = {'a': 1}\ndf['b']"),
        nbformat.v4.new_code_cell("print('never')"),
    ]
    nbformat.write(nb, str(tmp_path / "train.ipynb"))
    path = write(tmp_path / "p.yml", "name: nb\nsteps:\n  train:\n    notebook: train.ipynb\n")
    with pytest.raises(PipelineFailed) as info:
        run_pipeline(path, wait=True, display=False)
    text = str(info.value)
    lines = text.splitlines()
    step = lines.index("step 'train' failed (exit 1)")
    # The cell (index, first line) and the exception right under the step, before the tail.
    assert lines[step + 1] == "  cell 2 (df = {'a': 1}) failed: KeyError: 'b'"
    assert info.value.failures[0]["cell"] == {
        "index": 2,
        "source": "df = {'a': 1}",
        "error": "KeyError: 'b'",
    }
    assert "".join(info.value._render_traceback_()).count("cell 2 (df = {'a': 1})") >= 1
