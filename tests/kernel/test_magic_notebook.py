"""`%ansflow run NB.ipynb`: a notebook is a one-step pipeline from a notebook cell too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_notebook


def test_magic_runs_a_notebook_as_a_one_step_pipeline(ip: Any, tmp_path: Path) -> None:
    cells = [
        new_code_cell("x = 21", metadata={"tags": ["parameters"]}),
        new_code_cell("print('twice', x * 2)"),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(nb, str(tmp_path / "double.ipynb"))
    handle = ip.run_line_magic("ansflow", "run double.ipynb --wait --embedded")
    assert handle.status == "success", handle.logs()
    assert "twice 42" in handle.logs()
