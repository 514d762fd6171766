"""`ansflow run` on a real terminal: a pty of 80 or 200 columns, read back as a screen."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pyte
import pytest

ROWS = 2000  # tall enough that nothing scrolls off: the screen is the whole session


@dataclass
class Session:
    raw: bytes
    screen: pyte.Screen
    stderr: str
    returncode: int

    @property
    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.screen.display if line.strip()]

    def row(self, text: str) -> str:
        """The first screen line containing `text` that is not a log line or a rule."""
        found = [line for line in self.lines if text in line and not {"│", "─"} & set(line)]
        assert found, f"{text!r} not on screen:\n" + "\n".join(self.lines)
        return found[0]


def run_in_pty(tmp_path: Path, columns: int, *args: str, timeout: float = 120) -> Session:
    """`ansflow ARGS` with stdout on a pty of `columns` columns; stderr kept apart."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {
        **os.environ,
        "ANSFLOW_DB_URL": f"sqlite:///{tmp_path / 'cli.sqlite'}",
        "COLUMNS": str(columns),
        "LINES": "50",
        "TERM": "xterm-256color",
    }
    for name in ("NO_COLOR", "FORCE_COLOR", "CI", "TTY_COMPATIBLE", "JUPYTER_COLUMNS"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ansflow_jupyter.cli", *args],
        stdin=follower,
        stdout=follower,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    os.close(follower)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], timeout)
            if not ready:
                proc.kill()
                pytest.fail("no output for a long time: the view froze")
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        stderr = proc.communicate(timeout=timeout)[1].decode()
    finally:
        os.close(leader)
    raw = b"".join(chunks)
    screen = pyte.Screen(columns, ROWS)
    stream = pyte.ByteStream(screen)
    stream.feed(raw.replace(b"\n", b"\r\n") if b"\r\n" not in raw else raw)
    return Session(raw, screen, stderr, proc.returncode)


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


WIDE_NEEDS = """\
name: wide needs
steps:
  {prep}
  tests:
    matrix: {{python: ["3.12", "3.13"]}}
    run: echo "testing ${{{{ matrix.python }}}}"
  integration-with-a-long-descriptive-name:
    needs: [{needs}, tests]
    run: "echo boom; exit 4"
"""


@pytest.mark.parametrize("columns", [80, 200])
def test_status_and_time_stay_with_a_long_needs_list(tmp_path: Path, columns: int) -> None:
    ids = [f"prepare-env-{i}" for i in range(8)]
    prep = "\n  ".join(f"{i}: {{run: echo {i}}}" for i in ids)
    path = write(tmp_path, "wide.yml", WIDE_NEEDS.format(prep=prep, needs=", ".join(ids)))
    session = run_in_pty(tmp_path, columns, "run", path)
    assert session.returncode == 1, session.stderr
    assert "Traceback" not in session.stderr
    failing = session.row("integration-")
    assert "✖ failed" in failing and "s " in failing, failing  # status and its time
    assert "exit 4" in failing
    for step_id in ids:
        assert "✔ success" in session.row(step_id)
    # `[...]` is text, not markup: the matrix values are on screen
    assert "✔ success" in session.row("tests[python=3.13]")
    if columns == 200:
        assert ", ".join(ids) in failing  # room enough: nothing cut
    assert all(len(line) <= columns for line in session.lines)
    listed = run_in_pty(tmp_path, columns, "list")
    short = listed.row("wide needs").split()[0]
    shown = run_in_pty(tmp_path, columns, "show", short[:7])
    assert shown.returncode == 0, shown.stderr
    failing = next(line for line in shown.lines if "✖" in line and "integration-" in line)
    assert "✖ failed" in failing and "s " in failing and "exit 4" in failing, failing
    assert "11 steps: 10 success, 1 failed" in shown.lines[-1]


MARKUP = """\
name: "CI [nightly] [bold]x [/] boom [link=https://evil.example]click[/link] :smile:"
steps:
  tests:
    matrix: {python: ["3.13"]}
    run: |
      echo "[red]not red[/] [/] [link=https://evil.example]click[/link]"
      exit 1
"""


@pytest.mark.parametrize("columns", [80, 200])
def test_markup_in_user_strings_prints_as_written(tmp_path: Path, columns: int) -> None:
    session = run_in_pty(tmp_path, columns, "run", write(tmp_path, "markup.yml", MARKUP))
    assert session.returncode == 1, session.stderr
    assert "Traceback" not in session.stderr and "MarkupError" not in session.stderr
    screen = " ".join(session.lines)  # a long line may wrap, at a space
    assert "CI [nightly] [bold]x [/] boom" in screen
    assert "[link=https://evil.example]click[/link] :smile:" in screen
    assert "[red]not red[/] [/]" in screen
    assert "✖ failed" in session.row("tests[python=3.13]")
    assert b"\x1b]8;" not in session.raw  # no hyperlink escape anywhere


@pytest.mark.timeout(180)
def test_live_view_survives_a_step_writing_25k_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "flood.yml",
        """\
        name: flood
        steps:
          flood: {run: "for i in 1 2 3 4 5; do seq 25000; sleep 0.1; done"}
          other: {run: "for i in $(seq 50); do echo tick $i; sleep 0.02; done"}
          last: {needs: [flood, other], run: echo done}
        """,
    )
    session = run_in_pty(tmp_path, 80, "run", path)
    assert session.returncode == 0, session.stderr
    assert "Traceback" not in session.stderr, session.stderr
    assert "✔ success" in session.row("last")
    assert "3/3 steps: 3 success" in session.lines[-1]
