"""The views as a user meets a failure, at 1400 px and at 500 px, in one notebook page.

One page, many assertions (the suite stays fast): failure-first triage, truthful counts,
reasons in words, retries, a log pane that survives being hidden, the narrow layout.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_lab import notebook, run_first_cell, save

pytestmark = pytest.mark.e2e

TRIAGE_PIPELINE = """\
name: Nightly integration checks for the payments service
defaults: {shell: bash}
steps:
  setup: {run: echo setting up}
  lint:
    needs: setup
    continue-on-error: true
    run: |
      echo "lint: 3 warnings"
      exit 1
  flaky:
    needs: setup
    retry: {max: 1, delay: 1s}
    run: |
      echo "attempt $ANSFLOW_ATTEMPT"
      if [ "$ANSFLOW_ATTEMPT" = 1 ]; then sleep 2; echo "first try fails" >&2; exit 1; fi
      echo "second try works"
  integration-tests-with-a-long-name:
    needs: setup
    matrix: {python: ["3.11", "3.12"]}
    run: |
      for i in $(seq 1 80); do echo "test_case_$i PASSED"; done
      if [ "${{ matrix.python }}" = "3.12" ]; then
        python3 -c "import json; json.loads('{broken')"
      fi
      echo "all good on ${{ matrix.python }}"
  deploy:
    needs: [integration-tests-with-a-long-name, flaky]
    run: echo deploying
"""

JS_ROWS_VISIBLE = """() => {
  const view = document.querySelector('.ansflow-widget .af-logview');
  const rows = [...document.querySelectorAll('.ansflow-widget .af-row')];
  if (!view || !rows.length) return false;
  const v = view.getBoundingClientRect();
  return rows.some(r => { const b = r.getBoundingClientRect();
    return b.top >= v.top - 1 && b.bottom <= v.bottom + 1 && r.innerText.trim().length > 0; });
}"""


def _box(page: Any, selector: str) -> dict[str, float]:
    return dict(page.locator(selector).first.bounding_box())


def test_failure_first_and_narrow(lab: Any, page: Any, screenshots: Path) -> None:
    (lab.root / "pipelines" / "triage.yml").write_text(TRIAGE_PIPELINE)
    name = notebook(
        lab, "triage.ipynb", "%load_ext ansflow_jupyter\n%ansflow run pipelines/triage.yml"
    )
    run_first_cell(page, lab, name)
    widget = ".ansflow-widget"
    page.locator(f"{widget} .af-badge").first.filter(has_text="running").wait_for(timeout=30_000)
    # Another tab in front while the run ends (JupyterLab hides the notebook)...
    page.locator(".lm-TabBar-addButton:not(.lm-mod-hidden)").first.click()
    page.wait_for_selector(".jp-Launcher", timeout=10_000)
    page.wait_for_function(
        f"() => document.querySelector('{widget} .af-badge')?.textContent === 'failed'",
        timeout=60_000,
    )
    page.wait_for_timeout(500)
    # ... and back: the log pane is drawn, not blank (defect 1).
    page.locator(".lm-TabBar-tab", has_text="triage.ipynb").first.click()
    page.wait_for_function(JS_ROWS_VISIBLE, timeout=10_000)

    # Failure first: the failed leg is open at its first error (defect 6).
    leg = "integration-tests-with-a-long-name[python=3.12]"
    assert page.locator(f"{widget} .af-logbar select").first.input_value() == leg
    focus = page.locator(f"{widget} .af-row.af-focus").first
    focus.wait_for(timeout=10_000)
    assert "Traceback" in focus.inner_text()
    assert page.evaluate(JS_ROWS_VISIBLE)
    focus_box, view_box = focus.bounding_box(), _box(page, f"{widget} .af-logview")
    assert view_box["y"] <= focus_box["y"] <= view_box["y"] + view_box["height"]
    assert page.locator(f"{widget} .af-row.af-errline").count() >= 1
    # The header names the failed step as a link, with the reason in words.
    links = page.locator(f"{widget} .af-failures .af-link")
    assert links.count() == 1
    assert "[3.12]" in links.first.inner_text()
    failures = page.locator(f"{widget} .af-failures").first.inner_text()
    assert "exit 1" in failures
    # Counts tell passed, allowed failure and skipped apart (defect 5).
    count = page.locator(f"{widget} .af-count").first.inner_text()
    assert count == "3 passed · 1 failed · 1 allowed failure · 1 skipped of 6", count
    assert (
        page.locator(f"{widget} .af-fill.af-k-success").first.evaluate("e => e.style.width")
        == "50%"
    )
    # Matrix legs keep their values in the graph (defect 9).
    graph = page.locator(f"{widget} .af-graph").first.inner_text()
    assert "[3.11]" in graph and "[3.12]" in graph
    # A skipped step says why instead of "No log lines yet." (defect 11).
    page.locator(f'{widget} .af-pane [data-step="deploy"]').first.click()
    page.locator(f"{widget} .af-rows", has_text="a step it needs failed").first.wait_for(
        timeout=5_000
    )
    # Retries: a separator between the attempts (defect 7).
    page.locator(f'{widget} .af-pane [data-step="flaky"]').first.click()
    page.wait_for_function(
        f"() => document.querySelector('{widget} .af-rows')?.innerText.includes('second try works')"
    )
    flaky_log = page.locator(f"{widget} .af-rows").first.inner_text()
    assert "attempt 1 failed" in flaky_log, flaky_log
    assert page.locator(f"{widget} .af-row.af-stderr").count() >= 1
    # Keyboard: a graph node is focusable and named (defect 15).
    node = page.locator(f'{widget} .af-pane [data-step="setup"]').first
    node.focus()
    page.keyboard.press("Enter")
    page.wait_for_function(
        f"() => document.querySelector('{widget} .af-logbar select').value === 'setup'",
        timeout=5_000,
    )
    assert "setup: success" in str(node.get_attribute("aria-label"))
    # The log pane fits its content: two lines do not take 340 px (defect 16).
    page.wait_for_function(
        f"() => document.querySelector('{widget} .af-logwrap')"
        ".getBoundingClientRect().height < 150",
        timeout=5_000,
    )
    links.first.click()
    page.locator(f"{widget} .af-row.af-focus").first.wait_for(timeout=10_000)
    page.locator(widget).first.screenshot(path=str(screenshots / "failure-first.png"))

    # Downloads: per step and all steps, distinct names, step prefixes, no ANSI, no token
    # in any link (defect 14).
    select = page.locator(f"{widget} .af-logbar select").first
    files = {}
    for step in ("", "flaky"):
        select.select_option(step)
        with page.expect_download() as info:
            page.locator(f"{widget} .af-download").first.click()
        download = info.value
        files[download.suggested_filename] = Path(download.path()).read_text()
    names = sorted(files)
    assert (
        len(names) == 2 and names[0].endswith("-all-steps.log") and names[1].endswith("-flaky.log")
    )
    everything = files[names[0]]
    assert "[setup] setting up" in everything
    assert "[flaky] second try works" in everything
    assert "\x1b" not in everything
    assert files[names[1]].splitlines()[-1] == "second try works"
    hrefs = page.eval_on_selector_all(f"{widget} a", "els => els.map(e => e.href)")
    assert not [h for h in hrefs if "token" in h], hrefs

    # The saved output's text summary says how the run ended (defect 2).
    page.locator(".jp-Cell .jp-InputPrompt").first.click()
    save(page)
    saved = json.loads((lab.root / name).read_text())
    plain = "".join(saved["cells"][0]["outputs"][0]["data"]["text/plain"])
    assert plain.startswith(
        "AnsFlow · Nightly integration checks for the payments service · failed"
    ), plain

    # Timeline: one bar per attempt of the retried step.
    page.locator(f"{widget} .af-tabs button", has_text="Timeline").first.click()
    bars = page.locator(f'{widget} tr[data-step="flaky"] .af-gbar')
    bars.nth(1).wait_for(timeout=5_000)  # drawn on the next animation frame
    assert bars.count() == 2

    # The sidebar: pipelines by name, coloured status icons, dates, filters (defect 12).
    page.locator('.jp-SideBar [data-id="ansflow-sidebar"]').first.click()
    sidebar = page.locator("#ansflow-sidebar")
    sidebar.locator(".af-pname", has_text="Nightly integration checks").first.wait_for(
        timeout=15_000
    )
    failed_icon = sidebar.locator("tr.af-click .af-ico.af-s-failed").first
    failed_icon.wait_for(timeout=15_000)
    assert failed_icon.evaluate("e => getComputedStyle(e).color") != sidebar.evaluate(
        "e => getComputedStyle(e).color"
    )
    sidebar.locator(".af-filters select").select_option("success")
    assert sidebar.locator("tr.af-click .af-s-failed").count() == 0
    sidebar.locator(".af-filters select").select_option("")
    page.locator(".jp-SideBar .lm-TabBar-tab.lm-mod-current").first.screenshot(
        path=str(screenshots / "sidebar-tab.png")
    )
    sidebar.screenshot(path=str(screenshots / "sidebar.png"))
    page.locator('.jp-SideBar [data-id="ansflow-sidebar"]').first.click()  # close it again

    # Narrow: the widget 500 px wide (defect 13), the file browser closed as on a small screen.
    page.keyboard.press("Escape")
    page.keyboard.press("Control+b")
    page.wait_for_timeout(500)
    viewport = 1400
    for _ in range(3):  # the notebook's margins change with the width: converge on 500 px
        viewport = int(viewport - (_box(page, widget)["width"] - 500))
        page.set_viewport_size({"width": viewport, "height": 1000})
        page.wait_for_timeout(300)
    assert 490 <= _box(page, widget)["width"] <= 510
    name_el = page.locator(f"{widget} .af-name").first
    assert name_el.evaluate("e => e.scrollWidth <= e.clientWidth + 1 || e.clientWidth > 100"), (
        name_el.evaluate("e => [e.scrollWidth, e.clientWidth]")
    )
    pane = page.locator(f"{widget} .af-pane").first
    assert pane.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), "the timeline is clipped"
    search_top = _box(page, f"{widget} .af-logbar input[type=search]")["y"]
    for button in page.locator(f"{widget} .af-searchgroup button").all():
        assert abs(button.bounding_box()["y"] - search_top) < 6, "search buttons wrapped"
    page.locator(widget).first.screenshot(path=str(screenshots / "narrow-500-timeline.png"))
    page.locator(f"{widget} .af-tabs button", has_text="Graph").first.click()
    page.locator(widget).first.screenshot(path=str(screenshots / "narrow-500-graph.png"))

    # Dark theme, same page: the view follows JupyterLab's colours.
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Theme").first.hover()
    page.locator(".lm-Menu-itemLabel", has_text="JupyterLab Dark").first.click()
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=15_000)
    page.wait_for_timeout(500)
    links.first.click()
    background = page.locator(f"{widget}").first.evaluate(
        "e => getComputedStyle(e).backgroundColor"
    )
    row_color = page.locator(f"{widget} .af-row").first.evaluate("e => getComputedStyle(e).color")
    assert background != "rgb(255, 255, 255)" and row_color != "rgb(0, 0, 0)", (
        background,
        row_color,
    )
    page.locator(widget).first.screenshot(path=str(screenshots / "failure-first-dark.png"))
