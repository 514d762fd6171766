"""`ansflow show`: the data steps handed on — outputs and Markdown step summaries.

Separate from cli_view.py (the live view and tables): what is printed here is text the
steps wrote, so it never goes through Rich markup, and control characters are removed
(a summary must not be able to move the cursor or retitle the terminal).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import Console
from rich.markdown import Markdown
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from .cli_render import trimmed

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: str) -> str:
    """The text without terminal control characters (newlines and tabs kept)."""
    return _CONTROL.sub("", text)


def print_step_data(
    steps: Iterable[Mapping[str, Any]],
    summaries: Iterable[Mapping[str, Any]],
    console: Console | None = None,
) -> None:
    """Every step's outputs as a table, then each summary rendered as Markdown."""
    console = console or _console()
    table = Table(box=None, header_style="dim", title_justify="left")
    for column in ("step", "output", "value"):
        table.add_column(column, overflow="fold")
    for step in steps:
        for key, value in (step.get("outputs") or {}).items():
            table.add_row(Text(clean(str(step["step_id"]))), Text(clean(key)), Text(clean(value)))
    if table.row_count:
        console.print(Text("outputs", style="bold"))
        console.print(table)
    for summary in summaries:
        title = f"summary of {summary['step_id']} (attempt {summary['attempt']})"
        console.print(Text(clean(title), style="bold"))
        console.print(Padding(Markdown(clean(str(summary["markdown"]))), (0, 0, 0, 2)))


def _console() -> Console:
    console = Console()
    # Piped: 200 columns for Markdown (a rule or a table spans the width), blanks trimmed.
    return console if console.is_terminal else Console(file=trimmed(sys.stdout), width=200)
