"""Log groups at 200k lines in real headless Chromium, against the same log without groups.

The built widget bundle (ansflow_jupyter/static/widget.js, `npm run build:widget`) runs in
a plain page with an embedded-mode model; the page pushes one step of N lines (default
200,000) in batches, with and without G `cell` groups over them (default 1,000; every
second one failed, so open, the rest closed). Measured per variant, in the same run:

1. select the step -> first rows drawn (ms), and again with warm code (median of 3);
2. a top-to-bottom scroll (scrollTop set in every requestAnimationFrame for ~2 s): frame
   times p50 / p95 / max and frames per second;
3. with groups: a click on the first header (open <-> closed) -> rows redrawn (ms), median
   of 20.

    python benchmarks/bench_groups.py [--lines 200000] [--groups 1000] [--scroll-ms 2000]

Needs Debian `/usr/bin/chromium` and Python `playwright` (never `playwright install`).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import shutil
import statistics
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

BUNDLE = Path(__file__).resolve().parent.parent / "ansflow_jupyter" / "static" / "widget.js"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]

PAGE = """<!doctype html><meta charset="utf-8"><body style="width:1200px">
<div id="root"></div>
<script type="module">
import widget from './widget.js';
const handlers = {};
const values = {mode: 'embedded', execution_id: 'ex'};
const model = {get: k => values[k], set() {}, save_changes() {}, send() {},
  on(e, cb) { (handlers[e] ||= []).push(cb); }, off() {}};
widget.render({model, el: document.getElementById('root')});
window.push = events => (handlers['msg:custom'] || []).forEach(cb => cb({type: 'events', events}));
window.ready = true;
</script>"""

JS_LOAD = """([lines, groups]) => {
  let seq = 1;
  const ev = (type, data) => ({v: 1, seq: seq++, type, execution_id: 'ex', ts: 1000 + seq, data});
  const events = [
    ev('snapshot', {execution: {execution_id: 'ex', pipeline_name: 'bench', status: 'success',
      steps_total: 1, steps_done: 1}, steps: [{step_id: 's', status: 'success', log_lines: 0}]}),
  ];
  const per = groups ? Math.floor(lines / groups) : lines;
  for (let g = 0; g < groups; g++) {
    events.push(ev('group_update', {step_id: 's', index: g, kind: 'cell',
      title: `Cell ${g + 1} · x = f(${g})`, status: g % 2 ? 'success' : 'failed', reason: null,
      start_offset: g * per, end_offset: (g + 1) * per, started_at: 1000, finished_at: 1001}));
  }
  window.push(events);
  for (let at = 0; at < lines; at += 10000) {
    const n = Math.min(10000, lines - at);
    const text = Array.from({length: n}, (_, i) => `line ${at + i} of the benchmark log`);
    window.push([{v: 1, seq: seq++, type: 'log_update', execution_id: 'ex', ts: 2000,
      data: {step_id: 's', stream: 'stdout', offset: at, lines: text,
        ts: text.map(() => 2000 + at / 1e6)}}]);
  }
}"""

JS_SELECT = """() => new Promise(resolve => {
  const select = document.querySelector('.af-logbar select');
  const t0 = performance.now();
  select.value = 's';
  select.dispatchEvent(new Event('change'));
  const check = () => {
    // Line numbers are drawn only in one step's view (All steps shows step tags instead).
    if (document.querySelector('.af-rows .af-ln')) resolve(performance.now() - t0);
    else requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
})"""

JS_ALL_STEPS = """() => {
  const select = document.querySelector('.af-logbar select');
  select.value = '';
  select.dispatchEvent(new Event('change'));
}"""

JS_SWEEP = """(ms) => new Promise(resolve => {
  const view = document.querySelector('.af-logview');
  const frames = [];
  const t0 = performance.now();
  let last = t0;
  const step = now => {
    frames.push(now - last);
    last = now;
    const f = Math.min(1, (now - t0) / ms);
    view.scrollTop = f * (view.scrollHeight - view.clientHeight);
    if (f < 1) requestAnimationFrame(step);
    else resolve({frames: frames.slice(1), rows: view.scrollHeight / 18});
  };
  requestAnimationFrame(step);
})"""

JS_TOGGLE = """() => new Promise(resolve => {
  const view = document.querySelector('.af-logview');
  view.scrollTop = 0;
  requestAnimationFrame(() => requestAnimationFrame(() => {
    const head = document.querySelector('.af-ghead');
    const was = head.getAttribute('aria-expanded');
    const t0 = performance.now();
    head.click();
    const check = () => {
      const again = document.querySelector('.af-ghead');
      if (again && again.getAttribute('aria-expanded') !== was) resolve(performance.now() - t0);
      else requestAnimationFrame(check);
    };
    requestAnimationFrame(check);
  }));
})"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No request log."""


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def measure(browser: Any, url: str, lines: int, groups: int, scroll_ms: int) -> dict[str, Any]:
    """One fresh page: load the log, select the step, sweep, toggle."""
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    try:
        page.goto(url)
        page.wait_for_function("() => window.ready === true")
        page.evaluate(JS_LOAD, [lines, groups])
        page.wait_for_timeout(300)
        first = float(page.evaluate(JS_SELECT))
        # Again (All steps, then the step): the code is warm, the layout is rebuilt.
        warm = []
        for _ in range(3):
            page.evaluate(JS_ALL_STEPS)
            page.wait_for_timeout(100)
            warm.append(float(page.evaluate(JS_SELECT)))
        sweep = page.evaluate(JS_SWEEP, scroll_ms)
        frames = [float(f) for f in sweep["frames"]]
        result: dict[str, Any] = {
            "first_rows_ms": round(first, 1),
            "rows_again_ms_median": round(statistics.median(warm), 1),
            "display_rows": int(sweep["rows"]),
            "frame_p50_ms": round(_pct(frames, 0.5), 1),
            "frame_p95_ms": round(_pct(frames, 0.95), 1),
            "frame_max_ms": round(max(frames), 1),
            "fps": round(1000 * len(frames) / sum(frames), 1),
        }
        if groups:
            toggles = [float(page.evaluate(JS_TOGGLE)) for _ in range(20)]
            result["toggle_ms_median"] = round(statistics.median(toggles), 1)
        return result
    finally:
        page.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--groups", type=int, default=1_000)
    parser.add_argument("--scroll-ms", type=int, default=2_000)
    args = parser.parse_args()
    if not BUNDLE.is_file():
        print(f"{BUNDLE} is missing: run `npm run build:widget` in labextension/", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        shutil.copy(BUNDLE, Path(tmp) / "widget.js")
        (Path(tmp) / "index.html").write_text(PAGE)
        # A module script needs http:// (file:// is a null origin): a local server thread.
        handler = functools.partial(_Quiet, directory=tmp)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/index.html"
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            # Interleaved, two rounds: the machine is shared and noisy.
            rounds = []
            for _ in range(2):
                base = measure(browser, url, args.lines, 0, args.scroll_ms)
                grouped = measure(browser, url, args.lines, args.groups, args.scroll_ms)
                rounds.append({"baseline_no_groups": base, "groups": grouped})
        finally:
            browser.close()
            server.shutdown()
    # Per variant its better round (the machine is shared: the worse one measured noise).
    best = {
        name: min((r[name] for r in rounds), key=lambda m: m["frame_p95_ms"])
        for name in ("baseline_no_groups", "groups")
    }
    for key in ("frame_p95_ms", "first_rows_ms", "rows_again_ms_median"):
        ratio = best["groups"][key] / max(0.1, best["baseline_no_groups"][key])
        best[f"ratio_{key}"] = round(ratio, 2)
    print(json.dumps({"lines": args.lines, "groups": args.groups, **best}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
