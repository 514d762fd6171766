"""`failed_cell`: a notebook step's message read back into the cell it names."""

from __future__ import annotations

from ansflow_jupyter.format import failed_cell


def test_failed_cell_reads_the_runners_messages() -> None:
    assert failed_cell("cell 4 (df = load()) failed: KeyError: 'b' (x) failed: y") == {
        "index": 4,
        "source": "df = load()",
        "error": "KeyError: 'b' (x) failed: y",
    }
    assert failed_cell("the kernel died while running cell 2 (import os; os._exit(1))") == {
        "index": 2,
        "source": "import os; os._exit(1)",
        "error": "the kernel died",
    }
    assert failed_cell("the kernel died") is None
    assert failed_cell("exit 1") is None
    assert failed_cell(None) is None
