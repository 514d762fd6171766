"""Rich renderables for the terminal: badges, the steps table, `list` and `show`.

Every string from a pipeline or the store (names, ids, messages, log lines) reaches rich
as a `Text`, never as markup, and every Console here is made with markup, emoji and
highlighting off: `tests[python=3.13]` stays as written and a stored name such as
`[/] boom` can neither style nor crash anything. Control characters in them (an escape
sequence in a pipeline name) are shown as symbols (`␛`), never sent to the terminal;
only log lines keep their colours.
"""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO, cast

if TYPE_CHECKING:  # rich is imported where it renders: `ansflow run --plain/--json` never does
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

from .cli_marks import all_annotations, annotation_line, failed_where, running_detail
from .format import (
    count_categories,
    describe_counts,
    describe_exit,
    format_duration,
    format_limit,
    step_category,
    step_reason,
)

#: Icon and style per status or step category.
STATUS_STYLE = {
    "pending": ("○", "dim"),
    "running": ("●", "bold cyan"),
    "success": ("✔", "green"),
    "failed": ("✖", "bold red"),
    "allowed-failure": ("✖", "yellow"),
    "cancelled": ("■", "yellow"),
    "skipped": ("↷", "dim"),
    "reused": ("↺", "green"),
    "cached": ("↺", "green"),
    "interrupted": ("!", "magenta"),
}
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
#: Pipes and files get lines this long instead of rich's 80 columns: nothing wraps there.
PIPE_WIDTH = 10_000
GAP = 2  # spaces between table columns
#: C0 controls and DEL shown as their Unicode control pictures (ESC -> ␛).
_CONTROLS = {code: 0x2400 + code for code in range(32)} | {0x7F: 0x2421}


def clean(value: object) -> str:
    """`str(value)` with every control character made visible (`␛`, `␊`)."""
    return str(value).translate(_CONTROLS)


def make_console(file: TextIO | None = None, *, width: int | None = None) -> Console:
    """A Console that never interprets markup, emoji codes or "highlights" user text."""
    from rich.console import Console

    return Console(file=file, width=width, markup=False, emoji=False, highlight=False)


def page_console(file: TextIO | None = None) -> Console:
    """Like make_console; not a terminal (a pipe, a file) gets unwrapped lines."""
    console = make_console(file)
    if console.is_terminal:
        return console
    return make_console(trimmed(file or sys.stdout), width=PIPE_WIDTH)


def trimmed(file: TextIO) -> TextIO:
    """`file` with the blanks at the end of every line dropped (see TrimmedLines)."""
    return cast("TextIO", TrimmedLines(file))


class TrimmedLines(io.TextIOBase):
    """A pipe or file that gets each line without the blanks rich pads it with (a table's
    last column, a Markdown paragraph fill the console's width: 10,000 columns piped)."""

    def __init__(self, file: TextIO) -> None:
        super().__init__()
        self._file = file
        self._pending = ""

    @property
    def encoding(self) -> str:  # type: ignore[override]
        """The wrapped file's encoding (rich picks its box characters by it)."""
        return getattr(self._file, "encoding", None) or "utf-8"

    def isatty(self) -> bool:
        """Never a terminal: only pipes and files are wrapped."""
        return False

    def write(self, text: str) -> int:
        """Pass on every whole line, right-stripped; keep a partial line for later."""
        *lines, self._pending = (self._pending + text).split("\n")
        if lines:
            self._file.write("".join(line.rstrip(" ") + "\n" for line in lines))
        return len(text)

    def flush(self) -> None:
        """Send a partial line as it is, then flush the file."""
        if self._pending:
            self._file.write(self._pending)
            self._pending = ""
        self._file.flush()


def badge(status: str, spin: str | None = None) -> Text:
    """A coloured status word with its icon (a spinner frame while running)."""
    from rich.text import Text

    icon, style = STATUS_STYLE.get(status, ("?", ""))
    return Text(f"{spin if spin and status == 'running' else icon} {status}", style=style)


def fit_id(step_id: str, width: int) -> str:
    """Cut a step id to `width` keeping its matrix values: `build-…[python=3.13]`."""
    if len(step_id) <= width:
        return step_id
    cut = step_id.find("[")
    if cut > 0 and len(step_id) - cut + 2 <= width:
        suffix = step_id[cut:]
        return step_id[: width - len(suffix) - 1] + "…" + suffix
    return step_id[: max(width - 1, 0)] + "…"


def fit_widths(natural: Sequence[int], width: int, order: Sequence[tuple[int, int]]) -> list[int]:
    """Column widths that fit `width` (gaps included): shrink column i down to its floor,
    in `order` of (i, floor); columns cut to 0 disappear with their gap."""
    widths = list(natural)

    def total() -> int:
        shown = [w for w in widths if w > 0]
        return sum(shown) + GAP * max(len(shown) - 1, 0)

    for index, floor in order:
        excess = total() - width
        if excess <= 0:
            break
        if widths[index] > floor:
            widths[index] -= min(excess, widths[index] - floor)
            if floor == 0 and widths[index] < 4:  # too narrow to say anything
                widths[index] = 0
    return widths


def steps_table(
    steps: Iterable[Mapping[str, Any]],
    width: int,
    *,
    now: float | None = None,
    timeouts: Mapping[str, float | None] | None = None,
    lines: bool = False,
) -> Table:
    """One row per step: status, time, step id, details, needs (and log lines).

    Status and time always keep their width; the step id, the details and the needs
    share what is left, needs first to go, then details, then the end of the id."""
    from rich.table import Table
    from rich.text import Text

    now = time.time() if now is None else now
    spin = SPINNER[int(now * 10) % len(SPINNER)]
    timeouts = timeouts or {}
    rows = []
    for step in steps:
        sid = str(step.get("step_id", ""))
        category = step_category(step)
        running = category == "running"
        note = step_reason(step, timeouts.get(sid))
        # Where it is (cell 4/50 · Cell 4 · df = load()) or where it failed (in Cell 2 · …).
        where = running_detail(step) if running else failed_where(step)
        note = " · ".join(p for p in (note, where) if p)
        retry_in, code = step.get("retry_in"), step.get("exit_code")
        if running and isinstance(retry_in, int | float) and isinstance(code, int):
            # Between attempts: the bare "exit 1" of a running step read as a contradiction.
            failed = f"attempt {step.get('attempt') or 1} failed ({describe_exit(code)})"
            note = f"{failed}, retrying in {format_limit(retry_in)}"
        elif (step.get("attempt") or 1) > 1:
            note = f"attempt {step['attempt']}" + (f", {note}" if note else "")
        cells = [
            badge(category, spin),
            Text(format_duration(elapsed(step, now))),
            Text(clean(sid), style="dim" if category == "pending" else ""),
            Text(clean(note), style="" if running else "dim"),
            Text(clean(", ".join(str(n) for n in step.get("needs") or [])), style="dim"),
        ]
        if lines:
            cells.insert(2, Text(str(step.get("log_lines") or 0)))
        rows.append(cells)
    headers = ["status", "time", *(["lines"] if lines else []), "step", "details", "needs"]
    natural = [max([len(h), *(r[i].cell_len for r in rows)]) for i, h in enumerate(headers)]
    step_col = headers.index("step")
    note_col, needs_col = step_col + 1, step_col + 2
    for col in (note_col, needs_col):
        if not any(r[col].plain for r in rows):
            natural[col] = 0  # nothing to say: no column
    order = [(needs_col, 0), (note_col, 20), (step_col, 20), (note_col, 0), (step_col, 6)]
    widths = fit_widths(natural, width, order)
    table = Table(box=None, header_style="dim", pad_edge=False, padding=(0, GAP, 0, 0))
    shown = [i for i, w in enumerate(widths) if w > 0]
    for i in shown:
        table.add_column(headers[i], width=widths[i], no_wrap=True, overflow="ellipsis")
    for cells in rows:
        cells[step_col].plain = fit_id(cells[step_col].plain, widths[step_col])
        table.add_row(*(cells[i] for i in shown))
    return table


def elapsed(row: Mapping[str, Any], now: float) -> float | None:
    """The duration of a finished row, or the time it has been running so far."""
    if row.get("duration") is not None:
        return float(row["duration"])
    if row.get("started_at"):
        return max(0.0, now - float(row["started_at"]))
    return None


def print_executions(rows: Iterable[Mapping[str, Any]], console: Console | None = None) -> None:
    """`ansflow list` as a table."""
    from rich.table import Table
    from rich.text import Text

    console = console or page_console()
    table = Table(box=None, header_style="dim")
    for col in ("id", "pipeline", "status", "started", "time", "steps"):
        table.add_column(col, no_wrap=col != "pipeline", overflow="fold")
    for row in rows:
        started = row.get("started_at")
        table.add_row(
            Text(clean(row["execution_id"])[:12]),
            Text(clean(row.get("pipeline_name") or "")),
            badge(str(row.get("status", ""))),
            Text(time.strftime("%m-%d %H:%M:%S", time.localtime(started)) if started else ""),
            Text(format_duration(row.get("duration"))),
            Text(f"{row.get('steps_done', 0)}/{row.get('steps_total', 0)}"),
        )
    console.print(table)


def print_snapshot(data: Mapping[str, Any], console: Console | None = None) -> None:
    """`ansflow show ID`: the execution header and one row per step."""
    from rich.text import Text

    console = console or page_console()
    ex = data["execution"]
    head = Text()
    head.append(clean(ex.get("pipeline_name") or ""), style="bold")
    head.append("  ")
    head.append_text(badge(str(ex.get("status"))))
    head.append(f"  {format_duration(ex.get('duration'))}  ")
    head.append(str(ex.get("execution_id") or ""), style="dim")
    console.print(head)
    message = str(ex.get("message") or "")
    if message and message.strip().lower() != str(ex.get("status")):  # not the badge again
        console.print(Text(clean(message), style="dim"))
    table = steps_table(data["steps"], console.width, lines=True)
    console.print(table)
    counts = describe_counts(count_categories(data["steps"]))
    console.print(Text(f"{len(data['steps'])} steps: {counts}", style="dim"))
    print_annotations(data["steps"], console)


def print_annotations(steps: Iterable[Mapping[str, Any]], console: Console) -> None:
    """`✖ error  build · src/app.py:12  message`, one line per annotation, errors first."""
    from rich.text import Text

    from .cli_marks import LEVEL_STYLE

    found = all_annotations(steps)
    if not found:
        return
    console.print(Text(f"{len(found)} annotations:", style="dim"))
    for step_id, note in found:
        level, where, message = annotation_line(step_id, note)
        line = Text("  ")
        line.append(level, style=LEVEL_STYLE.get(str(note.get("level")), ""))
        line.append(f"  {clean(where)}  ", style="dim")
        line.append(clean(message))
        console.print(line)
