"""The view of a finished run with a failure in every combination a user meets:
{JupyterLab, Notebook 7} x {500, 1400} px x {light, dark}.

Each app starts once (module scope) and runs the pipeline once; each case is ONE page load
of the saved notebook (the view re-hydrates from the server) with many assertions.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from test_lab import notebook, run_first_cell, save
from test_notebook7 import nb7  # noqa: F401  (the Notebook 7 server fixture)
from test_views import TRIAGE_PIPELINE

pytestmark = pytest.mark.e2e

WIDGET = ".ansflow-widget"
LEG = "integration-tests-with-a-long-name[python=3.12]"
THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}
CASES = [
    (app, width, theme)
    for app in ("lab", "nb7")
    for width in (500, 1400)
    for theme in ("light", "dark")
]

# WCAG contrast of a text element against the first opaque background behind it.
JS_CONTRAST = """e => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => { const c = [r, g, b].map(v => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]; };
  let bg = null;
  for (let n = e; n; n = n.parentElement) {
    const c = rgb(getComputedStyle(n).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] > 0.9)) { bg = c; break; }
  }
  bg = bg || [255, 255, 255];
  const a = lum(rgb(getComputedStyle(e).color)), b = lum(bg);
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""

JS_NO_HSCROLL = "e => e.scrollWidth <= e.clientWidth + 1"


def _set_theme(server: Any, theme: str) -> None:
    """Pick the theme through the settings API both apps read (the Settings > Theme menu)."""
    body = json.dumps({"raw": json.dumps({"theme": THEMES[theme]})}).encode()
    request = urllib.request.Request(
        f"{server.url}lab/api/settings/@jupyterlab/apputils-extension:themes",
        data=body,
        method="PUT",
    )
    request.add_header("Authorization", f"token {server.token}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10):
        pass


@pytest.fixture(scope="module")
def finished(browser: Any) -> dict[str, str]:
    """Per app, the saved notebook whose output is the finished triage run."""
    return {}


def _finished_notebook(server: Any, browser: Any, cache: dict[str, str], app: str) -> str:
    if app in cache:
        return cache[app]
    (server.root / "pipelines" / "triage.yml").write_text(TRIAGE_PIPELINE)
    name = notebook(
        server, "matrix.ipynb", "%load_ext ansflow_jupyter\n%ansflow run pipelines/triage.yml"
    )
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        run_first_cell(page, server, name)
        page.wait_for_function(
            f"() => document.querySelector('{WIDGET} .af-badge')?.textContent === 'failed'",
            timeout=90_000,
        )
        page.locator(".jp-Cell .jp-InputPrompt").first.click()
        save(page)
    finally:
        context.close()
    for session in server.api("GET", "sessions"):
        server.api("DELETE", f"sessions/{session['id']}")
    cache[app] = name
    return name


@pytest.mark.parametrize(
    ("app", "width", "theme"), CASES, ids=[f"{a}-{w}-{t}" for a, w, t in CASES]
)
def test_view_matrix(
    app: str,
    width: int,
    theme: str,
    request: pytest.FixtureRequest,
    browser: Any,
    finished: dict[str, str],
    screenshots: Path,
) -> None:
    server = request.getfixturevalue(app)
    name = _finished_notebook(server, browser, finished, app)
    _set_theme(server, theme)
    context = browser.new_context(viewport={"width": width, "height": 1000})
    page = context.new_page()
    try:
        page.goto(server.page(name))
        light = "true" if theme == "light" else "false"
        page.wait_for_function(
            f"() => document.body.dataset.jpThemeLight === '{light}'", timeout=60_000
        )
        page.wait_for_function(
            f"() => document.querySelector('{WIDGET} .af-badge')?.textContent === 'failed'",
            timeout=60_000,
        )
        widget = page.locator(WIDGET).first
        if width == 500:
            # 500 px of widget, as on a small screen: no file browser, converge the viewport
            # (the notebook's margins change with the width).
            opened = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
            if opened.count():
                opened.first.click()
            viewport = 500 + 100
            for _ in range(3):
                page.set_viewport_size({"width": viewport, "height": 1000})
                page.wait_for_timeout(300)
                viewport = int(viewport - (widget.bounding_box()["width"] - 500))
            assert 480 <= widget.bounding_box()["width"] <= 520
        widget.scroll_into_view_if_needed()
        # Failure first: the failed leg is open at its first error line.
        page.locator(f"{WIDGET} .af-row.af-focus").first.wait_for(timeout=30_000)
        assert page.locator(f"{WIDGET} .af-logbar select").first.input_value() == LEG
        assert "Traceback" in page.locator(f"{WIDGET} .af-row.af-focus").first.inner_text()
        assert page.locator(f"{WIDGET} .af-row.af-errline").count() >= 1

        # The header: the whole name (not cut to "N…") and the counts by category.
        header_name = page.locator(f"{WIDGET} .af-name").first
        assert header_name.evaluate(
            "e => e.clientWidth > 100 || e.scrollWidth <= e.clientWidth + 1"
        )
        assert "Nightly" in header_name.inner_text()
        count = page.locator(f"{WIDGET} .af-count").first.inner_text()
        assert count == "3 passed · 1 failed · 1 allowed failure · 1 skipped of 6", count

        # Nothing overflows sideways: the widget root and the header.
        assert widget.evaluate(JS_NO_HSCROLL), widget.evaluate(
            "e => [e.scrollWidth, e.clientWidth]"
        )
        header = page.locator(f"{WIDGET} .af-header").first
        assert header.evaluate(JS_NO_HSCROLL), header.evaluate(
            "e => [e.scrollWidth, e.clientWidth]"
        )

        # The graph fits its pane.
        pane = page.locator(f"{WIDGET} .af-pane").first
        svg = page.locator(f"{WIDGET} .af-pane svg").first
        pane_box, svg_box = pane.bounding_box(), svg.bounding_box()
        assert pane_box and svg_box
        assert svg_box["x"] >= pane_box["x"] - 1, (svg_box, pane_box)
        assert svg_box["x"] + svg_box["width"] <= pane_box["x"] + pane_box["width"] + 1
        assert page.locator(f"{WIDGET} .af-node").count() >= 6

        # Readable text: body text against its background, both themes.
        for selector in (".af-row", ".af-name", ".af-count"):
            ratio = page.locator(f"{WIDGET} {selector}").first.evaluate(JS_CONTRAST)
            assert ratio >= 4.5, (selector, ratio)

        # Keyboard: Tab from the Graph tab reaches a node; Enter opens its log.
        page.locator(f"{WIDGET} .af-tabs button", has_text="Graph").first.focus()
        for _ in range(30):
            page.keyboard.press("Tab")
            step = page.evaluate(
                f"() => document.activeElement?.closest('{WIDGET} .af-pane [data-step]')"
                "?.dataset.step ?? null"
            )
            if step:
                break
        assert step, "Tab never reached a graph node"
        page.keyboard.press("Enter")
        page.wait_for_function(
            f"() => document.querySelector('{WIDGET} .af-logbar select').value"
            f" === {json.dumps(step)}",
            timeout=10_000,
        )

        # Timeline: rows with status icons and spoken names; Tab + Enter opens a row's log.
        page.locator(f"{WIDGET} .af-tabs button", has_text="Timeline").first.click()
        rows = page.locator(f"{WIDGET} tr[data-step]")
        rows.first.wait_for(timeout=10_000)
        assert rows.count() >= 6
        for row in rows.all():
            assert row.locator(".af-ico").count() == 1
            assert str(row.get_attribute("aria-label") or "").strip()
        assert pane.evaluate(JS_NO_HSCROLL), "the timeline is clipped"
        page.locator(f"{WIDGET} .af-tabs button", has_text="Timeline").first.focus()
        for _ in range(30):
            page.keyboard.press("Tab")
            row_step = page.evaluate(
                f"() => document.activeElement?.matches('{WIDGET} tr[data-step]')"
                " ? document.activeElement.dataset.step : null"
            )
            if row_step and row_step != step:
                break
        assert row_step and row_step != step, "Tab never reached another timeline row"
        page.keyboard.press("Enter")
        page.wait_for_function(
            f"() => document.querySelector('{WIDGET} .af-logbar select').value"
            f" === {json.dumps(row_step)}",
            timeout=10_000,
        )
        assert widget.evaluate(JS_NO_HSCROLL)

        # The retried step, reopened from the store: one bar per attempt, and its log
        # says where the second attempt begins.
        assert page.locator(f'{WIDGET} tr[data-step="flaky"] .af-gbar').count() == 2
        page.locator(f"{WIDGET} .af-logbar select").first.select_option("flaky")
        separator = page.locator(f"{WIDGET} .af-row", has_text="attempt 1 failed (exit 1)")
        separator.first.wait_for(timeout=10_000)
        assert "attempt 2 follows" in separator.first.inner_text()
        page.locator(f"{WIDGET} .af-tabs button", has_text="Graph").first.click()
        widget.screenshot(path=str(screenshots / f"matrix-{app}-{width}-{theme}.png"))
    finally:
        context.close()
