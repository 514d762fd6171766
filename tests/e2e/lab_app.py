"""What a running Jupyter app is to the browser tests (importable by name: a test module's
`from conftest import …` would pick whichever conftest pytest imported last)."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@dataclass
class Lab:
    """A running `jupyter lab`."""

    url: str
    token: str
    root: Path
    process: subprocess.Popen[bytes]
    log: Path

    def api(self, method: str, route: str) -> Any:
        """Call the Jupyter REST API with the token."""
        request = urllib.request.Request(f"{self.url}api/{route}", method=method)
        request.add_header("Authorization", f"token {self.token}")
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def page(self, name: str) -> str:
        """The URL of a notebook in a workspace of its own (no tab restored from a
        previous test can catch the keystrokes)."""
        workspace = name.replace(".", "-")
        return f"{self.url}lab/workspaces/{workspace}/tree/{name}?reset&token={self.token}"
