"""Artifact previews in the widget, and a notebook step's executed notebook opened read-only
in a JupyterLab tab, in a real JupyterLab driven by headless Chromium."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_lab import dismiss_dialogs, notebook, run_first_cell

pytestmark = pytest.mark.e2e

# A script that tries to reach the page and its cookies: the sandbox must stop both, and
# it writes what happened into its own document for the test to read.
HOSTILE_HTML = """<!DOCTYPE html><html><head><title>report</title></head><body>
<h1>Model report</h1><p id="out">script did not run</p>
<script>
var r = [];
try { r.push('parent:' + parent.document.title); parent.document.body.dataset.owned = '1'; }
catch (e) { r.push('parent:blocked'); }
try { r.push('cookie:' + document.cookie); } catch (e) { r.push('cookie:blocked'); }
document.getElementById('out').textContent = r.join(' ');
</script></body></html>
"""

# What the step copies into place (and a script that writes a CSV with quoted fields).
SOURCES = {
    "report.md": "# Results\n\n**accuracy** 0.93\n\n<script>alert(1)</script>\n",
    "metrics.json": json.dumps({"accuracy": 0.93, "labels": ["cat", "dog"]}),
    "notes.txt": "plain notes <b>not bold</b>\n",
    "page.html": HOSTILE_HTML,
    "make_csv.py": (
        'rows = [\'city,note\'] + [f\'c{i},"said ""hi"", twice"\' for i in range(1500)]\n'
        "open('data.csv', 'w').write('\\n'.join(rows) + '\\n')\n"
    ),
}

PIPELINE = """\
name: Artifact previews
defaults: {shell: bash}
steps:
  make:
    working-directory: previews
    run: |
      cp src/report.md src/metrics.json src/notes.txt src/page.html .
      python3 src/make_csv.py
    artifacts: [data.csv, report.md, metrics.json, notes.txt, page.html]
  nb:
    notebook: previews_nb.ipynb
"""

STEP_NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "id": "m0", "metadata": {}, "source": "## Executed notebook"},
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "c1",
            "metadata": {},
            "outputs": [],
            "source": "print('hello from the notebook step')",
        },
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "c2",
            "metadata": {},
            "outputs": [],
            "source": "6 * 7",
        },
    ],
    "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}

W = ".ansflow-widget"


def _preview(page: Any, path: str) -> Any:
    """Click a file's Preview button; the preview box once it shows that file."""
    row = page.locator(f"{W} .af-artifact", has=page.locator(".af-aname", has_text=path)).first
    row.locator(".af-apreview").click()
    box = page.locator(f"{W} .af-preview").first
    box.locator(".af-phead", has_text=path).wait_for(timeout=10_000)
    return box


def _write_pipeline(root: Path) -> None:
    pipelines = root / "pipelines"
    (pipelines / "previews.yml").write_text(PIPELINE)
    (pipelines / "previews_nb.ipynb").write_text(json.dumps(STEP_NOTEBOOK))
    (pipelines / "previews" / "src").mkdir(parents=True, exist_ok=True)
    for file, content in SOURCES.items():
        (pipelines / "previews" / "src" / file).write_text(content)


def test_previews_and_read_only_notebook(lab: Any, page: Any, screenshots: Path) -> None:
    _write_pipeline(lab.root)
    name = notebook(
        lab, "previews.ipynb", "%load_ext ansflow_jupyter\n%ansflow run pipelines/previews.yml"
    )
    run_first_cell(page, lab, name)
    page.locator(f"{W} .af-badge").first.filter(has_text="success").wait_for(timeout=120_000)

    page.locator(f'{W} .af-pane [data-step="make"]').first.click()
    page.locator(f"{W} .af-artifact").first.wait_for(timeout=10_000)
    assert page.locator(f"{W} .af-artifact").count() == 5

    box = _preview(page, "data.csv")
    assert box.locator(".af-pnote").first.inner_text() == "first 1,000 of 1,500 rows"
    assert box.locator("thead th").all_inner_texts() == ["city", "note"]
    assert box.locator("tbody tr").count() == 1000
    assert box.locator("tbody tr").first.locator("td").all_inner_texts() == [
        "c0",
        'said "hi", twice',
    ]
    page.screenshot(path=str(screenshots / "preview-csv.png"))

    box = _preview(page, "report.md")
    assert box.locator(".af-pmarkdown h3").inner_text() == "Results"
    assert box.locator(".af-pmarkdown strong").inner_text() == "accuracy"
    assert box.locator("script").count() == 0

    box = _preview(page, "metrics.json")
    assert json.loads(box.locator(".af-ptext").inner_text()) == {
        "accuracy": 0.93,
        "labels": ["cat", "dog"],
    }
    assert '\n  "accuracy": 0.93' in box.locator(".af-ptext").inner_text()

    box = _preview(page, "notes.txt")
    assert box.locator(".af-ptext").inner_text().strip() == "plain notes <b>not bold</b>"

    box = _preview(page, "page.html")
    frame_el = box.locator("iframe.af-phtml")
    assert frame_el.get_attribute("sandbox") == "allow-scripts"
    frame = page.frame_locator(f"{W} iframe.af-phtml")
    frame.locator("h1", has_text="Model report").wait_for(timeout=10_000)
    out = frame.locator("#out")
    frame.locator("#out", has_text="blocked").wait_for(timeout=10_000)
    # The script ran, in an opaque origin: neither the page nor its cookies were reachable.
    assert out.inner_text() == "parent:blocked cookie:blocked"
    assert page.evaluate("() => document.body.dataset.owned") is None
    page.screenshot(path=str(screenshots / "preview-html.png"))

    # The notebook step: "Open notebook" opens its executed notebook in a read-only tab.
    page.locator(f'{W} .af-pane [data-step="nb"]').first.click()
    open_button = page.locator(f"{W} .af-opennb").first
    assert open_button.inner_text() == "Open notebook"
    open_button.click()
    view = page.locator(".ansflow-notebook").first
    view.wait_for(timeout=15_000)
    view.locator(".af-nboutput", has_text="hello from the notebook step").wait_for(timeout=15_000)
    assert "42" in view.locator(".af-nboutput").all_inner_texts()[-1]
    view.locator("h2", has_text="Executed notebook").wait_for(timeout=10_000)
    assert view.locator(".af-nbprompt").all_inner_texts()[1:] == ["[1]:", "[2]:"]
    assert "Read-only" in view.locator(".af-nbbanner").inner_text()
    tab = page.locator(".lm-TabBar-tab.lm-mod-current", has_text="nb.ipynb (read-only)")
    assert tab.count() >= 1
    # Nothing to edit or run: no editor, no contenteditable, no kernel for this tab.
    assert view.locator(".cm-content, [contenteditable='true'], textarea").count() == 0
    page.screenshot(path=str(screenshots / "notebook-read-only.png"))

    # The same from the execution panel (the monitor sidebar opens it).
    page.locator('.jp-SideBar [data-id="ansflow-sidebar"]').first.click()
    sidebar = page.locator("#ansflow-sidebar")
    sidebar.locator("tr.af-click", has_text="Artifact previews").first.click()
    panel = page.locator(".ansflow-main").first
    panel.locator('.af-pane [data-step="make"]').first.click()
    row = panel.locator(".af-artifact", has=page.locator(".af-aname", has_text="data.csv")).first
    row.locator(".af-apreview").click()
    panel.locator(".af-preview .af-pnote", has_text="first 1,000 of 1,500 rows").wait_for(
        timeout=10_000
    )
    panel.locator('.af-pane [data-step="nb"]').first.click()
    panel.locator(".af-opennb").first.click()
    # The notebook's tab is already open: it comes to the front instead of a second copy.
    page.locator(".lm-TabBar-tab.lm-mod-current", has_text="nb.ipynb (read-only)").wait_for(
        timeout=10_000
    )
    assert page.locator(".ansflow-notebook").count() == 1


EMBEDDED_PIPELINE = """\
name: Embedded previews
steps:
  make:
    working-directory: embedded
    run: |
      printf 'city,note\\nparis,"said ""hi"", twice"\\n' > data.csv
      printf '# Embedded summary\\n\\n**rows** 1\\n' >> "$ANSFLOW_STEP_SUMMARY"
    artifacts: [data.csv]
"""


def test_embedded_previews_over_widget_messages(lab: Any, page: Any, screenshots: Path) -> None:
    """Without the server extension in the loop (--embedded), the widget asks the kernel."""
    (lab.root / "pipelines" / "embedded").mkdir(parents=True, exist_ok=True)
    (lab.root / "pipelines" / "embedded.yml").write_text(EMBEDDED_PIPELINE)
    name = notebook(
        lab,
        "embedded.ipynb",
        "%load_ext ansflow_jupyter\n%ansflow run pipelines/embedded.yml --embedded",
    )
    run_first_cell(page, lab, name)
    page.locator(f"{W} .af-badge").first.filter(has_text="success").wait_for(timeout=120_000)
    page.locator(f'{W} .af-pane [data-step="make"]').first.click()
    summary = page.locator(f"{W} .af-summary h1, {W} .af-summary h2, {W} .af-summary h3")
    summary.first.wait_for(timeout=15_000)
    assert summary.first.inner_text() == "Embedded summary"
    box = _preview(page, "data.csv")
    box.locator("thead th").first.wait_for(timeout=15_000)  # a round trip to the kernel
    assert box.locator("thead th").all_inner_texts() == ["city", "note"]
    assert box.locator("tbody tr").first.locator("td").all_inner_texts() == [
        "paris",
        'said "hi", twice',
    ]
    page.screenshot(path=str(screenshots / "preview-embedded.png"))


def test_notebook7_downloads_the_notebook(lab: Any, page: Any, screenshots: Path) -> None:
    """Jupyter Notebook 7 shows one document per page: the button downloads the notebook."""
    pytest.importorskip("notebook", minversion="7", reason="Jupyter Notebook 7 is not installed")
    _write_pipeline(lab.root)
    name = notebook(
        lab, "previews7.ipynb", "%load_ext ansflow_jupyter\n%ansflow run pipelines/previews.yml"
    )
    page.goto(f"{lab.url}notebooks/{name}?token={lab.token}")
    page.wait_for_selector(".jp-Cell .cm-content", timeout=60_000)
    dismiss_dialogs(page, wait=3)
    for _ in range(5):  # a Shift+Enter before the kernel is connected is dropped
        page.locator(".jp-Cell .cm-content").first.click()
        page.keyboard.press("Shift+Enter")
        try:
            page.wait_for_selector(W, timeout=10_000)
            break
        except Exception:
            dismiss_dialogs(page)
    page.locator(f"{W} .af-badge").first.filter(has_text="success").wait_for(timeout=120_000)
    page.locator(f'{W} .af-pane [data-step="nb"]').first.click()
    button = page.locator(f"{W} .af-opennb").first
    assert button.inner_text() == "Download notebook"
    assert page.locator(f"{W} .af-aopen").count() == 0, "no 'Open in JupyterLab' here"
    with page.expect_download(timeout=15_000) as download:
        button.click()
    assert download.value.suggested_filename == "nb.ipynb"
    assert json.loads(Path(download.value.path()).read_text())["cells"][1]["outputs"]
    assert page.locator(".ansflow-notebook").count() == 0
    page.screenshot(path=str(screenshots / "notebook7-open-notebook.png"))
