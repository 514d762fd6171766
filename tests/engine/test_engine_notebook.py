"""Notebook steps with real kernels: cells, progress, groups, outputs, failures, kills."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import nbformat
import psutil
import pytest
from _engine_helpers import ListSink, run

from ansflow_jupyter.engine import Executor
from ansflow_jupyter.engine.backends import LocalBackend
from ansflow_jupyter.events import EventType, ExecutionStatus
from ansflow_jupyter.pipeline import load_pipeline_file

pytestmark = pytest.mark.timeout(120)


#: This test process's runs: other test sessions on the machine run the same tests.
EXECUTION_ID = f"nb-{os.getpid()}"

def write_notebook(path: Path, *sources: str, parameters: str | None = None) -> None:
    """A python3 notebook; `parameters` becomes the cell tagged "parameters"."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "P"}
    cells = []
    if parameters is not None:
        cell = nbformat.v4.new_code_cell(parameters)
        cell.metadata["tags"] = ["parameters"]
        cells.append(cell)
    cells.append(nbformat.v4.new_markdown_cell("# a title"))
    cells += [nbformat.v4.new_code_cell(s) for s in sources]
    nb.cells = cells
    nbformat.write(nb, str(path))


def execute(
    tmp_path: Path, yaml_text: str, *, cancel_when: Any = None
) -> tuple[ExecutionStatus, ListSink]:
    (tmp_path / "p.yml").write_text(yaml_text)
    spec = load_pipeline_file(tmp_path / "p.yml")
    sink = ListSink()
    executor = Executor(spec, EXECUTION_ID, LocalBackend(), sink)

    async def main() -> ExecutionStatus:
        task = asyncio.ensure_future(executor.run())
        if cancel_when is not None:
            while not cancel_when(sink):
                await asyncio.sleep(0.05)
            executor.cancel()
        return await task

    status = run(main(), timeout=100)
    sink.check_invariants()
    return status, sink


def saved(tmp_path: Path, step_id: str) -> Any:
    return nbformat.read(str(tmp_path / ".ansflow" / f"{step_id}.ipynb"), as_version=4)


def test_cells_stream_progress_groups_and_outputs(tmp_path: Path) -> None:
    write_notebook(
        tmp_path / "nb.ipynb",
        "print('x is', x, type(x).__name__)",
        "import sys; print('to stderr', file=sys.stderr)",
        "from ansflow_jupyter import output\noutput('accuracy', 0.93)\noutput('tags', ['a'])",
        "from IPython.display import HTML\nHTML('<b>hi</b>')",
        parameters="x = 1\nname = 'n'",
    )
    status, sink = execute(
        tmp_path,
        """
name: nb
steps:
  train:
    notebook: nb.ipynb
    matrix: {x: [2.5]}
    parameters: {x: "${{ matrix.x }}"}
  after:
    needs: train
    run: echo "acc=${{ needs['train[x=2.5]'].outputs.accuracy }}"
""",
    )
    assert status is ExecutionStatus.SUCCESS
    sid = "train[x=2.5]"
    lines = sink.lines(sid)
    assert "x is 2.5 float" in lines  # the matrix number stayed a number
    assert "to stderr" in sink.lines(sid, "stderr")
    assert any(line.startswith("[text/html output") for line in lines)
    assert sink.final(sid)["outputs"] == {"accuracy": "0.93", "tags": '["a"]'}
    assert "acc=0.93" in sink.lines("after")
    # Progress: code cells done / code cells (parameters + injected + 4), label while running.
    progress = [s["progress"] for s in sink.steps(sid) if "progress" in s]
    assert progress[0] == {"done": 0, "total": 6, "label": ""}
    assert {"done": 2, "total": 6, "label": "print('x is', x, type(x).__name__)"} in progress
    assert progress[-1]["done"] == 6
    # One group of kind `cell` per code cell, holding that cell's lines.
    groups = [g for g in sink.of(EventType.GROUP_UPDATE) if g["status"] != "running"]
    assert [g["kind"] for g in groups] == ["cell"] * 6
    assert groups[2]["title"] == "Cell 3 · print('x is', x, type(x).__name__)"
    assert lines[groups[2]["start_offset"] : groups[2]["end_offset"]] == ["x is 2.5 float"]
    nb = saved(tmp_path, sid)
    assert nb.cells[1].metadata.tags == ["injected-parameters"]
    assert nb.cells[3].outputs[0]["text"] == "x is 2.5 float\n"


def test_a_failing_cell_is_named_with_its_traceback(tmp_path: Path) -> None:
    write_notebook(
        tmp_path / "nb.ipynb", "a = 1", "raise ValueError('bad input')", "print('never')"
    )
    status, sink = execute(tmp_path, "name: nb\nsteps:\n  s:\n    notebook: nb.ipynb\n")
    assert status is ExecutionStatus.FAILED
    final = sink.final("s")
    assert final["reason"] == "exit"
    assert (
        final["message"] == "cell 2 (raise ValueError('bad input')) failed: ValueError: bad input"
    )
    stderr = sink.lines("s", "stderr")
    assert stderr[-1] == f"ansflow: {final['message']}"
    assert any("Traceback" in line for line in stderr)
    groups = [g for g in sink.of(EventType.GROUP_UPDATE) if g["status"] != "running"]
    assert [g["status"] for g in groups] == ["success", "failed"]
    assert "never" not in sink.lines("s")


def test_kernel_death_saves_the_partial_notebook(tmp_path: Path) -> None:
    write_notebook(tmp_path / "nb.ipynb", "print('first')", "import os; os._exit(1)", "print('x')")
    status, sink = execute(tmp_path, "name: nb\nsteps:\n  s:\n    notebook: nb.ipynb\n")
    assert status is ExecutionStatus.FAILED
    final = sink.final("s")
    assert final["reason"] == "kernel-died"
    assert "cell 2 (import os; os._exit(1))" in final["message"]
    nb = saved(tmp_path, "s")
    assert nb.cells[1].outputs[0]["text"] == "first\n"


def _kernels() -> list[psutil.Process]:
    return [
        p
        for p in psutil.process_iter(["cmdline", "environ"])
        if "ipykernel_launcher" in " ".join(p.info["cmdline"] or [])
        and (p.info["environ"] or {}).get("ANSFLOW_EXECUTION_ID") == EXECUTION_ID
    ]


def test_timeout_kills_kernel_and_keeps_the_notebook(tmp_path: Path) -> None:
    write_notebook(
        tmp_path / "nb.ipynb", "print('started', flush=True)", "import time; time.sleep(60)"
    )
    status, sink = execute(
        tmp_path, "name: nb\nsteps:\n  s:\n    notebook: nb.ipynb\n    timeout: 20s\n"
    )
    assert status is ExecutionStatus.FAILED
    assert sink.final("s")["reason"] == "timeout"
    nb = saved(tmp_path, "s")
    assert nb.cells[1].outputs[0]["text"] == "started\n"
    assert _kernels() == []


def test_cancel_mid_cell_leaves_no_process(tmp_path: Path) -> None:
    write_notebook(
        tmp_path / "nb.ipynb", "print('ready', flush=True)", "import time; time.sleep(60)"
    )

    def sleeping(sink: ListSink) -> bool:
        return any(
            s.get("progress", {}).get("label") == "import time; time.sleep(60)"
            for s in sink.steps("s")
        )

    started = time.monotonic()
    status, sink = execute(
        tmp_path, "name: nb\nsteps:\n  s:\n    notebook: nb.ipynb\n", cancel_when=sleeping
    )
    assert time.monotonic() - started < 60
    assert status is ExecutionStatus.CANCELLED
    assert sink.final("s")["reason"] == "cancelled"
    assert saved(tmp_path, "s").cells[1].outputs[0]["text"] == "ready\n"
    assert _kernels() == []
    groups = [g for g in sink.of(EventType.GROUP_UPDATE) if g["status"] != "running"]
    assert groups[-1]["status"] == "cancelled"


def test_output_outside_a_step_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    from ansflow_jupyter import output

    monkeypatch.delenv("ANSFLOW_OUTPUT", raising=False)
    with pytest.warns(UserWarning, match="not running as a pipeline step"):
        output("accuracy", 0.93)


def test_bad_notebooks_are_located_errors_before_anything_runs(tmp_path: Path) -> None:
    from ansflow_jupyter.pipeline import validate
    from ansflow_jupyter.pipeline.loader import load_pipeline

    (tmp_path / "broken.ipynb").write_text("{not json")
    write_notebook(tmp_path / "ok.ipynb", "1")
    text = """name: nb
steps:
  missing:
    notebook: nope.ipynb
  broken:
    notebook: broken.ipynb
  kernel:
    notebook: ok.ipynb
    kernel: no-such-kernel
  both:
    run: echo
    notebook: ok.ipynb
"""
    with pytest.raises(Exception) as caught:
        load_pipeline(text, path="p.yml", base_dir=tmp_path)
    issues = [(i.line, i.path, i.message) for i in caught.value.issues]  # type: ignore[attr-defined]
    assert issues[0][:2] == (4, "steps.missing.notebook")
    assert issues[0][2].startswith("notebook not found")
    assert issues[1][:2] == (6, "steps.broken.notebook")
    assert "not a valid notebook" in issues[1][2]
    assert issues[2][:2] == (9, "steps.kernel.kernel")
    assert "unknown kernel 'no-such-kernel'" in issues[2][2]
    assert issues[3] == (12, "steps.both.notebook", "a step has `run` or `notebook`, not both")
    assert validate(text)  # the same through the validator the REST endpoint uses


def test_on_dask_cells_are_in_band_groups_without_progress(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    from ansflow_jupyter.engine.backends.dask import DaskBackend

    write_notebook(
        tmp_path / "nb.ipynb",
        "print('hello', n)",
        "from ansflow_jupyter import output\noutput('n', n)",
        parameters="n = 1",
    )
    (tmp_path / "p.yml").write_text(
        "name: nb\nsteps:\n  s:\n    notebook: nb.ipynb\n    parameters: {n: 2}\n"
    )

    async def main() -> tuple[ExecutionStatus, ListSink]:
        backend = await DaskBackend.local(n_workers=1, processes=False)
        sink = ListSink()
        try:
            spec = load_pipeline_file(tmp_path / "p.yml")
            return await Executor(spec, "nb-dask", backend, sink).run(), sink
        finally:
            await backend.close()

    status, sink = run(main(), timeout=100)
    assert status is ExecutionStatus.SUCCESS
    assert "hello 2" in sink.lines("s")
    assert sink.final("s")["outputs"] == {"n": "2"}
    groups = [g for g in sink.of(EventType.GROUP_UPDATE) if g["status"] != "running"]
    assert [g["title"] for g in groups][-1] == "Cell 4 · from ansflow_jupyter import output"
    assert saved(tmp_path, "s").cells[3].outputs[0]["text"] == "hello 2\n"
