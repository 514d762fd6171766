"""A real JupyterLab (own process group, temp config and store) and headless Chromium."""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_process import jupyter_process
from lab_app import NOTEBOOKS, Lab

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Without Chromium, skip with the reason, except in CI where it must run."""
    if CHROMIUM.exists() or os.environ.get("CI"):
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is missing (apt-get install -y chromium)")
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)


def _user_settings(config_dir: Path) -> None:
    """No news pop-up. Everything else is JupyterLab's default: in particular widget state
    is not saved in notebooks, and a reopened server-mode output still re-hydrates."""
    settings = config_dir / "lab/user-settings"
    files = {
        "@jupyterlab/apputils-extension/notification": {
            "fetchNews": "false",
            "checkForUpdates": False,
        },
    }
    for name, values in files.items():
        path = settings / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab with the ansflow server extension on a copy of notebooks/."""
    base = tmp_path_factory.mktemp("lab")
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
    log = base / "lab.log"
    with jupyter_process("lab", root=root, env=env, token=token, log=log, timeout=60) as (
        url,
        process,
    ):
        yield Lab(url, token, root, process, log)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium driven by playwright (never `playwright install`)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser page of a decent size."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where the e2e tests save what a user would see (git-ignored)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS


# pytest-jupyter's autouse fixtures would take (and close) the event loop that sync
# playwright keeps running between tests; these tests start no in-process server.
@pytest.fixture
def jp_asyncio_loop() -> None:
    """No pytest-jupyter loop for browser tests."""


@pytest.fixture
def jp_server_cleanup() -> None:
    """No in-process server to clean up."""
