"""Terminal views of an execution: a rich live view, plain lines, or JSON lines."""

from __future__ import annotations

import json
import sys
import time
from collections import deque
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from .events import Event, EventType, SnapshotBuilder
from .pipeline.spec import PipelineSpec

STATUS_STYLE = {
    "pending": ("○", "dim"),
    "running": ("●", "bold cyan"),
    "success": ("✔", "green"),
    "failed": ("✖", "bold red"),
    "cancelled": ("■", "yellow"),
    "skipped": ("↷", "dim"),
    "interrupted": ("!", "magenta"),
}
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
FAILED_TAIL_LINES = 20


def fmt_duration(seconds: float | None) -> str:
    """`0.42s`, `12.3s`, `4m05s`, `1h02m`."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.2f}s" if seconds < 10 else f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


def elapsed(row: Mapping[str, Any], now: float) -> float | None:
    """The duration of a finished row, or the time it has been running so far."""
    if row.get("duration") is not None:
        return float(row["duration"])
    if row.get("started_at"):
        return max(0.0, now - float(row["started_at"]))
    return None


def badge(status: str) -> Text:
    """A coloured status word with its icon."""
    icon, style = STATUS_STYLE.get(status, ("?", ""))
    return Text(f"{icon} {status}", style=style)


class _Tracker:
    """Execution state plus the tail of each step's log, fed by event batches."""

    def __init__(self, spec: PipelineSpec):
        self.spec = spec
        self.state = SnapshotBuilder(
            {"pipeline_name": spec.name, "status": "pending", "steps_total": len(spec.steps)},
            [{"step_id": s.id, "name": s.name, "status": "pending"} for s in spec.steps.values()],
        )
        self.tails: dict[str, deque[str]] = {
            sid: deque(maxlen=FAILED_TAIL_LINES) for sid in spec.steps
        }
        self.recent: deque[tuple[str, str]] = deque(maxlen=12)

    def apply(self, event: Event) -> None:
        self.state.apply(event)
        if event.type is EventType.LOG_UPDATE:
            sid = event.data["step_id"]
            lines = event.data["lines"]
            self.tails.setdefault(sid, deque(maxlen=FAILED_TAIL_LINES)).extend(lines)
            self.recent.extend((sid, line) for line in lines[-12:])

    def failure_report(self, console: Console) -> None:
        for sid, step in self.state.steps.items():
            if step.get("status") == "failed" and self.tails.get(sid):
                why = step.get("reason") or "exit"
                code = step.get("exit_code")
                exit_note = f", exit {code}" if code is not None else ""
                console.rule(f"[bold red]{escape(sid)}[/] failed ({why}{exit_note})")
                for line in self.tails[sid]:
                    console.print(Text.from_ansi(line))

    def summary(self) -> Text:
        ex = self.state.execution
        text = badge(str(ex.get("status", "?")))
        text.append(f"  {ex.get('pipeline_name', '')}", style="bold")
        text.append(f"  {fmt_duration(ex.get('duration'))}  ")
        text.append(f"{ex.get('steps_done', 0)}/{ex.get('steps_total', 0)} steps", style="dim")
        return text


class View:
    """Base of the three views: a context manager fed with event batches."""

    def __init__(self, tracker: _Tracker, out: TextIO):
        self.tracker = tracker
        self.out = out

    def apply(self, batch: Iterable[Event]) -> None:
        for event in batch:
            self.tracker.apply(event)

    def __enter__(self) -> View:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None


class JsonView(View):
    """`--json`: one envelope per line, flushed per batch."""

    def apply(self, batch: Iterable[Event]) -> None:
        events = list(batch)
        super().apply(events)
        self.out.writelines(json.dumps(e.to_dict(), separators=(",", ":")) + "\n" for e in events)
        self.out.flush()


class PlainView(View):
    """Not a terminal (or `--plain`): step transitions and `step | line` log lines."""

    def apply(self, batch: Iterable[Event]) -> None:
        write = self.out.write
        for event in batch:
            before = dict(self.tracker.state.steps.get(event.data.get("step_id", ""), {}))
            self.tracker.apply(event)
            data = event.data
            if event.type is EventType.LOG_UPDATE:
                prefix = f"{data['step_id']} | "
                self.out.writelines(prefix + line + "\n" for line in data["lines"])
            elif event.type is EventType.STEP_UPDATE and data.get("status") != before.get("status"):
                write(self._transition(data))
        self.out.flush()

    @staticmethod
    def _transition(step: Mapping[str, Any]) -> str:
        status = step["status"]
        icon = STATUS_STYLE.get(status, ("?", ""))[0]
        extra = []
        if step.get("attempt", 1) > 1:
            extra.append(f"attempt {step['attempt']}")
        if status not in ("running", "pending"):
            if step.get("duration") is not None:
                extra.append(fmt_duration(step["duration"]))
            if step.get("reason") not in (None, "exit"):
                extra.append(str(step["reason"]))
            if step.get("exit_code") not in (None, 0):
                extra.append(f"exit {step['exit_code']}")
        tail = f" ({', '.join(extra)})" if extra else ""
        return f"{icon} {step['step_id']} {status}{tail}\n"

    def __exit__(self, et: Any, ev: Any, tb: Any) -> None:
        console = Console(file=self.out, no_color=True, highlight=False)
        self.tracker.failure_report(console)
        console.print(self.tracker.summary())


class LiveView(View):
    """A terminal: a live table of steps with durations and the tail of the logs."""

    def __init__(self, tracker: _Tracker, out: TextIO):
        super().__init__(tracker, out)
        self.console = Console(file=out)
        self.live = Live(
            console=self.console, get_renderable=self.render, refresh_per_second=10, transient=True
        )

    def render(self, *, with_logs: bool = True) -> RenderableType:
        """Header, steps and (while live) the newest log lines."""
        now = time.time()
        state = self.tracker.state
        ex = state.execution
        done, total = ex.get("steps_done", 0) or 0, ex.get("steps_total", 0) or len(state.steps)
        head = Table.grid(padding=(0, 2))
        head.add_row(
            Text(str(ex.get("pipeline_name", "")), style="bold"),
            badge(str(ex.get("status", "pending"))),
            Text(fmt_duration(elapsed(ex, now)) or "0.00s"),
            ProgressBar(total=max(total, 1), completed=done, width=30),
            Text(f"{done}/{total}"),
        )
        steps = Table(box=None, show_header=True, header_style="dim", pad_edge=False)
        for col in ("", "step", "needs", "time", ""):
            steps.add_column(col, no_wrap=True)
        spin = SPINNER[int(now * 10) % len(SPINNER)]
        for sid, step in state.steps.items():
            status = str(step.get("status", "pending"))
            icon, style = STATUS_STYLE.get(status, ("?", ""))
            spec_step = self.tracker.spec.steps.get(sid)
            note = f"attempt {step['attempt']}" if (step.get("attempt") or 1) > 1 else ""
            if status == "skipped" or (status == "failed" and step.get("reason") != "exit"):
                note = str(step.get("reason") or "")
            steps.add_row(
                Text(spin if status == "running" else icon, style=style),
                Text(sid, style=style if status != "pending" else "dim"),
                Text(", ".join(spec_step.needs) if spec_step else "", style="dim"),
                Text(fmt_duration(elapsed(step, now))),
                Text(note, style="dim"),
            )
        if not with_logs:
            return Group(head, Text(""), steps)
        logs = Text()
        for sid, line in self.tracker.recent:
            logs.append(f"{sid} │ ", style="dim")
            logs.append_text(Text.from_ansi(line[:400]))
            logs.append("\n")
        return Group(head, Text(""), steps, Text(""), logs)

    def __enter__(self) -> View:
        self.live.__enter__()
        return self

    def __exit__(self, et: Any, ev: Any, tb: Any) -> None:
        self.live.__exit__(et, ev, tb)
        self.console.print(self.render(with_logs=False))
        self.tracker.failure_report(self.console)
        self.console.print(self.tracker.summary())


def make_view(
    spec: PipelineSpec, *, json_lines: bool = False, plain: bool = False, out: TextIO | None = None
) -> View:
    """The right view for the output: JSON lines, plain lines, or live on a terminal."""
    stream = out or sys.stdout
    tracker = _Tracker(spec)
    if json_lines:
        return JsonView(tracker, stream)
    if plain or not stream.isatty():
        return PlainView(tracker, stream)
    return LiveView(tracker, stream)


def _console() -> Console:
    """Rich output; not a terminal (a pipe, a file) gets a wide page instead of 80 columns."""
    console = Console()
    return console if console.is_terminal else Console(width=200)


def print_executions(rows: Iterable[Mapping[str, Any]]) -> None:
    """`ansflow list` as a table."""
    table = Table(box=None, header_style="dim")
    for col in ("id", "pipeline", "status", "started", "time", "steps"):
        table.add_column(col, no_wrap=col != "pipeline", overflow="fold")
    for row in rows:
        started = row.get("started_at")
        table.add_row(
            str(row["execution_id"])[:12],
            str(row.get("pipeline_name", "")),
            badge(str(row.get("status", ""))),
            time.strftime("%m-%d %H:%M:%S", time.localtime(started)) if started else "",
            fmt_duration(row.get("duration")),
            f"{row.get('steps_done', 0)}/{row.get('steps_total', 0)}",
        )
    _console().print(table)


def print_snapshot(snapshot: Event) -> None:
    """`ansflow show ID`: the execution header and one row per step."""
    ex = snapshot.data["execution"]
    console = _console()
    console.print(
        Text(str(ex.get("pipeline_name", "")), style="bold"),
        badge(str(ex.get("status"))),
        fmt_duration(ex.get("duration")),
        Text(str(ex.get("execution_id")), style="dim"),
    )
    if ex.get("message"):
        console.print(Text(str(ex["message"]), style="dim"))
    table = Table(box=None, header_style="dim")
    for col in ("step", "status", "attempt", "time", "exit", "reason", "lines"):
        table.add_column(col, no_wrap=True)
    for step in snapshot.data["steps"]:
        table.add_row(
            str(step["step_id"]),
            badge(str(step.get("status", ""))),
            str(step.get("attempt") or ""),
            fmt_duration(step.get("duration")),
            "" if step.get("exit_code") is None else str(step["exit_code"]),
            str(step.get("reason") or ""),
            str(step.get("log_lines", 0)),
        )
    console.print(table)
