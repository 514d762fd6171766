"""Kernel-side fixtures: an IPython shell without a kernel and an isolated store."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import HTTPServer
from pathlib import Path
from typing import Any

import pytest
from _kernel_helpers import FakeServer

from ansflow_jupyter.kernel.client import ENV_PID, ENV_TOKEN, ENV_URL


@pytest.fixture
def embedded_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """No server env vars, ANSFLOW_DB_URL on a tmp SQLite file, cwd = tmp_path."""
    from ansflow_jupyter.kernel.embedded import shutdown_runtimes

    for name in (ENV_URL, ENV_TOKEN, ENV_PID):
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite:///{tmp_path / 'ansflow.sqlite'}"
    monkeypatch.setenv("ANSFLOW_DB_URL", url)
    monkeypatch.chdir(tmp_path)
    yield url
    shutdown_runtimes()


@pytest.fixture
def ip(embedded_store: str) -> Any:
    """The global test IPython shell with the extension loaded."""
    from IPython.testing.globalipapp import get_ipython

    shell = get_ipython()
    shell.run_line_magic("load_ext", "ansflow_jupyter")
    return shell


@pytest.fixture
def fake_server() -> Iterator[str]:
    """The URL of a FakeServer on a free port (with a base_url path)."""
    server = HTTPServer(("127.0.0.1", 0), FakeServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeServer.seen = []
    FakeServer.answers = {}
    yield f"http://127.0.0.1:{server.server_port}/base/"
    server.shutdown()
    server.server_close()
