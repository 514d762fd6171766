"""Log groups and annotations in words, for the terminal views (`run`, `logs`, `show`).

A step's `groups` (notebook cells, workflow job steps, `::group::` sections) and
`annotations` (`::error::`, `::warning::`, `::notice::`) come with its snapshot fields;
these functions say what is running now, where a step failed, and list annotations.
Plain strings only: the callers escape them (rich `Text`, `clean`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .format import describe_exit, format_duration

#: Icon per annotation level.
LEVEL_ICON = {"error": "✖", "warning": "⚠", "notice": "ℹ"}
#: Style per annotation level (rich).
LEVEL_STYLE = {"error": "bold red", "warning": "yellow", "notice": "cyan"}


def _groups(step: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    groups = step.get("groups")
    return [g for g in groups if isinstance(g, Mapping)] if isinstance(groups, list) else []


def current_group(step: Mapping[str, Any]) -> str:
    """The open group of a running step: `Cell 4 · df = load()`, a job step and the
    `::group::` section open inside it, or `""`."""
    running = [str(g.get("title") or "") for g in _groups(step) if g.get("status") == "running"]
    return " › ".join(t for t in running[-2:] if t)


def progress_text(step: Mapping[str, Any]) -> str:
    """`cell 4/50` for a notebook step (the cell running, or the cells done), else `""`."""
    progress = step.get("progress")
    if not isinstance(progress, Mapping):
        return ""
    done, total = progress.get("done"), progress.get("total")
    if not isinstance(done, int) or not isinstance(total, int) or total <= 0:
        return ""
    current = min(done + 1, total) if progress.get("label") else done
    return f"cell {current}/{total}"


def running_detail(step: Mapping[str, Any]) -> str:
    """What a running step is doing: `cell 4/50 · Cell 4 · df = load()`."""
    return " · ".join(p for p in (progress_text(step), current_group(step)) if p)


def failed_where(step: Mapping[str, Any]) -> str:
    """Where a failed step failed: `in Cell 2 · df['b']`, `in Run tests` (a workflow job
    step; followed by the `::group::` section that failed inside it, if any), or `""`."""
    failed = sorted(
        (g for g in _groups(step) if g.get("status") == "failed"),
        key=lambda g: int(g.get("index") or 0),
    )
    if not failed:
        return ""
    jobs = [g for g in failed if g.get("kind") == "job-step"]
    if not jobs:
        return f"in {failed[-1].get('title') or ''}"
    job = jobs[-1]
    # A section opened inside the job step has a higher index and failed with it.
    inner = [g for g in failed if g.get("kind") != "job-step" and g["index"] > job["index"]]
    titles = [job.get("title"), inner[-1].get("title") if inner else None]
    return "in " + " › ".join(str(t) for t in titles if t)


def group_header(group: Mapping[str, Any]) -> str:
    """`▸ Cell 4 · df = load() (1.2s, failed)`: the line printed before a group's lines."""
    parts = []
    started, finished = group.get("started_at"), group.get("finished_at")
    if isinstance(started, int | float) and isinstance(finished, int | float):
        parts.append(format_duration(max(0.0, finished - started)))
    status = str(group.get("status") or "")
    if status and status != "success":
        parts.append(status)
    suffix = f" ({', '.join(p for p in parts if p)})" if any(parts) else ""
    return f"▸ {group.get('title') or ''}{suffix}"


def attempt_separator(attempt: Mapping[str, Any], next_attempt: int) -> str:
    """`── attempt 1 failed (exit 5); attempt 2 follows ──`: where a retry's lines begin."""
    code = attempt.get("exit_code")
    exit_ = f" ({describe_exit(code)})" if isinstance(code, int) else ""
    return f"── attempt {attempt['attempt']} failed{exit_}; attempt {next_attempt} follows ──"


def annotation_where(note: Mapping[str, Any]) -> str:
    """`src/app.py:12`, `src/app.py`, or the log line it is on (`log line 35`)."""
    file, line = note.get("file"), note.get("line")
    if file:
        return f"{file}:{line}" if line else str(file)
    offset = note.get("offset")
    return f"log line {offset + 1}" if isinstance(offset, int) else ""


def all_annotations(steps: Iterable[Mapping[str, Any]]) -> list[tuple[str, Mapping[str, Any]]]:
    """Every step's annotations as (step id, annotation), errors first, in step order."""
    rank = {"error": 0, "warning": 1, "notice": 2}
    found = [
        (str(step.get("step_id", "")), note)
        for step in steps
        for note in (step.get("annotations") or [])
        if isinstance(note, Mapping)
    ]
    return sorted(found, key=lambda pair: rank.get(str(pair[1].get("level")), 3))


def annotation_line(step_id: str, note: Mapping[str, Any]) -> tuple[str, str, str]:
    """The three parts of an annotation's line: `✖ error`, `build · src/app.py:12`, message."""
    level = str(note.get("level") or "notice")
    where = annotation_where(note)
    return (
        f"{LEVEL_ICON.get(level, '•')} {level}",
        f"{step_id} · {where}" if where else step_id,
        str(note.get("message") or ""),
    )
