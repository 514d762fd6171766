"""A finished run with more lines than a view loads at first, in the JupyterLab panel:
a line permalink opens it, scrolling to the top loads earlier lines, and a search finds
a term that only the unloaded part holds, with the exact count."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from test_lab import dismiss_dialogs

pytestmark = pytest.mark.e2e

LINES = 30_000
# "needle" only at lines 3 and 4 (0-based): never in the last 20,000 lines a view loads.
PIPELINE = f"""\
name: long log
steps:
  big:
    shell: python
    run: |
      for i in range({LINES}):
          print(f"line {{i}} needle" if i in (3, 4) else f"line {{i}}")
"""


def _rest(lab: Any, method: str, route: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{lab.url}ansflow/api/{route}", data=data, method=method)
    request.add_header("Authorization", f"token {lab.token}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _finished_run(lab: Any) -> str:
    eid = str(_rest(lab, "POST", "executions", {"yaml": PIPELINE})["execution_id"])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = _rest(lab, "GET", f"executions/{eid}")["data"]["execution"]["status"]
        if status not in ("pending", "running"):
            assert status == "success"
            return eid
        time.sleep(0.3)
    raise AssertionError("the run did not finish")


def _view_state(page: Any) -> dict[str, Any]:
    return dict(
        page.evaluate(
            """() => {
      const view = document.querySelector('.ansflow-main .af-logview');
      const rows = [...document.querySelectorAll('.ansflow-main .af-row')].map(r => r.innerText);
      return {top: view ? view.scrollTop : -1, rows,
              earlier: document.querySelector('.ansflow-main .af-earlier')?.innerText ?? ''};
    }"""
        )
    )


def test_permalink_load_earlier_and_server_search(lab: Any, page: Any, screenshots: Path) -> None:
    eid = _finished_run(lab)
    # Log in once (the cookie); the permalink itself never carries the token.
    page.goto(f"{lab.url}lab/workspaces/history?reset&token={lab.token}")
    page.wait_for_selector(".jp-LabShell", timeout=60_000)
    # The link as the view makes it (see the row links below): line 25,001 of step big.
    page.goto(f"{lab.url}lab?ansflow-execution={eid}&ansflow-step=big&ansflow-line=25001")
    page.wait_for_selector(".ansflow-main .af-row.af-focus", timeout=60_000)
    dismiss_dialogs(page)
    focus = page.locator(".ansflow-main .af-row.af-focus")
    assert focus.inner_text().strip().endswith("line 25000"), focus.inner_text()
    assert "25001" in focus.locator(".af-ln").inner_text()
    # Every line offers its own link, without the token.
    row_link = page.locator(".ansflow-main .af-row .af-plink").first
    href = str(row_link.get_attribute("href"))
    assert href.startswith(f"{lab.url}lab?ansflow-execution={eid}&ansflow-step=big&"), href
    assert "token" not in href, href
    assert lab.token not in href

    # To the top (once the back-fill of the last 20,000 lines is in): the marker says how
    # many earlier lines there are, and they load.
    page.wait_for_timeout(2_000)
    page.evaluate("() => { document.querySelector('.ansflow-main .af-logview').scrollTop = 0; }")
    # The text is read in the same task that sees it: on a fast machine the page may be
    # loaded (and the marker scrolled away) before a second look.
    marker = page.wait_for_function(
        "() => { const t = document.querySelector('.ansflow-main .af-earlier')?.innerText ?? '';"
        " return /earlier lines/.test(t) ? t : false; }",
        timeout=10_000,
    ).json_value()
    assert re.fullmatch(r"⋯ [\d,]+ earlier lines · (loading…|scroll up to load)", marker), marker
    first = int(marker.split()[1].replace(",", ""))  # the first line held
    assert LINES - 20_000 <= first <= LINES - 1_000, marker  # the tail comes in pages
    page.wait_for_function(
        "() => document.querySelector('.ansflow-main .af-logview').scrollTop > 0",
        timeout=30_000,
    )
    state = _view_state(page)
    # The view did not jump: the line that was at the top is still in sight, under the
    # last of the lines that came in above it.
    assert any(row.endswith(f"line {first}") for row in state["rows"]), state["rows"][:5]
    assert any(row.endswith(f"line {first - 1}") for row in state["rows"]), state["rows"][:5]
    page.screenshot(path=str(screenshots / "log-history-earlier.png"))

    # A term only in the lines not loaded yet: the server counts it and each hit loads.
    search = page.locator(".ansflow-main .af-logbar input[type=search]")
    search.fill("NEEDLE")
    count = page.locator(".ansflow-main .af-mcount")
    page.wait_for_function(
        "() => document.querySelector('.ansflow-main .af-mcount')?.innerText === '0 of 2 matches'",
        timeout=30_000,
    )
    search.press("Enter")
    page.wait_for_function(
        "() => /line 3 needle/.test(document.querySelector('.ansflow-main .af-row.af-cur')"
        "?.innerText ?? '')",
        timeout=30_000,
    )
    assert count.inner_text() == "1 of 2 matches"
    search.press("Enter")
    page.wait_for_function(
        "() => /line 4 needle/.test(document.querySelector('.ansflow-main .af-row.af-cur')"
        "?.innerText ?? '')",
        timeout=30_000,
    )
    assert count.inner_text() == "2 of 2 matches"
    page.screenshot(path=str(screenshots / "log-history-search.png"))
    # Scrolled to the very top, the log says where it begins.
    page.evaluate("() => { document.querySelector('.ansflow-main .af-logview').scrollTop = 0; }")
    page.wait_for_function(
        "() => document.querySelector('.ansflow-main .af-earlier')?.innerText"
        " === '— beginning of log —'",
        timeout=10_000,
    )
    page.screenshot(path=str(screenshots / "log-history-top.png"))
