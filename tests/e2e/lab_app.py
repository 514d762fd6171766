"""What a running Jupyter app is to the browser tests (importable by name: a test module's
`from conftest import …` would pick whichever conftest pytest imported last)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from jupyter_process import jupyter_process

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


App = TypeVar("App", bound=Lab)


def _user_settings(config_dir: Path) -> None:
    """No news pop-up. Everything else is JupyterLab's default: in particular widget state
    is not saved in notebooks, and a reopened server-mode output still re-hydrates."""
    path = config_dir / "lab/user-settings/@jupyterlab/apputils-extension/notification"
    path = path.with_suffix(".jupyterlab-settings")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))


@contextmanager
def start_app(command: str, base: Path, app: type[App]) -> Iterator[App]:
    """`jupyter COMMAND` (lab, notebook) with the ansflow server extension, its own config
    and store under `base`, on a copy of notebooks/."""
    root = base / "root"
    shutil.copytree(NOTEBOOKS, root, ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints"))
    config = base / "config"
    _user_settings(config)
    db_url = f"sqlite:///{base / 'ansflow.sqlite'}"
    (config / "jupyter_server_config.json").write_text(
        json.dumps(
            {
                "ServerApp": {"jpserver_extensions": {"ansflow_jupyter": True}},
                "AnsFlowApp": {"db_url": db_url},
            }
        )
    )
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config), "ANSFLOW_DB_URL": db_url}
    for name in ("ANSFLOW_SERVER_URL", "ANSFLOW_SERVER_TOKEN", "ANSFLOW_SERVER_PID"):
        env.pop(name, None)
    token = secrets.token_hex(16)
    log = base / f"{command}.log"
    with jupyter_process(command, root=root, env=env, token=token, log=log, timeout=60) as (
        url,
        process,
    ):
        yield app(url, token, root, process, log)
