"""The engine's side of a notebook step: its command line and its control channel.

The runner (runner.py, inside the step process) writes JSON lines on a pipe of its own
(ANSFLOW_CONTROL_FD): cell started/ended, each cell's output in print order, failures.
They become `step_update.progress`, one `group_update` of kind `cell` per cell, and log
lines -- never parsed from what a cell prints.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...pipeline.spec import NOTEBOOK_OUTPUT_DIR, StepSpec
from ..output import LineProcessor

#: Where the executed notebook is kept, relative to the step's working directory.
OUTPUT_DIR = NOTEBOOK_OUTPUT_DIR
#: Longest control line kept (a cell printing megabytes in one message is cut).
MAX_LINE = 8 * 1024 * 1024


def output_path(spec: StepSpec, cwd: str) -> str:
    """`<working dir>/.ansflow/<step id>.ipynb` (a '/' in a matrix value becomes '_')."""
    return os.path.join(cwd, OUTPUT_DIR, spec.id.replace(os.sep, "_") + ".ipynb")


def notebook_argv(spec: StepSpec, base_dir: Path, cwd: str) -> list[str]:
    """The step's command line: this interpreter running the notebook runner."""
    return [
        sys.executable,
        "-m",
        "ansflow_jupyter.engine.notebook.runner",
        str(base_dir / spec.notebook),
        "--output",
        output_path(spec, cwd),
        "--kernel",
        spec.kernel,
        "--parameters",
        json.dumps(dict(spec.parameters)),
    ]


class NotebookControl:
    """Turns one step's control messages into progress, cell groups and log lines."""

    def __init__(
        self, step_extra: dict[str, Any], log: LineProcessor, emit_step: Callable[[], None]
    ) -> None:
        self._extra = step_extra
        self._log = log
        self._emit_step = emit_step
        self._buffer = b""
        self.kernel_died = False
        self.message = ""
        self._done = 0
        self._total = 0

    def attempt(self) -> None:
        """A new attempt starts from a clean slate."""
        self.kernel_died, self.message, self._done, self._buffer = False, "", 0, b""

    def feed(self, chunk: bytes) -> None:
        """Bytes from the control pipe; complete lines are handled at once."""
        data = self._buffer + chunk
        *lines, self._buffer = data.split(b"\n")
        if len(self._buffer) > MAX_LINE:
            self._buffer = b""
        for line in lines:
            try:
                message = json.loads(line)
            except ValueError:
                continue  # never fatal: the step's exit code still decides
            if isinstance(message, dict):
                self._handle(message)

    def _handle(self, m: dict[str, Any]) -> None:
        kind = m.get("t")
        if kind == "stream":
            stream = "stderr" if m.get("stream") == "stderr" else "stdout"
            self._log.feed(stream, str(m.get("text", "")).encode("utf-8", "replace"))
        elif kind == "start":
            self._total = int(m.get("total", 0))
            self._progress("")
        elif kind == "cell":
            label = str(m.get("label", ""))
            self._log.start_group(f"Cell {m.get('index')} · {label}", kind="cell")
            self._progress(label)
        elif kind == "cell_end":
            status = str(m.get("status", "success"))
            self._log.end_group(status)
            if status == "success":
                self._done += 1
                self._progress("")
        elif kind == "kernel_died":
            self.kernel_died = True
            self.message = str(m.get("message", "the kernel died"))
        elif kind == "failed":
            self.message = str(m.get("message", ""))

    def _progress(self, label: str) -> None:
        self._extra["progress"] = {"done": self._done, "total": self._total, "label": label}
        self._emit_step()
