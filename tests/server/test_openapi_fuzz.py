"""schemathesis against a real `jupyter server`: every answer matches openapi.yaml (status
codes, content types, bodies), schema-violating requests are refused, valid ones accepted."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from jupyter_process import jupyter_process

import ansflow_jupyter.server

REPO = Path(__file__).resolve().parents[2]
OPENAPI = Path(ansflow_jupyter.server.__file__).with_name("openapi.yaml")
CONFIG = Path(__file__).with_name("schemathesis.toml")
TOKEN = "ansflow-fuzz-token"
ST = Path(sys.executable).with_name("st")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """A real server with only ansflow enabled, on a tmp store; its base URL."""
    config_d = tmp_path / "config-path" / "jupyter_server_config.d"
    config_d.mkdir(parents=True)
    shutil.copy(REPO / "jupyter-config" / "server-config" / "ansflow_jupyter.json", config_d)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "ANSFLOW_SERVER"))}
    env.update(
        JUPYTER_CONFIG_DIR=str(tmp_path / "config-dir"),
        JUPYTER_CONFIG_PATH=str(tmp_path / "config-path"),
        JUPYTER_DATA_DIR=str(tmp_path / "data"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        ANSFLOW_DB_URL=f"sqlite:///{tmp_path / 'fuzz.sqlite'}",
    )
    root = tmp_path / "root"
    root.mkdir()
    (root / "hello.yml").write_text("name: hello\nsteps:\n  a: {run: echo hi}\n")
    others = dict.fromkeys(
        ("jupyterlab", "jupyter_lsp", "notebook_shim", "jupyter_server_terminals"), False
    )
    (tmp_path / "config-dir").mkdir()
    (tmp_path / "config-dir" / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": others}})
    )
    log = tmp_path / "server.log"
    with jupyter_process("server", root=root, env=env, token=TOKEN, log=log) as (url, _):
        yield url


@pytest.mark.skipif(not ST.exists(), reason="schemathesis is not installed")
def test_schemathesis_finds_no_mismatch(server: str, tmp_path: Path) -> None:
    # A bounded run (10 cases per operation and phase, fixed seed): ~15 s here.
    command = [
        str(ST),
        "--config-file",
        str(CONFIG),
        "run",
        str(OPENAPI),
        "--url",
        server,
        "--header",
        f"Authorization: token {TOKEN}",
        "--checks",
        "all",
        # Jupyter answers 403, never 401, to a request without credentials (documented).
        "--exclude-checks",
        "missing_required_header",
        "--max-examples",
        "10",
        "--seed",
        "1",
        "--workers",
        "1",
        "--no-shrink",
        "--request-timeout",
        "20",
    ]
    done = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=240, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    assert "No issues found" in output or " passed" in output, output[-2000:]
