"""What the output notebook keeps of a cell's output: bounded, like Jupyter front ends do.

The step's log gets every line a cell prints; the notebook written beside it is a file
people open in JupyterLab, so a cell printing a million lines keeps only the head of its
stream output there (with a note saying how much was left out), and a rich output larger
than a limit (a 50 MB image) is replaced by a note. This also bounds the runner's memory
and the time each rewrite of the notebook takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Stream text (stdout and stderr together) kept in the notebook per cell.
STREAM_LIMIT = 1024 * 1024
#: One rich output's data (per MIME type) kept in the notebook.
RICH_LIMIT = 10 * 1024 * 1024
#: A rich output is shown in the log as one marker line.
RICH_TYPES = ("image/png", "image/jpeg", "image/svg+xml", "text/html", "application/json")


def size_text(size: int) -> str:
    """'12.3 KB' or '66.7 MB'."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    return f"{size / 1024:.1f} KB"


def _data_size(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(len(str(v)) for v in value)
    return len(str(value))


def marker(content: dict[str, Any]) -> str | None:
    """The one log line shown for a rich output ('[image/png output, 12.3 KB: …]'), or None."""
    data = content.get("data") or {}
    for kind in RICH_TYPES:
        if kind in data:
            size = _data_size(data[kind])
            where = (
                "too large for the output notebook, not kept"
                if size > RICH_LIMIT
                else "see the output notebook"
            )
            return f"[{kind} output, {size_text(size)}: {where}]\n"
    text = data.get("text/plain")
    if text:
        return "".join(text) if isinstance(text, list) else str(text)
    return None


def shrink_rich(content: dict[str, Any]) -> None:
    """Drop, in place, each MIME type of an output larger than RICH_LIMIT, leaving a note."""
    data = content.get("data")
    if not isinstance(data, dict):
        return
    dropped = [(kind, _data_size(v)) for kind, v in data.items() if _data_size(v) > RICH_LIMIT]
    for kind, _ in dropped:
        del data[kind]  # the message no longer holds it either: memory stays bounded
    if dropped:
        what = ", ".join(f"{kind} output of {size_text(size)}" for kind, size in dropped)
        data["text/plain"] = (
            f"[ansflow: {what} not kept in the notebook: larger than {size_text(RICH_LIMIT)}]"
        )


@dataclass
class _Cell:
    kept: int = 0
    dropped_bytes: int = 0
    dropped_lines: int = 0
    note: Any = None


class StreamLimit:
    """Keeps the first STREAM_LIMIT characters of each cell's stream output."""

    def __init__(self, limit: int = STREAM_LIMIT) -> None:
        self._limit = limit
        self._cells: dict[int, _Cell] = {}

    def clear(self, cell_index: int) -> None:
        """The cell cleared its output (`clear_output`): it may print again."""
        self._cells.pop(cell_index, None)

    def keep(self, cell_index: int, text: str) -> str:
        """The part of `text` the notebook keeps ('' for none); `note` then says the rest."""
        cell = self._cells.setdefault(cell_index, _Cell())
        room = self._limit - cell.kept
        if len(text) <= room:
            cell.kept += len(text)
            return text
        # Cut at a line end when there is one, so the note starts on a line of its own.
        cut = text.rfind("\n", 0, max(room, 0)) + 1 if room > 0 else 0
        head, rest = text[:cut], text[cut:]
        cell.kept += len(head)
        cell.dropped_bytes += len(rest.encode("utf-8", "replace"))
        cell.dropped_lines += rest.count("\n") + (0 if rest.endswith("\n") else 1)
        return head

    def note(self, cell_index: int, outs: list[Any]) -> None:
        """Add or update the cell's 'output truncated' note, once something was left out."""
        from nbformat.v4 import new_output

        cell = self._cells.get(cell_index)
        if cell is None or not cell.dropped_bytes:
            return
        text = (
            f"[ansflow: output truncated: {cell.dropped_lines:,} more lines "
            f"({size_text(cell.dropped_bytes)}) are not kept in the notebook; "
            "the step's log has all of it]\n"
        )
        if cell.note is None or not any(out is cell.note for out in outs):
            cell.note = new_output("stream", name="stderr", text=text)  # type: ignore[no-untyped-call]
            outs.append(cell.note)
        else:
            cell.note["text"] = text
