"""The front end's own unit tests (reducer, ANSI, search, virtual scrolling, transport).

They run with node's test runner; `pip install -e .` has installed node_modules while
building the widget, so this only needs `npm` on PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

LABEXTENSION = Path(__file__).resolve().parent.parent / "labextension"


@pytest.mark.skipif(
    not os.environ.get("CI")
    and (not (LABEXTENSION / "node_modules").is_dir() or shutil.which("npm") is None),
    reason="the front end is not installed (pip install -e . builds it); never skipped in CI",
)
def test_front_end_unit_tests_pass() -> None:
    result = subprocess.run(
        ["npm", "test", "--silent"], cwd=LABEXTENSION, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout
