"""A run opened from the sidebar in a main-area tab shows its graph readable, not squeezed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_lab import dismiss_dialogs

pytestmark = pytest.mark.e2e

MAIN = ".ansflow-main .ansflow-widget"


def test_the_panel_shows_the_whole_graph_at_full_size(
    lab: Any, page: Any, screenshots: Path
) -> None:
    page.goto(f"{lab.url}lab/workspaces/panel-graph?reset&token={lab.token}")
    tab = page.locator('.jp-SideBar [data-id="ansflow-sidebar"]').first
    tab.wait_for(timeout=60_000)
    dismiss_dialogs(page, wait=3)
    tab.click()
    page.locator('#ansflow-sidebar button[data-run="pipelines/demo.yml"]').click()
    view = page.locator(MAIN).first
    view.locator(".af-badge.af-s-success").wait_for(timeout=120_000)
    page.wait_for_timeout(500)
    # The tab is 1000 px tall: the graph's share (40 %) holds demo.yml's three rows at
    # 100 %; it used to get a 60 px strip and shrink the nodes to 60 % (unreadable).
    graph = view.locator(".af-gview").first
    box = graph.bounding_box()
    assert graph.get_attribute("data-zoom") == "1.000", box
    nodes = view.locator(".af-gview [data-step], .af-gview [data-group]")
    assert nodes.count() >= 6
    for node in nodes.all():
        b = node.bounding_box()
        assert b["y"] >= box["y"] - 1 and b["y"] + b["height"] <= box["y"] + box["height"] + 1
    page.screenshot(path=str(screenshots / "panel-graph.png"))
