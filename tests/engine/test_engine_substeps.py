"""Native sub-steps run for real: in order, in the step's folder, each a `job-step` group."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from _engine_helpers import ListSink, run

from ansflow_jupyter.engine import Executor
from ansflow_jupyter.engine.backends import LocalBackend
from ansflow_jupyter.events import EventType, ExecutionStatus
from ansflow_jupyter.pipeline import load_pipeline

PIPELINE = """\
name: subs
env:
  WHO: world
steps:
  build:
    working-directory: src
    steps:
      - name: Greet
        run: |
          echo "hello $WHO from $(basename "$PWD")"
          echo "made" > made.txt
      - name: Allowed to fail
        run: exit 3
        continue-on-error: true
      - name: Output
        run: echo "answer=42" >> "$ANSFLOW_OUTPUT"
      - name: Breaks
        run: exit 4
      - name: Never
        run: echo never
      - name: Cleanup
        if: always() && env.WHO == 'world'
        shell: python
        run: print("cleanup sees", open("made.txt").read().strip())
  after:
    needs: build
    run: echo after
"""


def groups(sink: ListSink, sid: str) -> list[tuple[str, str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    for data in sink.of(EventType.GROUP_UPDATE):
        if data["step_id"] == sid and data["kind"] == "job-step":
            found[data["index"]] = data
    return [(g["title"], g["status"], g["reason"]) for _, g in sorted(found.items())]


def test_sub_steps_run_in_order_each_a_group(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    spec = load_pipeline(PIPELINE, base_dir=tmp_path)
    sink = ListSink()
    status = run(Executor(spec, "subs-1", LocalBackend(), sink).run(), timeout=120)
    sink.check_invariants()
    assert status is ExecutionStatus.FAILED
    assert groups(sink, "build") == [
        ("Greet", "success", "exit"),
        ("Allowed to fail", "failed", "exit"),
        ("Output", "success", "exit"),
        ("Breaks", "failed", "exit"),
        ("Never", "skipped", "condition-false"),
        ("Cleanup", "success", "exit"),
    ]
    lines = sink.lines("build")
    assert "hello world from src" in lines  # in the step's working directory, no copy
    assert "cleanup sees made" in lines
    assert "Process completed with exit code 4." in lines
    final = sink.final("build")
    assert final["status"] == "failed" and final["outputs"] == {"answer": "42"}
    assert sink.final("after")["status"] == "skipped"
    assert (tmp_path / "src" / "made.txt").read_text() == "made\n"
