"""Workflow commands in a step's output, in GitHub Actions' syntax.

`::group::Title` / `::endgroup::` open and close a collapsible range of lines;
`::error::`, `::warning::` and `::notice::` (with optional `file=…,line=…` properties)
make annotations; `::add-mask::VALUE` masks VALUE from then on. The line processor finds
command lines; this module parses them and keeps the state of a step's groups.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

LEVELS = ("error", "warning", "notice")
# `job-step` / `end-job-step status=…,reason=…` come from the workflow job runner.
KNOWN = frozenset(("group", "endgroup", "add-mask", "job-step", "end-job-step", *LEVELS))
_COMMAND = re.compile(r"::([A-Za-z-]+)(?:[ \t]+([^:]*?))?::(.*)", re.DOTALL)
# GitHub's escapes: in messages %25 %0D %0A; in properties also %3A and %2C.
_DATA_ESCAPES = (("%0D", "\r"), ("%0A", "\n"), ("%25", "%"))
_PROPERTY_ESCAPES = (("%3A", ":"), ("%2C", ","), *_DATA_ESCAPES)


@dataclass(frozen=True, slots=True)
class Command:
    """One parsed command line."""

    name: str
    properties: dict[str, str]
    message: str


def parse(line: str) -> Command | None:
    """The command a line holds, or None (then it is an ordinary log line)."""
    match = _COMMAND.fullmatch(line.rstrip("\r"))
    if match is None:
        return None
    name = match.group(1).lower()
    if name not in KNOWN:
        return None
    properties: dict[str, str] = {}
    for item in (match.group(2) or "").split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip():
            properties[key.strip()] = _unescape(value, _PROPERTY_ESCAPES)
    return Command(name, properties, _unescape(match.group(3), _DATA_ESCAPES))


def _unescape(text: str, escapes: tuple[tuple[str, str], ...]) -> str:
    if "%" not in text:
        return text
    for code, char in escapes:
        text = text.replace(code, char).replace(code.lower(), char)
    return text


class Groups:
    """The `::group::` ranges of one step (all its attempts): `group_update` payloads.

    Groups do not nest (as on GitHub): a new group closes the open one. `end_offset` is
    the offset after the group's last line. A workflow job's steps are groups of kind
    `job-step`; a `group` may open inside one (closing a job step closes it too).
    """

    def __init__(self, step_id: str) -> None:
        self.step_id = step_id
        self._next = 0
        self._open: dict[str, Any] | None = None
        self._job_step: dict[str, Any] | None = None

    def start(self, title: str, offset: int, kind: str = "group") -> list[dict[str, Any]]:
        """Open a group at `offset` (the line after the marker), closing an open one."""
        payloads = self.end(offset)
        if kind == "job-step":
            payloads += self.end_job_step(offset)
        opened = {
            "step_id": self.step_id,
            "index": self._next,
            "kind": kind,
            "title": title,
            "status": "running",
            "reason": None,
            "start_offset": offset,
            "end_offset": None,
            "started_at": time.time(),
            "finished_at": None,
        }
        self._next += 1
        if kind == "job-step":
            self._job_step = opened
        else:
            self._open = opened
        return [*payloads, dict(opened)]

    def end_job_step(
        self, offset: int, status: str = "success", reason: str | None = None
    ) -> list[dict[str, Any]]:
        """Close the open job step (and a group left open inside it)."""
        payloads = self.end(offset, status, reason)
        if self._job_step is None:
            return payloads
        group, self._job_step = self._job_step, None
        group.update(status=status, reason=reason, end_offset=offset, finished_at=time.time())
        return [*payloads, group]

    def end(
        self, offset: int, status: str = "success", reason: str | None = None
    ) -> list[dict[str, Any]]:
        """Close the open group (if any) before `offset`."""
        if self._open is None:
            return []
        group, self._open = self._open, None
        group.update(status=status, reason=reason, end_offset=offset, finished_at=time.time())
        return [group]


def annotation(
    step_id: str, offset: int, level: str, message: str, properties: dict[str, str]
) -> dict[str, Any]:
    """The `annotation` payload of an error/warning/notice command."""
    line = properties.get("line", "").strip()
    return {
        "step_id": step_id,
        "offset": offset,
        "level": level,
        "message": message,
        "file": properties.get("file") or None,
        "line": int(line) if line.isdigit() else None,
    }
