"""Terminal views of an execution: a rich live view, plain lines, or JSON lines."""

from __future__ import annotations

import json
import math
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

from .cli_marks import LEVEL_STYLE, all_annotations, annotation_line, failed_where
from .cli_render import STATUS_STYLE, badge, clean, elapsed, make_console, steps_table
from .events import Event, EventType, SnapshotBuilder
from .format import (
    count_categories,
    describe_counts,
    format_duration,
    step_category,
    step_suffix,
)
from .pipeline.spec import PipelineSpec
from .store.codec import encoded_log_payload

if TYPE_CHECKING:  # rich only for the live view: plain and JSON lines never import it
    from rich.console import RenderableType
    from rich.text import Text

FAILED_TAIL_LINES = 20
RECENT_LINES = 12


@dataclass(frozen=True, slots=True)
class Frame:
    """A consistent copy of the tracked state, safe to render on any thread."""

    execution: dict[str, Any]
    steps: list[dict[str, Any]]
    recent: list[tuple[str, str]]


class Tracker:
    """Execution state plus the tail of each step's log, fed by event batches.

    rich's Live renders on its own refresh thread while batches arrive on the event
    loop: every change and every `frame()` happen under one lock, and rendering only ever
    reads a Frame (iterating the live deques there raised "deque mutated during
    iteration" and killed the refresh thread while a step wrote 25k lines)."""

    def __init__(self, spec: PipelineSpec | None = None, execution_id: str = ""):
        self.lock = threading.Lock()
        self.timeouts: dict[str, float | None] = {}
        seed: list[dict[str, Any]] = []
        execution: dict[str, Any] = {"execution_id": execution_id, "status": "pending"}
        if spec is not None:
            execution.update(pipeline_name=spec.name, steps_total=len(spec.steps))
            self.timeouts = {s.id: s.timeout for s in spec.steps.values()}
            seed = [{**s.view_fields(), "status": "pending"} for s in spec.steps.values()]
        self.state = SnapshotBuilder(execution, seed)
        self.tails: dict[str, deque[str]] = {}
        self.recent: deque[tuple[str, str]] = deque(maxlen=RECENT_LINES)

    def apply(self, event: Event) -> None:
        """Fold one event in (any thread)."""
        with self.lock:
            if event.type is EventType.SNAPSHOT:  # keep the spec's needs if the store has none
                needs = {sid: s.get("needs") for sid, s in self.state.steps.items()}
                self.state.apply(event)
                for sid, step in self.state.steps.items():
                    if not step.get("needs") and needs.get(sid):
                        step["needs"] = needs[sid]
                return
            self.state.apply(event)
            if event.type is EventType.LOG_UPDATE:
                sid = event.data["step_id"]
                lines = event.data["lines"]
                tail = self.tails.setdefault(sid, deque(maxlen=FAILED_TAIL_LINES))
                tail.extend(lines[-FAILED_TAIL_LINES:])
                self.recent.extend((sid, line) for line in lines[-RECENT_LINES:])

    def step(self, step_id: str) -> dict[str, Any]:
        """A copy of one step's fields ({} when unknown)."""
        with self.lock:
            return dict(self.state.steps.get(step_id, {}))

    def frame(self) -> Frame:
        """Copies of what the views show, taken under the lock."""
        with self.lock:
            return Frame(
                dict(self.state.execution),
                [_step_copy(s) for s in self.state.steps.values()],
                list(self.recent),
            )

    def failures(self) -> list[tuple[dict[str, Any], list[str]]]:
        """Each failed step (not allowed to fail) with the tail of its log."""
        with self.lock:
            return [
                (_step_copy(step), list(self.tails.get(sid, ())))
                for sid, step in self.state.steps.items()
                if step.get("status") == "failed" and not step.get("continue_on_error")
            ]

    def failure_title(self, step: Mapping[str, Any]) -> str:
        """`bad failed (0.1s, exit 3)`."""
        sid = str(step.get("step_id", ""))
        suffix = step_suffix(step, self.timeouts.get(sid))
        where = failed_where(step)  # the cell or job step it failed in
        return (
            f"{clean(sid)} failed"
            + (f" ({clean(suffix)})" if suffix else "")
            + (f" {clean(where)}" if where else "")
        )

    def annotation_lines(self) -> list[tuple[str, str, str, str]]:
        """(level, icon and level, step and place, message) of every annotation."""
        out = []
        for sid, note in all_annotations(self.frame().steps):
            icon, where, message = annotation_line(sid, note)
            out.append((str(note.get("level")), clean(icon), clean(where), clean(message)))
        return out

    def summary(self) -> Text:
        """`✔ success  name  1m 05s  3/3 steps: 2 success, 1 skipped`."""
        from rich.text import Text

        (first, style), *rest = self.summary_parts()
        text = Text(first, style=style)  # the badge's style is the whole line's base style
        for part, part_style in rest:
            text.append(part, style=part_style)
        return text

    def summary_parts(self) -> list[tuple[str, str]]:
        """The summary line as (text, style) pieces: rich's, or `.plain` without rich."""
        frame = self.frame()
        ex = frame.execution
        status = str(ex.get("status", "?"))
        icon, style = STATUS_STYLE.get(status, ("?", ""))
        total = ex.get("steps_total") or len(frame.steps)
        counts = describe_counts(count_categories(frame.steps))
        return [
            (f"{icon} {status}", style),
            (f"  {clean(ex.get('pipeline_name') or '')}", "bold"),
            (f"  {format_duration(ex.get('duration'))}  ", ""),
            (f"{ex.get('steps_done', 0)}/{total} steps: {counts}", "dim"),
        ]


def _step_copy(step: Mapping[str, Any]) -> dict[str, Any]:
    """A step's fields with its own lists of the last groups and the annotations: the
    views read them on rich's thread while events change them on ours."""
    out = dict(step)
    if "groups" in out:
        out["groups"] = list(out["groups"][-_GROUPS_SHOWN:])
    if "annotations" in out:
        out["annotations"] = list(out["annotations"])
    return out


#: Groups a view looks at per step (the open ones and the one a step failed in are last).
_GROUPS_SHOWN = 20


class View:
    """Base of the three views: a context manager fed with event batches."""

    def __init__(self, tracker: Tracker, out: TextIO):
        self.tracker = tracker
        self.out = out

    def apply(self, batch: Iterable[Event]) -> None:
        """Show one batch of events."""
        for event in batch:
            self.tracker.apply(event)

    def __enter__(self) -> View:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None


class JsonView(View):
    """`--json`: one envelope per line, flushed per batch.

    Fed every event from seq 1, it starts with the snapshot of the state before them
    (seq 0), so the stream has the usual shape: a snapshot, then contiguous events."""

    def __enter__(self) -> View:
        snapshot = self.tracker.state.event().to_dict()
        self.out.write(json.dumps(snapshot, separators=(",", ":")) + "\n")
        return self

    def apply(self, batch: Iterable[Event]) -> None:
        """Print each envelope as one JSON line."""
        events = list(batch)
        super().apply(events)
        # One write per batch: a text stream's writelines() is a write() per item, and a
        # write() is a system call when stdout is unbuffered (PYTHONUNBUFFERED).
        self.out.write("".join(map(envelope_line, events)))
        self.out.flush()


def envelope_line(event: Event) -> str:
    """`json.dumps(event.to_dict())` as one compact line, byte for byte, but cheaper for
    log batches: their per-line timestamps repeat (one per read of the pipe, ~100 for a
    million lines) and formatting each float again was most of `--json`'s cost."""
    envelope = event.to_dict()
    data = envelope["data"]
    stamps = data.get("ts") if event.type is EventType.LOG_UPDATE else None
    if isinstance(stamps, list) and len(data) > 1 and list(data)[-1] == "ts":
        text = {t: repr(t) for t in set(stamps)}
        # Only finite floats/ints format like repr(); dedup pays when values repeat.
        if len(text) * 4 <= len(stamps) and all(
            type(t) in (float, int) and math.isfinite(t) for t in text
        ):
            rest = encoded_log_payload(data) or _dumps({k: v for k, v in data.items() if k != "ts"})
            body = rest[:-1] + ',"ts":[' + ",".join(map(text.__getitem__, stamps)) + "]}"
            head = _dumps({k: v for k, v in envelope.items() if k != "data"})
            if list(envelope)[-1] == "data":
                return head[:-1] + ',"data":' + body + "}\n"
    return _dumps(envelope) + "\n"


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class PlainView(View):
    """Not a terminal (or `--plain`): step transitions and `step | line` log lines.

    Nothing is wrapped or styled: the report at the end is plain lines like the rest."""

    def apply(self, batch: Iterable[Event]) -> None:
        """Print log lines and step transitions."""
        chunks: list[str] = []  # written at once: see JsonView.apply
        for event in batch:
            data = event.data
            before = self.tracker.step(data.get("step_id", "")).get("status")
            self.tracker.apply(event)
            if event.type is EventType.LOG_UPDATE:
                if lines := data["lines"]:
                    # `step | line` joined in C: no Python-level work per line.
                    prefix = f"{data['step_id']} | "
                    chunks.append(prefix + f"\n{prefix}".join(lines) + "\n")
            elif event.type is EventType.STEP_UPDATE and data.get("status") != before:
                chunks.append(self._transition(self.tracker.step(data["step_id"])))
        self.out.write("".join(chunks))
        self.out.flush()

    def _transition(self, step: Mapping[str, Any]) -> str:
        status = str(step.get("status"))
        icon = STATUS_STYLE.get(status, ("?", ""))[0]
        suffix = step_suffix(step, self.tracker.timeouts.get(str(step.get("step_id"))))
        sid = clean(step.get("step_id"))
        return f"{icon} {sid} {status}" + (f" ({clean(suffix)})" if suffix else "") + "\n"

    def __exit__(self, et: Any, ev: Any, tb: Any) -> None:
        for step, tail in self.tracker.failures():
            if tail:
                self.out.write(f"── {self.tracker.failure_title(step)} ──\n")
                self.out.writelines(f"{line}\n" for line in tail)
        for _, level, where, message in self.tracker.annotation_lines():
            self.out.write(f"{level}  {where}  {message}\n")
        self.out.write("".join(text for text, _ in self.tracker.summary_parts()) + "\n")
        self.out.flush()


class LiveView(View):
    """A terminal: a live table of steps with durations and the tail of the logs."""

    def __init__(self, tracker: Tracker, out: TextIO):
        from rich.live import Live

        super().__init__(tracker, out)
        self.console = make_console(out)
        self.live = Live(
            console=self.console, get_renderable=self.render, refresh_per_second=10, transient=True
        )

    def render(self, *, with_logs: bool = True) -> RenderableType:
        """Header, steps and (while live) the newest log lines, from one Frame."""
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        now = time.time()
        frame = self.tracker.frame()
        ex = frame.execution
        done = ex.get("steps_done", 0) or 0
        total = ex.get("steps_total", 0) or len(frame.steps)
        width = self.console.width
        # A bar full of green only when every step succeeded: failures paint it red, a
        # cancelled or interrupted run yellow.
        bar = "green"
        if "failed" in count_categories(frame.steps):
            bar = "red"
        elif ex.get("status") in ("cancelled", "interrupted"):
            bar = "yellow"
        head = Table.grid(padding=(0, 2))
        head.add_column(no_wrap=True, overflow="ellipsis", max_width=max(width - 62, 8))
        head.add_row(
            Text(clean(ex.get("pipeline_name") or ""), style="bold"),
            badge(str(ex.get("status", "pending"))),
            Text(format_duration(elapsed(ex, now)) or "0.0s"),
            ProgressBar(
                total=max(total, 1),
                completed=done,
                width=20,
                complete_style=bar,
                finished_style=bar,
            ),
            Text(f"{done}/{total}"),
        )
        if not with_logs:
            steps = steps_table(frame.steps, width, now=now, timeouts=self.tracker.timeouts)
            return Group(head, Text(""), steps)
        # Live, everything must fit the terminal's height (rich would cut the bottom off):
        # the log tail gives way first, then finished steps fold into one line of counts.
        room = max(self.console.height - 4, 2)  # header, blank, column titles, spare
        shown, folded = fold_steps(frame.steps, room)
        steps = steps_table(shown, width, now=now, timeouts=self.tracker.timeouts)
        parts: list[RenderableType] = [head, Text(""), steps]
        if folded:
            more = sum(folded.values())
            parts.append(Text(f"… {more} more steps: {describe_counts(folded)}", style="dim"))
        logs = Text(no_wrap=True, overflow="ellipsis")
        room -= len(shown) + (1 if folded else 0) + 1
        for sid, line in frame.recent[len(frame.recent) - max(room, 0) :]:
            logs.append(f"{sid} │ ", style="dim")
            logs.append_text(Text.from_ansi(line[: width * 2]))
            logs.append("\n")
        if logs.plain:
            parts += [Text(""), logs]
        return Group(*parts)

    def __enter__(self) -> View:
        self.live.__enter__()
        return self

    def __exit__(self, et: Any, ev: Any, tb: Any) -> None:
        from rich.rule import Rule
        from rich.text import Text

        self.live.__exit__(et, ev, tb)
        self.console.print(self.render(with_logs=False))
        for step, tail in self.tracker.failures():
            if tail:
                title = Text(self.tracker.failure_title(step), style="bold red")
                self.console.print(Rule(title, style="red"))
                for line in tail:
                    self.console.print(Text.from_ansi(line))
        for level, icon, where, message in self.tracker.annotation_lines():
            row = Text(icon, style=LEVEL_STYLE.get(level, ""))
            row.append(f"  {where}  ", style="dim")
            row.append(message)
            self.console.print(row)
        self.console.print(self.tracker.summary())


#: Which steps stay on a live screen too short for all: lower first.
_KEEP = {"running": 0, "failed": 1, "allowed-failure": 2, "cancelled": 2, "pending": 3}


def fold_steps(
    steps: list[dict[str, Any]], room: int
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """At most `room` lines of steps: running, failed, then pending ones stay (in their
    order); the rest are counted by category instead (the counts take one line)."""
    if len(steps) <= room:
        return steps, {}

    def keep(i: int) -> tuple[int, int]:
        rank = _KEEP.get(step_category(steps[i]), 4)
        return rank, -i if rank == 4 else i  # of the finished ones, the last few stay

    ranked = sorted(range(len(steps)), key=keep)
    kept = set(ranked[: max(room - 1, 0)])
    folded = count_categories(s for i, s in enumerate(steps) if i not in kept)
    return [s for i, s in enumerate(steps) if i in kept], folded


def make_view(
    spec: PipelineSpec | None,
    execution_id: str = "",
    *,
    json_lines: bool = False,
    plain: bool = False,
    out: TextIO | None = None,
) -> View:
    """The right view for the output: JSON lines, plain lines, or live on a terminal."""
    stream = out or sys.stdout
    tracker = Tracker(spec, execution_id)
    if json_lines:
        return JsonView(tracker, stream)
    if plain or not stream.isatty():
        return PlainView(tracker, stream)
    return LiveView(tracker, stream)
