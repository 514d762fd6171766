"""A 40-step pipeline with a matrix in the notebook widget's graph, at 1400 px and 500 px.

One page, many assertions: the matrix legs folded into one group node, fit, zoom (button,
Ctrl+wheel, keys), pan by drag (which selects nothing), no edge under a node, the group
expanded to its legs with their values, and the graph/log split dragged and keyed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_lab import notebook, run_first_cell

pytestmark = pytest.mark.e2e

WIDGET = ".ansflow-widget"
VIEW = f"{WIDGET} .af-gview"


def forty_steps() -> str:
    """checkout, 6 lints, an 8-leg matrix, 10 builds, 4 docs, 10 packages, deploy: 40."""
    lines = ["name: Forty steps with a matrix", "defaults: {shell: bash}", "steps:"]
    lines.append("  checkout: {run: echo checkout}")
    for i in range(6):
        lines.append(f"  lint-{i}: {{needs: checkout, run: echo lint {i}}}")
    lines += [
        "  tests:",
        "    needs: checkout",
        "    matrix: {python: ['3.10', '3.11', '3.12', '3.13'], os: [linux, mac]}",
        "    run: echo testing on ${{ matrix.python }} ${{ matrix.os }}",
    ]
    for i in range(10):
        lines.append(f"  build-{i}: {{needs: [lint-{i % 6}, tests], run: echo build {i}}}")
    for i in range(4):
        lines.append(f"  docs-{i}: {{needs: checkout, run: echo docs {i}}}")
    for i in range(10):
        lines.append(f"  package-{i}: {{needs: [build-{i}], run: echo package {i}}}")
    packages = ", ".join(f"package-{i}" for i in range(10))
    lines.append(f"  deploy: {{needs: [{packages}, docs-0, checkout], run: echo deploy}}")
    return "\n".join(lines) + "\n"


# Points along every edge, 4 px apart: none may fall inside a node's box.
JS_EDGES_UNDER_NODES = """() => {
  const svg = document.querySelector('.ansflow-widget .af-gcanvas svg');
  const boxes = [...svg.querySelectorAll('.af-node rect.af-box')].map(r => r.getBBox());
  const bad = [];
  for (const p of svg.querySelectorAll('path.af-edge')) {
    const length = p.getTotalLength();
    for (let d = 8; d < length - 8; d += 4) {
      const pt = p.getPointAtLength(d);
      if (boxes.some(b => pt.x > b.x + 2 && pt.x < b.x + b.width - 2 &&
                          pt.y > b.y + 2 && pt.y < b.y + b.height - 2)) {
        bad.push(p.getAttribute('d')); break;
      }
    }
  }
  return {edges: svg.querySelectorAll('path.af-edge').length, bad};
}"""


JS_NODE_IN_VIEW = """() => {
  const view = document.querySelector('.ansflow-widget .af-gview').getBoundingClientRect();
  for (const n of document.querySelectorAll('.ansflow-widget .af-gview [data-step]')) {
    const b = n.getBoundingClientRect();
    const x = b.left + b.width / 2, y = b.top + b.height / 2;
    if (x > view.left + 150 && x < view.right - 10 && y > view.top + 40 && y < view.bottom - 10
        && x < innerWidth && y < innerHeight) return [x, y];
  }
  return [view.left + view.width / 2, view.top + view.height / 2];
}"""


def _box(page: Any, selector: str) -> dict[str, float]:
    return dict(page.locator(selector).first.bounding_box())


def _zoom(page: Any) -> float:
    return float(page.locator(VIEW).first.get_attribute("data-zoom") or 0)


def _inside(inner: dict[str, float], outer: dict[str, float], slack: float = 2) -> bool:
    return (
        inner["x"] >= outer["x"] - slack
        and inner["y"] >= outer["y"] - slack
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + slack
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + slack
    )


def _fit_and_check(page: Any) -> None:
    page.locator(f"{WIDGET} .af-gtools button", has_text="Fit").first.click()
    page.wait_for_timeout(200)
    svg, view = _box(page, f"{VIEW} svg"), _box(page, VIEW)
    assert _inside(svg, view), (svg, view)


def test_forty_step_graph(lab: Any, page: Any, screenshots: Path) -> None:
    (lab.root / "pipelines" / "forty.yml").write_text(forty_steps())
    name = notebook(
        lab, "forty.ipynb", "%load_ext ansflow_jupyter\n%ansflow run pipelines/forty.yml"
    )
    run_first_cell(page, lab, name)
    page.wait_for_function(
        f"() => document.querySelector('{WIDGET} .af-badge')?.textContent === 'success'",
        timeout=120_000,
    )
    assert "40 passed" in page.locator(f"{WIDGET} .af-count").first.inner_text()

    # The eight legs are one node that says how many and how they did.
    group = page.locator(f'{WIDGET} [data-group="tests"]').first
    group.wait_for(timeout=10_000)
    assert group.get_attribute("aria-expanded") == "false"
    assert "×8" in str(group.text_content()) and "8 passed" in str(group.text_content())
    assert "8 legs" in str(group.get_attribute("aria-label"))
    assert page.locator(f'{WIDGET} [data-step^="tests["]').count() == 0
    assert page.locator(f"{WIDGET} .af-node").count() == 40 - 8 + 1

    # Fit to the width by default, readable: never below 60 %.
    assert 0.6 <= _zoom(page) <= 1
    edges = page.evaluate(JS_EDGES_UNDER_NODES)
    assert edges["edges"] >= 30 and not edges["bad"], edges

    # Fit shows all of it; + and Ctrl+wheel zoom in, "-" (keyboard) zooms out.
    _fit_and_check(page)
    fitted = _zoom(page)
    page.locator(f"{WIDGET} .af-gtools button[aria-label^='Zoom in']").first.click()
    page.wait_for_timeout(100)
    assert _zoom(page) > fitted
    view = _box(page, VIEW)
    page.mouse.move(view["x"] + view["width"] / 2, view["y"] + view["height"] / 2)
    before = _zoom(page)
    page.keyboard.down("Control")
    page.mouse.wheel(0, -300)
    page.keyboard.up("Control")
    page.wait_for_function(f"() => +document.querySelector('{VIEW}').dataset.zoom > {before}")
    page.locator(VIEW).first.focus()
    before = _zoom(page)
    page.keyboard.press("-")
    page.wait_for_function(f"() => +document.querySelector('{VIEW}').dataset.zoom < {before}")

    # Pan: a drag that starts on a node moves the graph and selects nothing.
    page.locator(VIEW).first.focus()
    for _ in range(3):
        page.keyboard.press("+")
    page.wait_for_timeout(100)
    page.locator(VIEW).first.scroll_into_view_if_needed()
    view = _box(page, VIEW)
    # A node whose middle is in view, to press on.
    x, y = page.evaluate(JS_NODE_IN_VIEW)
    svg_before = _box(page, f"{VIEW} svg")
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, 11):
        page.mouse.move(x - 12 * i, y - 4 * i)
    page.mouse.up()
    page.wait_for_timeout(100)
    svg_after = _box(page, f"{VIEW} svg")
    assert svg_after["x"] < svg_before["x"] - 60, (svg_before, svg_after)
    assert page.locator(f"{WIDGET} .af-logbar select").first.input_value() == ""
    # Arrow keys on the focused graph pan too.
    page.locator(VIEW).first.focus()
    page.keyboard.press("ArrowLeft")
    page.wait_for_timeout(100)
    assert _box(page, f"{VIEW} svg")["x"] > svg_after["x"]

    # Expand the matrix: the legs appear with their values, under an open header.
    _fit_and_check(page)
    page.locator(f'{WIDGET} [data-group="tests"]').first.click()
    leg = page.locator(f'{WIDGET} [data-step="tests[python=3.12,os=linux]"]').first
    leg.wait_for(timeout=5_000)
    assert "[3.12, linux]" in str(leg.text_content())
    assert page.locator(f'{WIDGET} [data-step^="tests["]').count() == 8
    assert (
        page.locator(f'{WIDGET} [data-group="tests"]').first.get_attribute("aria-expanded")
        == "true"
    )
    assert not page.evaluate(JS_EDGES_UNDER_NODES)["bad"]
    leg.click()
    page.wait_for_function(
        f"() => document.querySelector('{WIDGET} .af-logbar select').value"
        " === 'tests[python=3.12,os=linux]'"
    )
    page.locator(f"{WIDGET} .af-rows", has_text="testing on 3.12 linux").first.wait_for(
        timeout=10_000
    )

    # The split: drag the handle 120 px down, then one arrow key up; remembered.
    top = _box(page, f"{WIDGET} .af-left")
    handle = _box(page, f"{WIDGET} .af-split")
    hx, hy = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
    page.mouse.move(hx, hy)
    page.mouse.down()
    for i in range(1, 7):
        page.mouse.move(hx, hy + 20 * i)
    page.mouse.up()
    grown = _box(page, f"{WIDGET} .af-left")["height"]
    assert abs(grown - (top["height"] + 120)) <= 6, (top["height"], grown)
    page.locator(f"{WIDGET} .af-split").first.focus()
    page.keyboard.press("ArrowUp")
    assert abs(_box(page, f"{WIDGET} .af-left")["height"] - (grown - 16)) <= 2
    assert page.locator(f"{WIDGET} .af-split").first.get_attribute("role") == "separator"
    assert page.evaluate("() => localStorage.getItem('ansflow.split.notebook')") == str(
        round(grown - 16)
    )
    _fit_and_check(page)
    page.locator(WIDGET).first.screenshot(path=str(screenshots / "graph-40.png"))

    # 500 px wide: the tools stay on one line inside the widget, Fit still shows it all.
    viewport = 1400
    for _ in range(3):  # the notebook's margins change with the width: converge on 500 px
        viewport = int(viewport - (_box(page, WIDGET)["width"] - 500))
        page.set_viewport_size({"width": viewport, "height": 1000})
        page.wait_for_timeout(300)
    widget = _box(page, WIDGET)
    assert 490 <= widget["width"] <= 510
    assert _inside(_box(page, VIEW), widget)
    buttons = [b.bounding_box() for b in page.locator(f"{WIDGET} .af-gtools button").all()]
    assert len({round(b["y"]) for b in buttons}) == 1, buttons
    assert all(_inside(b, widget) for b in buttons)
    _fit_and_check(page)
    page.locator(f'{WIDGET} [data-group="tests"]').first.click()  # fold it again
    page.locator(f'{WIDGET} [data-group="tests"][aria-expanded="false"]').first.wait_for()
    page.locator(f"{WIDGET} .af-gtools button", has_text="↔").first.click()
    page.wait_for_timeout(200)
    assert _zoom(page) == pytest.approx(0.6, abs=0.01)  # too wide to fit readable: it pans
    page.locator(WIDGET).first.screenshot(path=str(screenshots / "graph-40-narrow.png"))
