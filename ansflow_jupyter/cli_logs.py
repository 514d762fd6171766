"""`ansflow logs ID`: stored lines, or followed live, of one step, a matrix, or all steps.

One step's lines print raw. Lines of several steps (all of them, or the legs of a
matrix step) print as `step | line` in the order they were written. The step's
annotations come first; each log group (a notebook cell, a job step, a `::group::`) is
announced by a `▸ title (time, status)` line before its lines (not with `--grep`).
"""

from __future__ import annotations

import argparse
import heapq
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from .cli_marks import all_annotations, annotation_line, attempt_separator, group_header
from .cli_render import clean
from .errors import BadRequest
from .events import EventType


def select_steps(steps: Sequence[Mapping[str, Any]], wanted: str | None) -> list[str] | None:
    """The step ids `--step` names: None for every step, [id] for one step, its legs for a
    matrix step; BadRequest naming the steps when it names none."""
    if wanted is None:
        return None
    ids = [str(s["step_id"]) for s in steps]
    if wanted in ids:
        return [wanted]
    legs = [
        str(s["step_id"])
        for s in steps
        if s.get("template_id") == wanted or str(s["step_id"]).startswith(wanted + "[")
    ]
    if legs:
        return legs
    raise BadRequest(f"unknown step {wanted!r}; the steps are: {', '.join(ids)}")


async def cmd_logs(manager: Any, args: argparse.Namespace) -> int:
    """`ansflow logs ID [--step S] [--tail N] [--grep P] [--follow]`."""
    if args.follow and args.grep:
        raise BadRequest("--follow cannot be combined with --grep")
    snapshot = await manager.snapshot(args.id)
    chosen = select_steps(snapshot.data["steps"], args.step)
    prefixed = chosen is None or len(chosen) > 1 or chosen[0] != args.step
    if args.follow:
        await _follow(manager, args, chosen, prefixed)
        return 0
    if chosen is None:
        rows = await manager.logs(args.id, tail=args.tail, q=args.grep)
    else:
        per_step = [
            await manager.logs(args.id, step=sid, tail=args.tail, q=args.grep) for sid in chosen
        ]
        rows = list(heapq.merge(*per_step, key=lambda r: r.get("ts") or 0.0))
        if args.tail is not None:
            rows = rows[-args.tail :] if args.tail else []
    steps = [s for s in snapshot.data["steps"] if chosen is None or s["step_id"] in chosen]
    if args.grep:  # matching lines only
        _write(((r["step_id"], r["line"]) for r in rows), prefixed)
        return 0
    _write(annotation_lines(steps), prefixed=False)
    _write(with_headers(rows, steps), prefixed)
    return 0


def annotation_lines(steps: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """`✖ error  build · log line 35  message` per annotation, then a blank line."""
    out = []
    for sid, note in all_annotations(steps):
        level, where, message = annotation_line(sid, note)
        out.append(("", clean(f"{level}  {where}  {message}")))
    return [*out, ("", "")] if out else []


def with_headers(
    rows: Iterable[Mapping[str, Any]], steps: Sequence[Mapping[str, Any]]
) -> Iterator[tuple[str, str]]:
    """The rows as (step id, line) with `▸ Cell 4 · … (1.2s, failed)` before each group's
    first line (and groups without lines where they were), and a separator where each
    attempt of a retried step begins."""
    starts: dict[str, list[Mapping[str, Any]]] = {}
    retries: dict[str, list[tuple[int, str]]] = {}
    for step in steps:
        sid = str(step["step_id"])
        groups = [g for g in step.get("groups") or [] if isinstance(g.get("start_offset"), int)]
        starts[sid] = sorted(groups, key=lambda g: g["start_offset"])
        earlier = step.get("attempts") or []
        nexts = [a["attempt"] for a in earlier[1:]] + [step.get("attempt")]
        retries[sid] = [
            (a["log_lines"], attempt_separator(a, n)) for a, n in zip(earlier, nexts, strict=False)
        ]
    for row in rows:
        sid, offset = str(row["step_id"]), row.get("offset")
        pending, seps = starts.get(sid), retries.get(sid)
        if seps and isinstance(offset, int):
            while seps and seps[0][0] <= offset:
                at, text = seps.pop(0)
                if at == offset:
                    yield sid, text
        if pending and isinstance(offset, int):
            while pending and pending[0]["start_offset"] <= offset:
                group = pending.pop(0)
                if group["start_offset"] == offset or group.get("end_offset") in (None, offset):
                    yield sid, clean(group_header(group))
        yield sid, row["line"]
    for step in steps:  # groups after the last line (a last cell printing nothing)
        sid = str(step["step_id"])
        for group in starts.get(sid, []):
            if group["start_offset"] >= (step.get("log_lines") or 0):
                yield sid, clean(group_header(group))


async def _follow(
    manager: Any, args: argparse.Namespace, chosen: list[str] | None, prefixed: bool
) -> None:
    """Replay the stored lines (only the last `--tail`), then print new ones live."""
    wanted = None if chosen is None else set(chosen)
    tail: list[tuple[str, str]] = []
    async with await manager.subscribe(args.id, since=0) as stream:
        while batch := await stream.next_batch():
            for event in batch:
                sid = event.data.get("step_id", "")
                if wanted is not None and sid not in wanted:
                    continue
                if event.type is EventType.LOG_UPDATE:
                    lines = [(sid, line) for line in event.data["lines"]]
                elif event.type is EventType.GROUP_UPDATE and event.data["status"] == "running":
                    lines = [(sid, clean(f"▸ {event.data.get('title') or ''}"))]  # opens here
                else:
                    continue
                if stream.replaying and args.tail is not None:
                    tail = (tail + lines)[-args.tail :] if args.tail else []
                    continue
                _write([*tail, *lines], prefixed)
                tail = []
            if not stream.replaying and tail:
                _write(tail, prefixed)
                tail = []
            sys.stdout.flush()
    _write(tail, prefixed)


def _write(lines: Iterable[tuple[str, str]], prefixed: bool) -> None:
    if prefixed:
        sys.stdout.writelines(f"{sid} | {line}\n" for sid, line in lines)
    else:
        sys.stdout.writelines(f"{line}\n" for _, line in lines)
