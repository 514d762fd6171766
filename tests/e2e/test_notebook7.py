"""The widget in Jupyter Notebook 7 (`jupyter notebook`), one page: a live run, then the
saved output re-hydrated from disk by a fresh page with no kernel that saw the widget, and
the cell's runs (re-runs) still listed after a reload."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lab_app import Lab, start_app
from test_lab import EXECUTION_MIME, badge, notebook, run_first_cell, save

pytestmark = pytest.mark.e2e

WIDGET = ".ansflow-widget"


class Notebook7(Lab):
    """A running `jupyter notebook` (Notebook 7): its pages are /notebooks/NAME."""

    def page(self, name: str) -> str:
        """The URL of a notebook's page."""
        return f"{self.url}notebooks/{name}?token={self.token}"


@pytest.fixture(scope="module")
def nb7(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Notebook7]:
    """Notebook 7 with the ansflow server extension on a copy of notebooks/."""
    with start_app("notebook", tmp_path_factory.mktemp("nb7"), Notebook7) as app:
        yield app


def test_widget_and_rehydrated_output_in_notebook_7(
    nb7: Notebook7, page: Any, screenshots: Path
) -> None:
    name = notebook(nb7, "nb7.ipynb", "%load_ext ansflow_jupyter\n%ansflow run pipelines/demo.yml")
    run_first_cell(page, nb7, name)
    # It is Notebook 7's page, not JupyterLab's.
    assert page.locator("#main-panel, .jp-NotebookPanel").count() >= 1
    assert page.evaluate("() => document.body.dataset.notebook") == "notebooks"

    # Live: the run streams, ends, and every part of the view works.
    page.locator(f"{WIDGET} .af-badge").first.filter(has_text="success").wait_for(timeout=90_000)
    page.wait_for_function(
        f"() => document.querySelector('{WIDGET} .af-rows')?.innerText"
        ".includes('Verified deployment on Python 3.12')",
        timeout=30_000,
    )
    assert page.locator(f"{WIDGET} .af-count").first.inner_text() == "7 passed of 7"
    widget_box = page.locator(WIDGET).first.bounding_box()
    assert widget_box and widget_box["width"] > 400
    assert page.locator(f"{WIDGET} .af-node").count() >= 6
    assert page.locator(f"{WIDGET} .af-gtools button", has_text="Fit").count() == 1
    page.locator(f'{WIDGET} [data-step="env-check"]').first.click()
    page.wait_for_function(
        f"() => document.querySelector('{WIDGET} .af-rows')?.innerText.includes('Environment OK')",
        timeout=30_000,
    )
    page.locator(f"{WIDGET} .af-tabs button", has_text="Timeline").first.click()
    page.locator(f'{WIDGET} tr[data-step="env-check"]').first.wait_for(timeout=5_000)
    page.locator(f"{WIDGET} .af-tabs button", has_text="Graph").first.click()
    page.screenshot(path=str(screenshots / "notebook7-live.png"))

    # Saved: the output carries the execution and the final state.
    page.locator(".jp-Cell .jp-InputPrompt").first.click()
    save(page)
    saved = json.loads((nb7.root / name).read_text())
    data = saved["cells"][0]["outputs"][0]["data"]
    execution = data[EXECUTION_MIME]["execution_id"]
    assert execution
    assert "success" in "".join(data["text/plain"])

    # Reopened from disk with no kernel that saw the widget: the view comes back from REST.
    for session in nb7.api("GET", "sessions"):
        nb7.api("DELETE", f"sessions/{session['id']}")
    page.goto("about:blank")
    page.goto(nb7.page(name))
    page.locator(f"{WIDGET} .af-badge").first.filter(has_text="success").wait_for(timeout=60_000)
    page.wait_for_function(
        f"() => document.querySelector('{WIDGET} .af-rows')?.innerText"
        ".includes('Verified deployment on Python 3.12')",
        timeout=30_000,
    )
    assert page.locator(WIDGET).count() == 1
    assert page.locator(f"{WIDGET} .af-count").first.inner_text() == "7 passed of 7"
    assert execution.startswith(page.locator(f"{WIDGET} .af-id").first.inner_text())
    assert badge(page) == "success"
    output = page.locator(".jp-Cell .jp-OutputArea").first.inner_text()
    assert "model not found" not in output and "Error" not in output
    page.locator(f'{WIDGET} [data-step="env-check"]').first.click()
    page.wait_for_function(
        f"() => document.querySelector('{WIDGET} .af-rows')?.innerText.includes('Environment OK')",
        timeout=30_000,
    )
    page.screenshot(path=str(screenshots / "notebook7-rehydrated.png"))

    # Re-run from the re-hydrated view, save, reload: the runs selector lists both runs of
    # this cell, and picking the first loads it from the server.
    page.locator(f"{WIDGET} button", has_text="Re-run").first.click()
    page.wait_for_function(
        f"() => {{ const id = document.querySelector('{WIDGET} .af-id')?.textContent;"
        f" return id && !'{execution}'.startsWith(id); }}",
        timeout=30_000,
    )
    page.locator(f"{WIDGET} .af-badge").first.filter(has_text="success").wait_for(timeout=90_000)
    page.locator(".jp-Cell .jp-InputPrompt").first.click()
    save(page)
    entry = json.loads((nb7.root / name).read_text())["cells"][0]["outputs"][0]["data"]
    second = entry[EXECUTION_MIME]["execution_id"]
    assert entry[EXECUTION_MIME]["runs"] == [execution, second]
    page.goto("about:blank")
    page.goto(nb7.page(name))
    page.locator(f"{WIDGET} .af-badge").first.filter(has_text="success").wait_for(timeout=60_000)
    runs = page.locator(f"{WIDGET} .af-runs").first
    assert runs.is_visible()
    assert runs.evaluate("s => [...s.options].map(o => o.value)") == [execution, second]
    assert runs.input_value() == second
    runs.select_option(execution)
    page.wait_for_function(
        f"() => '{execution}'.startsWith(document.querySelector('{WIDGET} .af-id')?.textContent)",
        timeout=30_000,
    )
    page.locator(f"{WIDGET} .af-badge").first.filter(has_text="success").wait_for(timeout=30_000)
    page.wait_for_function(
        f"() => document.querySelector('{WIDGET} .af-rows')?.innerText"
        ".includes('Verified deployment on Python 3.12')",
        timeout=30_000,
    )
