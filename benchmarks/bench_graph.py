"""The DAG of a 200-step pipeline in real headless Chromium, against a plain page, same run.

The built widget bundle (ansflow_jupyter/static/widget.js) is mounted in a static page
with an embedded-mode model, as the notebook does, and handed one snapshot of N steps
(stages of steps with `needs` on the stage before, skips over stages, and matrix groups).

1. First paint: snapshot pushed -> the frame that draws the graph has been painted
   (requestAnimationFrame + a task after it). Goal <= 200 ms for 200 steps. Baseline: the
   same number of plain <div>s with the step names put into a page by innerHTML.
2. Pan and zoom: a mouse drag across the graph, then Ctrl+wheel zoom steps (a trackpad
   pinch arrives as that), while every requestAnimationFrame interval is recorded. Goal
   60 fps. Baseline: the same recording while nothing moves (what this machine's headless
   Chromium gives at most).

    python benchmarks/bench_graph.py [--steps 200] [--rounds 3] [--screenshot out.png]

Needs `npm run build` (labextension/), Debian `/usr/bin/chromium` and Python `playwright`
(never `playwright install`). About 20 seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import random
import shutil
import statistics
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / "ansflow_jupyter" / "static" / "widget.js"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]

PAGE = """<!doctype html><html><head><meta charset="utf-8">
<style>body{margin:0;font-family:sans-serif} #host{width:var(--w);margin:8px}</style></head>
<body><div id="host"></div><script type="module">
import widget from './widget.js';
class Model {
  constructor() { this.h = {}; this.v = {mode: 'embedded', execution_id: 'bench'}; }
  get(k) { return this.v[k]; } set(k, v) { this.v[k] = v; } save_changes() {}
  on(e, cb) { (this.h[e] ??= []).push(cb); } off() {} send() {}
  push(events) { for (const cb of this.h['msg:custom'] ?? []) cb({type: 'events', events}); }
}
window.benchModel = new Model();
widget.render({model: window.benchModel, el: document.getElementById('host')});
window.benchReady = true;
</script></body></html>"""

BASELINE = """<!doctype html><html><head><meta charset="utf-8"></head><body>
<div id="host" style="display:flex;flex-wrap:wrap;gap:4px"></div></body></html>"""

JS_FIRST_PAINT = """async (steps) => {
  const after = () => new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
  await after();
  const t0 = performance.now();
  window.benchModel.push([{v: 1, seq: 1, type: 'snapshot', execution_id: 'bench', ts: 1,
    data: {execution: {execution_id: 'bench', pipeline_name: 'bench', status: 'running',
                       steps_total: steps.length, steps_done: 0}, steps}}]);
  await after();
  const t1 = performance.now();
  return {ms: t1 - t0, nodes: document.querySelectorAll('.af-node').length};
}"""

JS_BASELINE_PAINT = """async (steps) => {
  const after = () => new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
  await after();
  const t0 = performance.now();
  document.getElementById('host').innerHTML = steps.map(
    s => `<div style="width:200px;height:40px;border:1px solid #999">${s.step_id}</div>`).join('');
  document.body.offsetHeight;
  await after();
  return {ms: performance.now() - t0, nodes: steps.length};
}"""

JS_FRAMES_START = """() => {
  window.benchFrames = [];
  let last = performance.now();
  const tick = (t) => { window.benchFrames.push(t - last); last = t;
                        if (window.benchFrames !== null) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
}"""

JS_FRAMES_STOP = (
    """() => { const f = window.benchFrames.slice(1); window.benchFrames = null; return f; }"""
)


def pipeline_steps(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """N steps in stages of ~10; every fifth stage is a matrix of 4 legs."""
    rng = random.Random(seed)
    steps: list[dict[str, Any]] = []
    stage: list[str] = []
    s = 0
    while len(steps) < n:
        prev, stage = stage, []
        width = min(10, n - len(steps))
        if s % 5 == 2 and width >= 4:
            for v in ("3.10", "3.11", "3.12", "3.13"):
                sid = f"tests-{s}[python={v}]"
                needs = rng.sample(prev, min(2, len(prev))) if prev else []
                steps.append(
                    {
                        "step_id": sid,
                        "status": "success",
                        "needs": needs,
                        "template_id": f"tests-{s}",
                        "matrix": {"python": v},
                    }
                )
                stage.append(sid)
            width -= 4
        for i in range(width):
            sid = f"stage{s}-step{i}"
            needs = rng.sample(prev, min(len(prev), rng.randint(1, 3))) if prev else []
            if s >= 2 and rng.random() < 0.2:
                needs.append(steps[rng.randrange(0, max(1, len(steps) - 20))]["step_id"])
            status = rng.choice(["success", "success", "success", "running", "pending"])
            steps.append({"step_id": sid, "status": status, "needs": sorted(set(needs))})
            stage.append(sid)
        s += 1
    return steps[:n]


class Quiet(http.server.SimpleHTTPRequestHandler):
    """A static file handler that does not log every request."""

    def log_message(self, format: str, *args: Any) -> None:
        """Nothing: the benchmark prints its own lines."""


@contextlib.contextmanager
def static_server(files: dict[str, str | Path]) -> Iterator[str]:
    """Serve these files (name -> text or path) from a temp folder on a free port."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, content in files.items():
            target = Path(tmp) / name
            if isinstance(content, Path):
                shutil.copyfile(content, target)
            else:
                target.write_text(content)
        handler = functools.partial(Quiet, directory=tmp)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/"
        finally:
            server.shutdown()
            server.server_close()


def fps(frames: list[float]) -> tuple[float, float]:
    """Frames per second and the 95th-percentile frame interval (ms)."""
    if not frames:
        return 0.0, 0.0
    p95 = sorted(frames)[int(len(frames) * 0.95) - 1 if len(frames) > 1 else 0]
    return 1000 * len(frames) / sum(frames), p95


def main() -> int:
    """Run the measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--screenshot", type=Path)
    args = parser.parse_args()
    if not BUNDLE.exists():
        print(f"{BUNDLE} is missing: run `npm run build` in labextension/", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    steps = pipeline_steps(args.steps)
    page_html = PAGE.replace("var(--w)", f"{args.width}px")
    files: dict[str, str | Path] = {
        "index.html": page_html,
        "base.html": BASELINE,
        "widget.js": BUNDLE,
    }
    with static_server(files) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            paint, base = [], []
            for _ in range(args.rounds):
                page = browser.new_page(viewport={"width": args.width + 40, "height": 900})
                page.goto(url + "base.html")
                base.append(page.evaluate(JS_BASELINE_PAINT, steps)["ms"])
                page.goto(url + "index.html")
                page.wait_for_function("window.benchReady === true")
                result = page.evaluate(JS_FIRST_PAINT, steps)
                paint.append(result["ms"])
                page.close()
            median, baseline = statistics.median(paint), statistics.median(base)
            rounds = ", ".join(f"{p:.0f}" for p in paint)
            print(
                f"first paint, {args.steps} steps ({result['nodes']} nodes drawn): "
                f"median {median:.0f} ms (rounds {rounds}); "
                f"baseline {args.steps} plain divs {baseline:.0f} ms; "
                f"ratio {median / max(baseline, 0.1):.1f}x; goal <= 200 ms"
            )

            page = browser.new_page(viewport={"width": args.width + 40, "height": 900})
            page.goto(url + "index.html")
            page.wait_for_function("window.benchReady === true")
            page.evaluate(JS_FIRST_PAINT, steps)
            page.wait_for_timeout(300)
            page.evaluate(JS_FRAMES_START)
            page.wait_for_timeout(1500)
            idle = fps(page.evaluate(JS_FRAMES_STOP))
            box = page.locator(".af-gview").bounding_box()
            assert box is not None
            cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            page.evaluate(JS_FRAMES_START)
            page.mouse.move(cx, cy)
            page.mouse.down()
            for i in range(120):
                page.mouse.move(cx - 3 * i, cy - (i % 40), steps=1)
            page.mouse.up()
            pan = fps(page.evaluate(JS_FRAMES_STOP))
            page.evaluate(JS_FRAMES_START)
            page.keyboard.down("Control")
            for i in range(60):
                page.mouse.wheel(0, -20 if i < 30 else 20)
            page.keyboard.up("Control")
            zoom = fps(page.evaluate(JS_FRAMES_STOP))
            print(
                f"pan (drag): {pan[0]:.0f} fps, p95 frame {pan[1]:.1f} ms; "
                f"zoom (Ctrl+wheel): {zoom[0]:.0f} fps, p95 frame {zoom[1]:.1f} ms; "
                f"baseline idle page: {idle[0]:.0f} fps, p95 {idle[1]:.1f} ms; "
                f"ratio pan/idle {pan[0] / max(idle[0], 1):.2f}, "
                f"zoom/idle {zoom[0] / max(idle[0], 1):.2f}; goal 60 fps"
            )
            if args.screenshot:
                page.locator(".ansflow-widget").screenshot(path=str(args.screenshot))
            page.close()
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
