"""Notebook steps fed what real notebooks do: floods of output, huge images, `input()`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from _engine_helpers import ListSink, run
from test_engine_notebook import EXECUTION_ID, _kernels, execute, saved, write_notebook

from ansflow_jupyter.engine import Executor
from ansflow_jupyter.engine.backends import LocalBackend
from ansflow_jupyter.events import EventType, ExecutionStatus
from ansflow_jupyter.pipeline import load_pipeline_file

pytestmark = pytest.mark.timeout(240)

ONE_STEP = "name: nb\nsteps:\n  s:\n    notebook: nb.ipynb\n"


def _runners() -> list[psutil.Process]:
    return [
        p
        for p in psutil.process_iter(["cmdline", "environ"])
        if "ansflow_jupyter.engine.notebook.runner" in " ".join(p.info["cmdline"] or [])
        and (p.info["environ"] or {}).get("ANSFLOW_EXECUTION_ID") == EXECUTION_ID
    ]


def _executor_still_works(tmp_path: Path) -> None:
    """The next notebook step of the same process runs normally."""
    write_notebook(tmp_path / "nb.ipynb", "print('fine')")
    status, sink = execute(tmp_path, ONE_STEP)
    assert status is ExecutionStatus.SUCCESS
    assert sink.lines("s")[-1] == "fine"


def test_the_kernel_warning_about_tcp_is_not_in_the_log(tmp_path: Path) -> None:
    write_notebook(tmp_path / "nb.ipynb", "print('hello')")
    status, sink = execute(tmp_path, ONE_STEP)
    assert status is ExecutionStatus.SUCCESS
    assert sink.lines("s") == ["hello"]
    assert sink.lines("s", "stderr") == []
    # No socket file is left in the working directory.
    assert sorted(p.name for p in tmp_path.iterdir()) == [".ansflow", "nb.ipynb", "p.yml"]


def test_a_million_lines_stream_through_and_the_notebook_stays_small(tmp_path: Path) -> None:
    write_notebook(
        tmp_path / "nb.ipynb",
        "for i in range(1_000_000):\n    print(f'line {i}')",
        "print('after')",
    )
    status, sink = execute(tmp_path, ONE_STEP)
    assert status is ExecutionStatus.SUCCESS
    lines = sink.lines("s")
    # Every line is in the log, in order, then the next cell's.
    assert len(lines) == 1_000_001
    assert lines[0] == "line 0" and lines[999_999] == "line 999999"
    assert lines[-1] == "after"
    # The saved notebook keeps the head of the flood and says what it left out.
    path = tmp_path / ".ansflow" / "s.ipynb"
    assert path.stat().st_size < 4 * 1024 * 1024
    cell = saved(tmp_path, "s").cells[1]
    text = "".join(o.get("text", "") for o in cell.outputs)
    assert text.startswith("line 0\nline 1\n")
    assert "output truncated" in text and "the step's log has all of it" in text
    assert saved(tmp_path, "s").cells[2].outputs[0]["text"] == "after\n"
    assert _kernels() == [] and _runners() == []
    _executor_still_works(tmp_path)


def test_a_50_mb_image_is_one_marker_line_and_the_notebook_is_saved(tmp_path: Path) -> None:
    write_notebook(
        tmp_path / "nb.ipynb",
        "import base64, os\nfrom IPython.display import display\n"
        "data = base64.b64encode(os.urandom(50 * 1024 * 1024)).decode()\n"
        "display({'image/png': data}, raw=True)\ndel data",
        "import time; time.sleep(2); print('after')",
    )
    rss: list[int] = []

    def sample(sink: ListSink) -> None:
        # The runner's memory while the next cell runs: the image is not kept around.
        labels = [s.get("progress", {}).get("label", "") for s in sink.steps("s")]
        if labels and labels[-1].startswith("import time"):
            for p in _runners():
                with contextlib.suppress(psutil.Error):
                    rss.append(p.memory_info().rss)

    status, sink = execute_with_probe(tmp_path, sample)
    assert status is ExecutionStatus.SUCCESS
    lines = sink.lines("s")
    markers = [line for line in lines if line.startswith("[image/png output")]
    assert len(markers) == 1 and "66.7 MB" in markers[0], markers
    assert lines[-1] == "after"
    assert (tmp_path / ".ansflow" / "s.ipynb").stat().st_size < 1024 * 1024
    outputs = saved(tmp_path, "s").cells[1].outputs
    assert "image/png" not in outputs[0]["data"]
    assert "not kept in the notebook" in outputs[0]["data"]["text/plain"]
    assert rss and max(rss) < 300 * 1024 * 1024
    assert _kernels() == [] and _runners() == []
    _executor_still_works(tmp_path)


def execute_with_probe(
    tmp_path: Path, probe: Callable[[ListSink], None]
) -> tuple[ExecutionStatus, ListSink]:
    """`execute` with a function called on the events every 50 ms (it never cancels)."""
    (tmp_path / "p.yml").write_text(ONE_STEP)
    spec = load_pipeline_file(tmp_path / "p.yml")
    sink = ListSink()
    executor = Executor(spec, EXECUTION_ID, LocalBackend(), sink)

    async def main() -> ExecutionStatus:
        task = asyncio.ensure_future(executor.run())
        while not task.done():
            probe(sink)
            await asyncio.sleep(0.05)
        return await task

    status = run(main(), timeout=200)
    sink.check_invariants()
    return status, sink


def test_input_fails_fast_naming_the_cell(tmp_path: Path) -> None:
    write_notebook(tmp_path / "nb.ipynb", "print('ready')", "name = input('name? ')", "print(2)")
    status, sink = execute(tmp_path, ONE_STEP)
    assert status is ExecutionStatus.FAILED
    message = sink.final("s")["message"]
    assert message.startswith("cell 2 (name = input('name? ')) failed: StdinNotImplementedError")
    assert "a notebook step has no stdin: pass values as parameters" in message
    assert sink.lines("s", "stderr")[-1] == f"ansflow: {message}"
    groups = [g for g in sink.of(EventType.GROUP_UPDATE) if g["status"] != "running"]
    assert [g["status"] for g in groups] == ["success", "failed"]
    assert _kernels() == [] and _runners() == []
    _executor_still_works(tmp_path)
