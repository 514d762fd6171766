"""The JupyterLab panel lists GitHub Actions workflow files in their own group and runs one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_lab import dismiss_dialogs

pytestmark = pytest.mark.e2e

WORKFLOW = """\
name: Panel workflow
on: push
jobs:
  hello:
    runs-on: ubuntu-latest
    steps:
      - name: Say hello
        run: echo "hello from the panel"
"""


def test_the_panel_lists_workflow_files_and_runs_one(
    lab: Any, page: Any, screenshots: Path
) -> None:
    folder = lab.root / ".github" / "workflows"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "panel.yml").write_text(WORKFLOW)
    page.goto(f"{lab.url}lab/workspaces/panel-workflows?reset&token={lab.token}")
    tab = page.locator('.jp-SideBar [data-id="ansflow-sidebar"]').first
    tab.wait_for(timeout=60_000)
    dismiss_dialogs(page, wait=3)
    tab.click()
    sidebar = page.locator("#ansflow-sidebar")
    group = sidebar.locator(".af-group", has_text="GitHub Actions workflows")
    group.wait_for(timeout=15_000)
    names = sidebar.locator("tr").evaluate_all(
        "rows => rows.map(r => (r.querySelector('.af-pname, .af-group') || {}).textContent)"
    )
    # The workflow comes after the group's heading, not among the native pipelines.
    assert names.index("Panel workflow") > names.index("GitHub Actions workflows"), names
    sidebar.screenshot(path=str(screenshots / "sidebar-workflows.png"))
    sidebar.locator('button[data-run=".github/workflows/panel.yml"]').click()
    view = page.locator(".ansflow-main .ansflow-widget").first
    view.locator(".af-badge.af-s-success").wait_for(timeout=120_000)
    assert "Panel workflow" in str(view.locator(".af-name").first.text_content())
    page.screenshot(path=str(screenshots / "panel-workflow-run.png"))
