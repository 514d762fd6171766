"""Notebook cells and workflow job steps live in the view: progress, groups, annotations.

One notebook page runs a notebook step (four cells that sleep and print) and a workflow
job (three steps, the second failing with continue-on-error and an `::error::`), then
checks what a user sees, in the light and the dark theme.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from test_lab import dismiss_dialogs, notebook, run_first_cell

pytestmark = pytest.mark.e2e

CELLS = [
    "import time\nprint('loading data')\ntime.sleep(0.8)",
    "rows = list(range(10))\nprint('rows', len(rows))\ntime.sleep(0.8)",
    "total = sum(rows)\nprint('total', total)\ntime.sleep(0.8)",
    "print('done')\ntime.sleep(0.8)",
]

WORKFLOW = """\
name: Lint and test
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - name: Prepare
        run: echo "preparing the workspace"
      - name: Lint
        continue-on-error: true
        run: |
          echo "checking app.py"
          echo "::error file=app.py,line=3::undefined name 'x'"
          exit 1
      - name: Test
        run: |
          for i in 1 2 3; do echo "test_$i PASSED"; done
"""

W = ".ansflow-widget"


def _write_inputs(root: Path) -> None:
    cells = [
        {"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {}}
        | {"outputs": [], "source": src}
        for i, src in enumerate(CELLS)
    ]
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb = {"cells": cells, "metadata": {"kernelspec": kernel}, "nbformat": 4, "nbformat_minor": 5}
    (root / "cells.ipynb").write_text(json.dumps(nb))
    (root / ".github/workflows").mkdir(parents=True, exist_ok=True)
    (root / ".github/workflows/lint.yml").write_text(WORKFLOW)


def _run_cell(page: Any, index: int) -> None:
    """Run the notebook's cell `index` (the widget of the first is already there)."""
    dismiss_dialogs(page)
    page.locator(".jp-Cell .cm-content").nth(index).click()
    page.keyboard.press("Shift+Enter")


def _select(page: Any, widget: Any, step: str) -> None:
    widget.locator(".af-logbar select").first.select_option(step)
    page.wait_for_timeout(100)


def test_cells_and_job_steps_live(lab: Any, page: Any, screenshots: Path) -> None:
    _write_inputs(lab.root)
    name = notebook(
        lab,
        "groups.ipynb",
        "%load_ext ansflow_jupyter\n%ansflow run cells.ipynb",
        "%ansflow run .github/workflows/lint.yml",
    )
    run_first_cell(page, lab, name)
    nb = page.locator(W).first

    # Live progress: seen mid-run, in words, without selecting the step.
    seen: set[str] = set()
    in_graph: set[str] = set()  # the graph node says the same, for those who look there
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and nb.locator(".af-badge").first.inner_text() != "success":
        text = nb.locator(".af-stepstrip").first.inner_text()
        node = nb.locator("g.af-node[data-step]")
        if node.count():
            in_graph.add(node.first.get_attribute("aria-label") or "")
        if "cell " in text:
            seen.add(text)
            if "cell 2/4" in text and not (screenshots / "cells-running.png").exists():
                nb.screenshot(path=str(screenshots / "cells-running.png"))
        time.sleep(0.1)
    assert any("cell 2/4 · rows = list(range(10))" in t for t in seen), seen
    assert any("cell 3/4" in t or "cell 4/4" in t for t in seen), seen
    assert any("running, cell 2/4 · rows = list(range(10))" in t for t in in_graph), in_graph
    nb.locator(".af-badge", has_text="success").first.wait_for(timeout=30_000)

    # One collapsible group per cell, named; the finished ones closed.
    _select(page, nb, "cells")
    heads = nb.locator(".af-ghead")
    heads.nth(3).wait_for(timeout=10_000)
    titles = [heads.nth(i).locator(".af-gtitle").inner_text() for i in range(heads.count())]
    assert titles == [
        "Cell 1 · import time",
        "Cell 2 · rows = list(range(10))",
        "Cell 3 · total = sum(rows)",
        "Cell 4 · print('done')",
    ], titles
    assert [heads.nth(i).get_attribute("aria-expanded") for i in range(4)] == ["false"] * 4
    assert "rows 10" not in nb.locator(".af-rows").first.inner_text()
    heads.nth(1).click()
    nb.locator(".af-row", has_text="rows 10").first.wait_for(timeout=5_000)
    assert heads.nth(1).get_attribute("aria-expanded") == "true"
    heads.nth(1).focus()
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => !document.querySelector('.ansflow-widget .af-rows').innerText.includes('rows 10')",
        timeout=5_000,
    )
    assert "4/4 cells" in nb.locator(".af-stepstrip").first.inner_text()
    heads.nth(2).click()
    nb.screenshot(path=str(screenshots / "cells-groups.png"))

    # The workflow: job steps with their status, the error listed and linked to its line.
    _run_cell(page, 1)
    page.locator(W).nth(1).wait_for(timeout=60_000)
    wf = page.locator(W).nth(1)
    wf.locator(".af-badge", has_text="success").first.wait_for(timeout=90_000)
    _select(page, wf, "build")
    chips = wf.locator(".af-stepstrip .af-jstep")
    chips.nth(2).wait_for(timeout=10_000)
    names = [chips.nth(i).locator(".af-jname").inner_text() for i in range(chips.count())]
    assert names[-3:] == ["Prepare", "Lint", "Test"], names
    icons = [chips.nth(i).locator(".af-ico").inner_text() for i in range(chips.count())]
    assert icons[-3:] == ["✓", "✕", "✓"], icons
    lint = wf.locator('.af-ghead[aria-label^="Lint"]').first
    assert lint.get_attribute("aria-expanded") == "true", "a failed job step stays open"
    test_head = wf.locator('.af-ghead[aria-label^="Test"]').first
    assert test_head.get_attribute("aria-expanded") == "false"
    counts = wf.locator(".af-annotations .af-acounts").first.inner_text()
    assert "✕" in counts, counts
    error = wf.locator(".af-aitem.af-a-error", has_text="undefined name 'x'").first
    assert "app.py:3" in error.inner_text()
    # Close Lint, then the annotation opens it again at its line.
    lint.click()
    wf.locator('.af-ghead[aria-label^="Lint"][aria-expanded="false"]').first.wait_for()
    error.click()
    focus = wf.locator(".af-row.af-focus").first
    focus.wait_for(timeout=5_000)
    assert "undefined name 'x'" in focus.inner_text()
    assert lint.get_attribute("aria-expanded") == "true"
    # A click on a job step opens it in the log.
    chips.nth(chips.count() - 1).click()
    wf.locator('.af-ghead[aria-label^="Test"][aria-expanded="true"]').first.wait_for()
    wf.locator(".af-row", has_text="test_3 PASSED").first.wait_for()
    error.click()
    # The job's graph node counts its errors too, as the timeline does (below).
    mark = wf.locator('g.af-node[data-step="build"] .af-gmark').text_content() or ""
    assert mark.startswith("✕ "), mark
    spoken = wf.locator('g.af-node[data-step="build"]').get_attribute("aria-label") or ""
    assert f"{mark[2:]} error" in spoken, spoken
    wf.screenshot(path=str(screenshots / "job-steps.png"))
    # The timeline row: annotation badges and the job steps under the job.
    wf.locator(".af-tabs button", has_text="Timeline").first.click()
    wf.locator('tr[data-step="build"] .af-abadge.af-a-error').first.wait_for()
    assert wf.locator('tr[data-step="build"] .af-abadge.af-a-error').inner_text() == mark
    assert wf.locator("tr.af-subrow .af-jstep").count() == chips.count()
    wf.screenshot(path=str(screenshots / "job-steps-timeline.png"))

    # 500 px wide: the job steps and the annotations wrap, nothing is cut.
    page.keyboard.press("Escape")
    page.keyboard.press("Control+b")
    viewport = 1400
    for _ in range(3):  # the notebook's margins change with the width: converge on 500 px
        viewport = int(viewport - (wf.bounding_box()["width"] - 500))
        page.set_viewport_size({"width": viewport, "height": 1000})
        page.wait_for_timeout(300)
    for part in (".af-stepstrip", ".af-annotations", ".af-pane"):
        assert wf.locator(part).first.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), part
    wf.screenshot(path=str(screenshots / "job-steps-narrow-500.png"))
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.keyboard.press("Control+b")

    # Dark theme: the same views follow JupyterLab's colours.
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Theme").first.hover()
    page.locator(".lm-Menu-itemLabel", has_text="JupyterLab Dark").first.click()
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=15_000)
    page.wait_for_timeout(500)
    head_bg = wf.locator(".af-ghead").first.evaluate("e => getComputedStyle(e).color")
    assert head_bg != "rgb(0, 0, 0)", head_bg
    wf.screenshot(path=str(screenshots / "job-steps-dark.png"))
    wf.locator(".af-tabs button", has_text="Graph").first.click()
    nb.screenshot(path=str(screenshots / "cells-groups-dark.png"))
    # Back to the light theme for the tests after this one (the setting is per server).
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Theme").first.hover()
    page.locator(".lm-Menu-itemLabel", has_text="JupyterLab Light").first.click()
