"""JupyterLab + the server extension + the widget, driven in headless Chromium like a user."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

pytestmark = pytest.mark.e2e

LONG_PIPELINE = """\
name: Long pipeline
steps:
  warm-up: {run: echo warming up}
  long-sleep:
    needs: warm-up
    run: |
      echo "sleeping for a minute"
      sleep 60
      echo "never printed"
"""


def notebook(lab: Any, name: str, *sources: str) -> str:
    """Write a notebook with the given code cells into the lab root."""
    cells = [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": f"c{i}",
            "metadata": {},
            "outputs": [],
            "source": src,
        }
        for i, src in enumerate(sources)
    ]
    nb = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (lab.root / name).write_text(json.dumps(nb))
    return name


def dismiss_dialogs(page: Any, wait: float = 0.0) -> None:
    """Accept a dialog JupyterLab may open on start (it would swallow the clicks)."""
    dialog = page.locator(".jp-Dialog")
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and not dialog.count():
        time.sleep(0.1)
    if dialog.count():
        page.screenshot(path=str(Path(__file__).parent / "screenshots" / "dialog.png"))
        page.locator(".jp-Dialog .jp-mod-accept").first.click()


def run_first_cell(page: Any, lab: Any, name: str) -> Any:
    """Open a notebook, run its first cell, and return the widget root."""
    page.goto(lab.page(name))
    page.wait_for_selector(".jp-Cell .cm-content", timeout=60_000)
    dismiss_dialogs(page, wait=3)
    prompt = page.locator(".jp-Cell .jp-InputPrompt").first
    for _ in range(5):
        # A Shift+Enter before the kernel is connected is dropped: retry until it runs.
        dismiss_dialogs(page)
        page.locator(".jp-Cell .cm-content").first.click()
        page.keyboard.press("Shift+Enter")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and prompt.inner_text().strip() in ("[ ]:", ""):
            time.sleep(0.2)
        if prompt.inner_text().strip() not in ("[ ]:", ""):
            break
    try:
        return page.wait_for_selector(".ansflow-widget", timeout=60_000)
    except Exception:
        shot = Path(__file__).parent / "screenshots" / f"no-widget-{name}.png"
        page.screenshot(path=str(shot))
        output = page.locator(".jp-Cell .jp-OutputArea").first.inner_text()
        pytest.fail(f"no widget appeared (see {shot}); cell output:\n{output}")


def save(page: Any) -> None:
    """Ctrl+S and wait until the notebook is no longer dirty."""
    page.keyboard.press("Control+s")
    page.wait_for_function(
        "() => !document.querySelector('.jp-mod-current .jp-mod-dirty')", timeout=10_000
    )
    time.sleep(1)


def badge(page: Any) -> str:
    """The status the widget shows."""
    return str(page.locator(".ansflow-widget .af-badge").first.text_content()).strip()


def sleeps_under(pid: int) -> list[psutil.Process]:
    """`sleep` processes anywhere below the lab process (kernels, steps)."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    out = []
    for child in children:
        try:
            if child.name() == "sleep" and child.status() != psutil.STATUS_ZOMBIE:
                out.append(child)
        except psutil.NoSuchProcess:
            continue
    return out


def test_demo_runs_live_in_a_notebook(lab: Any, page: Any, screenshots: Path) -> None:
    name = notebook(lab, "demo.ipynb", "%load_ext ansflow_jupyter\n%ansflow run pipelines/demo.yml")
    run_first_cell(page, lab, name)
    status = page.locator(".ansflow-widget .af-badge").first
    status.filter(has_text="running").wait_for(timeout=30_000)
    page.screenshot(path=str(screenshots / "demo-running.png"))
    status.filter(has_text="success").wait_for(timeout=60_000)
    page.wait_for_function(
        "() => document.querySelector('.ansflow-widget .af-rows')?.innerText"
        ".includes('Verified deployment on Python 3.12')",
        timeout=30_000,
    )
    rows = page.locator(".ansflow-widget .af-rows").first.inner_text()
    assert "Environment OK" in rows
    assert page.locator(".ansflow-widget .af-count").first.inner_text() == "7 passed of 7"
    assert badge(page) == "success"
    page.screenshot(path=str(screenshots / "demo-success.png"))


EXECUTION_MIME = "application/vnd.ansflow.execution+json"


def test_server_mode_output_rehydrates_with_default_settings(
    lab: Any, page: Any, screenshots: Path
) -> None:
    """JupyterLab's defaults save no widget state: the saved output's execution mime type
    alone brings the live view back, with a fresh kernel that never saw the widget."""
    settings = lab.root.parent / "config/lab/user-settings/@jupyter-widgets"
    assert not settings.exists(), "widget-state saving must stay at its default (off)"
    source = "%load_ext ansflow_jupyter\n%ansflow run pipelines/demo.yml"
    name = notebook(lab, "rehydrate.ipynb", source)
    run_first_cell(page, lab, name)
    page.locator(".ansflow-widget .af-badge").first.filter(has_text="success").wait_for(
        timeout=60_000
    )
    save(page)
    saved = json.loads((lab.root / name).read_text())
    assert "widgets" not in saved["metadata"]  # no widget state on disk
    data = saved["cells"][0]["outputs"][0]["data"]
    ref = data[EXECUTION_MIME]
    assert ref["execution_id"] and ref["base_url"].endswith("/")
    assert "application/vnd.jupyter.widget-view+json" in data
    assert "text/html" in data

    # The kernel that ran it is gone; reopen the notebook from disk.
    for session in lab.api("GET", "sessions"):
        lab.api("DELETE", f"sessions/{session['id']}")
    page.goto("about:blank")
    page.goto(lab.page(name))
    page.locator(".ansflow-widget .af-badge").first.filter(has_text="success").wait_for(
        timeout=60_000
    )
    page.wait_for_function(
        "() => document.querySelector('.ansflow-widget .af-rows')?.innerText"
        ".includes('Verified deployment on Python 3.12')",
        timeout=30_000,
    )
    assert "WebSocket test pipeline" in page.locator(".ansflow-widget").first.inner_text()
    assert page.locator(".ansflow-widget .af-count").first.inner_text() == "7 passed of 7"
    assert badge(page) == "success"
    assert page.locator(".ansflow-widget").count() == 1
    assert "model not found" not in page.locator(".jp-Cell .jp-OutputArea").first.inner_text()
    page.screenshot(path=str(screenshots / "demo-rehydrated-default.png"))
    # The history of an early step was back-filled too: show that step's log.
    page.locator('.ansflow-widget [data-step="env-check"]').first.click()
    page.wait_for_function(
        "() => document.querySelector('.ansflow-widget .af-rows')?.innerText"
        ".includes('Environment OK')",
        timeout=30_000,
    )

    # Re-run from the re-hydrated view: the output now names the new execution, so the
    # notebook reopens on it.
    first = ref["execution_id"]
    page.locator(".ansflow-widget button", has_text="Re-run").first.click()
    page.wait_for_function(
        f"() => {{ const id = document.querySelector('.ansflow-widget .af-id')?.textContent;"
        f" return id && id !== '{first[:8]}'; }}",
        timeout=30_000,
    )
    page.locator(".ansflow-widget .af-badge").first.filter(has_text="success").wait_for(
        timeout=60_000
    )
    save(page)
    saved = json.loads((lab.root / name).read_text())
    rerun = saved["cells"][0]["outputs"][0]["data"][EXECUTION_MIME]["execution_id"]
    assert rerun != first
    assert rerun.startswith(page.locator(".ansflow-widget .af-id").first.inner_text())
    assert page.locator(".ansflow-widget").count() == 1


def test_cancel_button_kills_the_step(lab: Any, page: Any, screenshots: Path) -> None:
    (lab.root / "pipelines" / "long.yml").write_text(LONG_PIPELINE)
    name = notebook(lab, "long.ipynb", "%load_ext ansflow_jupyter\n%ansflow run pipelines/long.yml")
    run_first_cell(page, lab, name)
    page.locator(".ansflow-widget .af-badge").first.filter(has_text="running").wait_for(
        timeout=30_000
    )
    deadline = time.monotonic() + 30
    while not sleeps_under(lab.process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    sleeping = sleeps_under(lab.process.pid)
    assert sleeping, "the step's sleep process never started"
    page.screenshot(path=str(screenshots / "long-running.png"))

    page.locator(".ansflow-widget button.af-danger").first.click()
    page.locator(".ansflow-widget .af-badge").first.filter(has_text="cancelled").wait_for(
        timeout=30_000
    )
    page.screenshot(path=str(screenshots / "long-cancelled.png"))
    _gone, alive = psutil.wait_procs(sleeping, timeout=10)
    assert not alive, f"still running after cancel: {alive}"
    assert not sleeps_under(lab.process.pid)


def test_embedded_mode_streams_through_the_kernel(lab: Any, page: Any, screenshots: Path) -> None:
    source = "%load_ext ansflow_jupyter\n%ansflow run pipelines/demo.yml --embedded"
    run_first_cell(page, lab, notebook(lab, "embedded.ipynb", source))
    page.locator(".ansflow-widget .af-badge").first.filter(has_text="success").wait_for(
        timeout=60_000
    )
    page.wait_for_function(
        "() => document.querySelector('.ansflow-widget .af-rows')?.innerText"
        ".includes('Verified deployment on Python 3.12')",
        timeout=30_000,
    )
    assert "kernel" in page.locator(".ansflow-widget .af-conn").first.inner_text()
    page.screenshot(path=str(screenshots / "embedded-success.png"))

    # Save, reload: the widget manager restores the model from the live kernel, and the
    # re-rendered view says hello and gets the state and the logs again.
    save(page)
    page.reload()
    page.locator(".ansflow-widget .af-badge").first.filter(has_text="success").wait_for(
        timeout=60_000
    )
    page.wait_for_function(
        "() => document.querySelector('.ansflow-widget .af-rows')?.innerText"
        ".includes('Verified deployment on Python 3.12')",
        timeout=30_000,
    )
    page.screenshot(path=str(screenshots / "embedded-reloaded.png"))
