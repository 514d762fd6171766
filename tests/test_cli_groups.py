"""Log groups, notebook progress and annotations in the terminal: live, report, logs, show."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from test_cli_terminal import run_in_pty, write
from test_cli_view import Terminal

from ansflow_jupyter.cli_view import LiveView, make_view
from ansflow_jupyter.events import Event, EventType
from ansflow_jupyter.pipeline import load_pipeline

pytestmark = pytest.mark.timeout(180)


def _screen(out: Terminal) -> list[str]:
    return re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue()).splitlines()


def _view(width: int) -> tuple[LiveView, Terminal]:
    spec = load_pipeline(
        "name: nb\nsteps:\n  train: {run: x}\n  other: {run: y}\n", base_dir=Path()
    )
    out = Terminal()
    view = make_view(spec, "e", out=out)
    assert isinstance(view, LiveView)
    view.console.width, view.console.height = width, 30
    return view, out


def _events(*items: tuple[EventType, dict[str, Any]]) -> list[Event]:
    return [Event(kind, "e", seq, data) for seq, (kind, data) in enumerate(items, 1)]


def _group(index: int, title: str, status: str, start: int, end: int | None) -> dict[str, Any]:
    return {
        "step_id": "train",
        "index": index,
        "kind": "cell",
        "title": title,
        "status": status,
        "reason": None,
        "start_offset": start,
        "end_offset": end,
        "started_at": 10.0,
        "finished_at": None if end is None else 11.2,
    }


@pytest.mark.parametrize("width", [80, 200])
def test_live_row_shows_the_running_cell_and_progress(width: int) -> None:
    view, out = _view(width)
    running = {"step_id": "train", "status": "running", "started_at": time.time()}
    progress = {**running, "progress": {"done": 3, "total": 50, "label": "df = load()"}}
    view.apply(
        _events(
            (EventType.STEP_UPDATE, running),
            (EventType.GROUP_UPDATE, _group(0, "Cell 3 · x = 1", "success", 0, 0)),
            (
                EventType.GROUP_UPDATE,
                _group(1, "Cell 4 · df = load() [bold]x[/]", "running", 0, None),
            ),
            (EventType.STEP_UPDATE, progress),
        )
    )
    view.console.print(view.render())
    row = next(line for line in _screen(out) if "train" in line)
    assert len(row) <= width
    assert row[1:].startswith(" running"), row  # a spinner frame, then the status
    assert "cell 4/50 · Cell 4 · df = lo" in row, row
    if width == 200:
        assert "cell 4/50 · Cell 4 · df = load() [bold]x[/]" in row, row  # markup as text


@pytest.mark.parametrize("width", [80, 200])
def test_final_report_names_the_failed_cell_and_lists_annotations(width: int) -> None:
    view, out = _view(width)
    note = {"step_id": "train", "offset": 0, "level": "warning", "message": "old [red]api[/]"}
    error = {"step_id": "other", "offset": 4, "level": "error", "message": "bad input"}
    failed = {"step_id": "train", "status": "failed", "exit_code": 1, "duration": 2.0}
    log = {"step_id": "train", "stream": "stderr", "offset": 0, "lines": ["KeyError: 'b'"]}
    with view:
        view.apply(
            _events(
                (EventType.STEP_UPDATE, {"step_id": "train", "status": "running"}),
                (EventType.ANNOTATION, note),
                (EventType.GROUP_UPDATE, _group(0, "Cell 2 · df['b']", "failed", 0, 1)),
                (EventType.ANNOTATION, {**error, "file": "app.py", "line": 12}),
                (EventType.LOG_UPDATE, log),
                (EventType.STEP_UPDATE, failed),
            )
        )
    screen = _screen(out)
    rule = next(line for line in screen if "train failed" in line)
    assert "train failed (2.0s, exit 1) in Cell 2 · df['b']" in rule
    row = next(line for line in screen if "train" in line and "✖ failed" in line)
    assert "exit 1 · in Cell 2" in row, row
    assert "✖ error  other · app.py:12  bad input" in screen  # errors first
    assert "⚠ warning  train · log line 1  old [red]api[/]" in screen


PIPELINE = """\
name: "groups [ci]"
steps:
  build:
    run: |
      echo "::group::compile [fast]"
      echo compiling
      echo "::endgroup::"
      echo "::group::link"
      echo "::warning file=setup.py,line=3::deprecated [option]"
      echo "::error file=app.py,line=12::undefined name"
      exit 2
      echo "::endgroup::"
"""


@pytest.mark.parametrize("columns", [80, 200])
def test_run_logs_and_show_of_groups_and_annotations(tmp_path: Path, columns: int) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "P"}
    nb.cells = [
        nbformat.v4.new_code_cell("print('ok')"),
        nbformat.v4.new_code_cell("df = {}\ndf['b']"),
    ]
    nbformat.write(nb, str(tmp_path / "nb.ipynb"))
    text = PIPELINE + "  nb:\n    notebook: nb.ipynb\n"
    session = run_in_pty(tmp_path, columns, "run", write(tmp_path, "g.yml", text))
    assert session.returncode == 1, session.stderr
    assert "Traceback" not in session.stderr
    screen = session.lines
    rules = [line for line in screen if "─" in line and "failed" in line]
    assert any("build failed" in r and "in link" in r for r in rules), screen
    assert any("nb failed" in r and "in Cell 2 · df = {}" in r for r in rules), screen
    assert "✖ error  build · app.py:12  undefined name" in screen
    assert "⚠ warning  build · setup.py:3  deprecated [option]" in screen

    short = run_in_pty(tmp_path, columns, "list").row("groups [ci]").split()[0]
    logs = run_in_pty(tmp_path, columns, "logs", short, "--step", "build")
    assert logs.returncode == 0, logs.stderr
    lines = logs.lines
    assert lines[0] == "✖ error  build · app.py:12  undefined name"
    assert lines[1] == "⚠ warning  build · setup.py:3  deprecated [option]"
    start = lines.index("compiling")
    assert lines[start - 1].startswith("▸ compile [fast] (") and lines[start - 1].endswith("s)")
    assert any(line.startswith("▸ link (") and line.endswith(", failed)") for line in lines)
    followed = run_in_pty(tmp_path, columns, "logs", short, "--step", "build", "--follow")
    assert followed.returncode == 0, followed.stderr
    assert followed.lines[followed.lines.index("compiling") - 1] == "▸ compile [fast]"
    cells = run_in_pty(tmp_path, columns, "logs", short, "--step", "nb").lines
    assert cells[cells.index("ok") - 1].startswith("▸ Cell 1 · print('ok') (")
    assert any(line.startswith("▸ Cell 2 · df = {} (") for line in cells), cells

    shown = run_in_pty(tmp_path, columns, "show", short)
    assert shown.returncode == 0, shown.stderr
    assert "2 annotations:" in shown.lines
    assert "✖ error  build · app.py:12  undefined name" in [x.strip() for x in shown.lines]
    failing = next(line for line in shown.lines if "✖ failed" in line and " nb " in line)
    assert "in Cell 2" in failing or columns < 100, failing


def test_a_failed_workflow_job_names_its_job_step_and_section() -> None:
    view, out = _view(120)

    def group(index: int, kind: str, title: str, status: str) -> dict[str, Any]:
        return {**_group(index, title, status, index, index + 1), "kind": kind}

    failed = {"step_id": "train", "status": "failed", "exit_code": 1, "duration": 3.0}
    log = {"step_id": "train", "stream": "stdout", "offset": 0, "lines": ["E assert 1 == 2"]}
    with view:
        view.apply(
            _events(
                (EventType.STEP_UPDATE, {"step_id": "train", "status": "running"}),
                (EventType.GROUP_UPDATE, group(0, "job-step", "Set up job", "success")),
                (EventType.GROUP_UPDATE, group(1, "job-step", "Lint", "failed")),
                (EventType.GROUP_UPDATE, group(2, "job-step", "Run tests", "failed")),
                (EventType.GROUP_UPDATE, group(3, "group", "pytest [unit]", "failed")),
                (EventType.LOG_UPDATE, log),
                (EventType.STEP_UPDATE, failed),
            )
        )
    rule = next(line for line in _screen(out) if "train failed" in line)
    assert "train failed (3.0s, exit 1) in Run tests › pytest [unit]" in rule, rule
