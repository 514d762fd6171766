"""`shell:` runs the step's script with the interpreter the step's own PATH finds."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

from _engine_helpers import ListSink, run

from ansflow_jupyter.engine import Executor
from ansflow_jupyter.engine.backends import LocalBackend
from ansflow_jupyter.events import ExecutionStatus
from ansflow_jupyter.pipeline import load_pipeline


def test_shell_python_runs_the_python3_of_the_steps_path(tmp_path: Path) -> None:
    # A project's own interpreter first on PATH (as a CI runner's setup-python leaves it):
    # `shell: python` must run it, not the interpreter ansflow itself runs with.
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    fake = fake_bin / "python3"
    fake.write_text('#!/bin/sh\necho "project python3 $1"\nexec "$REAL_PYTHON" "$@"\n')
    fake.chmod(0o755)
    spec = load_pipeline(
        textwrap.dedent(
            f"""\
            name: interpreter
            env:
              PATH: "{fake_bin}{os.pathsep}/usr/bin{os.pathsep}/bin"
              REAL_PYTHON: "{sys.executable}"
            steps:
              py: {{shell: python, run: "import sys; print('ran', sys.version_info[0])"}}
            """
        ),
        base_dir=tmp_path,
    )
    sink = ListSink()
    status = run(Executor(spec, "shell-1", LocalBackend(), sink).run())
    assert status is ExecutionStatus.SUCCESS, sink.lines("py")
    assert sink.lines("py", "stdout") == ["project python3 -u", "ran 3"]


def test_shell_python_without_python3_on_path_names_it(tmp_path: Path) -> None:
    spec = load_pipeline(
        textwrap.dedent(
            f"""\
            name: no-interpreter
            steps:
              py: {{shell: python, run: "print(1)", env: {{PATH: "{tmp_path}"}}}}
            """
        ),
        base_dir=tmp_path,
    )
    sink = ListSink()
    status = run(Executor(spec, "shell-2", LocalBackend(), sink).run())
    assert status is ExecutionStatus.FAILED
    assert any("python3" in line and "not found" in line for line in sink.lines("py")), sink.lines(
        "py"
    )
