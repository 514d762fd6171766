"""The live view while batches arrive: rich renders on its own thread, events on ours."""

from __future__ import annotations

import io
import json
import re
import sys
import threading
from pathlib import Path

import pytest

from ansflow_jupyter.cli_view import LiveView, make_view
from ansflow_jupyter.events import Event, EventType
from ansflow_jupyter.pipeline import load_pipeline


class Terminal(io.StringIO):
    """A StringIO that rich takes for a terminal."""

    def isatty(self) -> bool:
        return True


def test_rendering_while_lines_pour_in_never_sees_a_half_applied_batch() -> None:
    spec = load_pipeline("name: r\nsteps:\n  a: {run: x}\n  b: {run: y}\n", base_dir=Path())
    view = make_view(spec, "e", out=Terminal())
    assert isinstance(view, LiveView)
    errors: list[BaseException] = []
    renders = 0
    stop = threading.Event()

    def render_forever() -> None:  # what rich's refresh thread does, as often as it can
        nonlocal renders
        while not stop.is_set():
            try:
                view.live.refresh()
                renders += 1
            except Exception as exc:  # collected, asserted below
                errors.append(exc)

    hook = threading.excepthook
    threading.excepthook = lambda args: errors.append(args.exc_value or Exception())
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: races show at once
    try:
        with view:
            renderer = threading.Thread(target=render_forever)
            renderer.start()
            for seq in range(1, 30_001):
                lines = [f"line {n} [/] of batch {seq}" for n in range(10)]
                data = {"step_id": "ab"[seq % 2], "stream": "stdout", "offset": 0, "lines": lines}
                view.apply([Event(EventType.LOG_UPDATE, "e", seq, data)])
            stop.set()
            renderer.join()
    finally:
        sys.setswitchinterval(interval)
        threading.excepthook = hook
    assert errors == []
    assert renders > 0


@pytest.mark.parametrize("width", [40, 80, 200])
def test_final_table_keeps_status_and_time_at_any_width(width: int) -> None:
    ids = [f"a-rather-long-step-name-{i}" for i in range(10)]
    text = "name: w\nsteps:\n" + "".join(f"  {i}: {{run: x}}\n" for i in ids)
    text += f"  last-step-with-a-long-name:\n    needs: [{', '.join(ids)}]\n    run: x\n"
    out = Terminal()
    view = make_view(load_pipeline(text, base_dir=Path()), "e", out=out)
    assert isinstance(view, LiveView)
    view.console.width = width
    step = {"step_id": "last-step-with-a-long-name", "status": "failed", "exit_code": 2}
    step.update(duration=125.0, started_at=1.0)
    view.apply([Event(EventType.STEP_UPDATE, "e", 1, step)])
    view.console.print(view.render(with_logs=False))
    screen = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue()).splitlines()
    rows = [line for line in screen if "last-step" in line]
    assert len(rows) == 1 and len(rows[0]) <= width, screen
    assert rows[0].startswith("✖ failed   2m 05s  last-step"), rows
    assert ("exit 2" in rows[0]) is (width >= 80)
    assert (", ".join(ids) in rows[0]) is (width >= 400)


def test_live_screen_fits_a_short_terminal_keeping_running_and_failed_steps() -> None:
    text = "name: big\nsteps:\n" + "".join(f"  s{i:02d}: {{run: x}}\n" for i in range(40))
    out = Terminal()
    view = make_view(load_pipeline(text, base_dir=Path()), "e", out=out)
    assert isinstance(view, LiveView)
    view.console.width, view.console.height = 80, 20
    updates = [{"step_id": f"s{i:02d}", "status": "success", "duration": 1.0} for i in range(30)]
    updates[3].update(status="failed", exit_code=1)
    updates += [{"step_id": "s35", "status": "running", "started_at": 1.0}]
    for seq, step in enumerate(updates, 1):
        view.apply([Event(EventType.STEP_UPDATE, "e", seq, step)])
    log = {"step_id": "s35", "stream": "stdout", "offset": 0, "lines": ["a", "b", "c"]}
    view.apply([Event(EventType.LOG_UPDATE, "e", len(updates) + 1, log)])
    view.console.print(view.render())
    screen = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue()).splitlines()
    assert len(screen) <= 20, screen
    assert any("running" in line and "s35" in line for line in screen)
    assert any("failed" in line and "s03" in line for line in screen)
    assert screen[-1] == "… 25 more steps: 25 success", screen  # 29 success, 4 shown


@pytest.mark.parametrize(
    "stamps",
    [
        [1796051526.899314] * 6 + [1796051526.9] * 6,  # a few reads of many lines each
        [1.0, 2.5, 3.0, 4.25],  # every line its own read
        [1.5, float("nan")] * 4,  # not JSON-like floats: the plain encoder decides
        [3] * 8,
    ],
)
def test_json_lines_print_a_log_batch_exactly_as_json_dumps(stamps: list[float]) -> None:
    lines = ['tab\there "quoted" \\ back', "nul \x00 and é ✔", ""] * 4
    batch = Event(
        seq=3,
        type=EventType.LOG_UPDATE,
        execution_id="e",
        ts=1.25,
        data={
            "step_id": "s",
            "stream": "stdout",
            "offset": 0,
            "lines": lines[: len(stamps)],
            "ts": stamps,
        },
    )
    out = io.StringIO()
    view = make_view(None, "e", json_lines=True, out=out)
    with view:
        view.apply([batch])
    printed = out.getvalue().splitlines()[1]
    assert printed == json.dumps(batch.to_dict(), separators=(",", ":"))


def test_a_step_waiting_to_retry_says_so_not_just_its_exit_code() -> None:
    text = "name: r\nsteps:\n  flaky: {run: x, retry: {max: 2, delay: 1s}}\n"
    out = Terminal()
    view = make_view(load_pipeline(text, base_dir=Path()), "e", out=out)
    assert isinstance(view, LiveView)
    view.console.width = 120
    # The engine's announcement: attempt 1 failed (exit 1), attempt 2 starts in 1 s.
    step = {"step_id": "flaky", "status": "running", "attempt": 1, "exit_code": 1, "retry_in": 1.0}
    view.apply([Event(EventType.STEP_UPDATE, "e", 1, {**step, "started_at": 1.0})])
    view.console.print(view.render(with_logs=False))
    screen = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue()).splitlines()
    (row,) = [line for line in screen if "flaky" in line]
    assert "attempt 1 failed (exit 1), retrying in 1s" in row, row
