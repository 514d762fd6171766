"""The notebook widget: one anywidget for both transports.

Server mode: the view opens the server's WebSocket itself (IOPub is rate-limited and
stops with the kernel), so Python only hands it `execution_id` and `base_url`.
Embedded mode: the kernel runs the pipeline and pushes the envelopes through widget
messages, batched to stay well inside IOPub's limits.
"""

from __future__ import annotations

import contextvars
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from html import escape
from pathlib import Path
from typing import Any

import anywidget
import traitlets as t

from ansflow_jupyter.events import Event, EventType, ExecutionStatus, SnapshotBuilder
from ansflow_jupyter.format import step_suffix

__all__ = ["EXECUTION_MIME_TYPE", "ExecutionWidget"]

#: Server mode only: lets the lab extension render the live view from a saved notebook
#: without the widget model (no kernel, no saved widget state). Embedded mode needs the
#: kernel's comm, so its bundle never carries it.
EXECUTION_MIME_TYPE = "application/vnd.ansflow.execution+json"

_BUNDLE = Path(__file__).parent.parent / "static" / "widget.js"
# A source checkout without a front-end build still imports; the cell says what is missing.
_MISSING_BUNDLE = (
    "export default { render({ el }) { el.textContent = "
    "'AnsFlow: the widget bundle is not built (run npm run build in labextension).'; } };"
)

#: One widget message stays far below the websocket/IOPub message sizes that hurt.
MAX_MESSAGE_BYTES = 256 * 1024
#: IOPub allows ~1000 msgs/s for all outputs together; we take a small share.
MAX_MESSAGES_PER_SECOND = 50
#: Beyond this, the oldest pending log lines are dropped (the view marks the gap).
MAX_PENDING_BYTES = 32 * 1024 * 1024

EnvelopeLike = Mapping[str, Any] | Event
SnapshotProvider = Callable[[], EnvelopeLike | Iterable[EnvelopeLike] | None]


def _as_dict(envelope: EnvelopeLike) -> dict[str, Any]:
    return envelope.to_dict() if isinstance(envelope, Event) else dict(envelope)


def _size(envelope: Mapping[str, Any]) -> int:
    return len(json.dumps(envelope, separators=(",", ":"), default=str).encode())


def _split_log(envelope: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    """Split a log_update too big for one message into consecutive smaller ones."""
    data = envelope["data"]
    lines: list[str] = list(data.get("lines") or [])
    stamps: list[float] = list(data.get("ts") or [])
    parts: list[dict[str, Any]] = []
    start = 0
    while start < len(lines):
        end, size = start, 256
        while end < len(lines) and (end == start or size + len(lines[end].encode()) + 32 <= limit):
            size += len(lines[end].encode()) + 32
            end += 1
        part_data = {**data, "offset": data["offset"] + start, "lines": lines[start:end]}
        if stamps:
            part_data["ts"] = stamps[start:end]
        parts.append({**envelope, "data": part_data})
        start = end
    return parts or [envelope]


class ExecutionWidget(anywidget.AnyWidget):
    """Live view of one pipeline execution (see labextension/widget/ for the view)."""

    _esm = _BUNDLE if _BUNDLE.is_file() else _MISSING_BUNDLE

    execution_id = t.Unicode("").tag(sync=True)
    base_url = t.Unicode("/").tag(sync=True)
    ws_url = t.Unicode("").tag(sync=True)
    mode = t.Enum(["server", "embedded"], default_value="server").tag(sync=True)
    pipeline_name = t.Unicode("").tag(sync=True)
    status = t.Unicode("pending").tag(sync=True)

    def __init__(
        self,
        *,
        snapshot_provider: SnapshotProvider | None = None,
        on_cancel: Callable[[], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        #: Called when a view (re)renders; returns the snapshot (and optionally log events).
        self.snapshot_provider = snapshot_provider
        #: Called when the user presses Cancel in embedded mode.
        self.on_cancel = on_cancel
        self._clock = clock
        self._lock = threading.RLock()
        self._pending: deque[tuple[dict[str, Any], int]] = deque()
        self._pending_bytes = 0
        self._sent_at: deque[float] = deque()
        self._timer: threading.Timer | None = None
        self._summary = SnapshotBuilder({}, [])
        #: The display id the output was shown with; a final state re-publishes it there.
        self.display_id: str | None = None
        self._published = ""
        #: Called with the new id when the view switches execution (a re-run from the view).
        self.on_execution_change: Callable[[str], Any] | None = None
        #: Embedded mode: answers the view's artifact/summary requests (kernel/widget_data.py).
        self.data_handler: Callable[[Mapping[str, Any]], tuple[dict[str, Any], list[bytes]]] | None
        self.data_handler = None
        self.on_msg(self._on_custom_msg)
        self.observe(self._execution_changed, names="execution_id")

    # -- embedded transport -------------------------------------------------------------

    def push_events(self, envelopes: Iterable[EnvelopeLike]) -> None:
        """Queue envelopes for the view; sent in batches within the IOPub budget."""
        with self._lock:
            for raw in envelopes:
                envelope = _as_dict(raw)
                self._record(envelope)
                self._enqueue(envelope)
            self._trim()
            self._drain()

    def flush(self) -> None:
        """Send what the rate budget allows now; a timer sends the rest later."""
        with self._lock:
            self._drain()

    def close(self) -> None:
        """Stop the pending-send timer and close the comm."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        super().close()

    def _enqueue(self, envelope: dict[str, Any]) -> None:
        last = self._pending[-1][0] if self._pending else None
        if (
            last is not None
            and envelope.get("type") == last.get("type") == EventType.LOG_UPDATE.value
            and envelope["data"].get("step_id") == last["data"].get("step_id")
            and envelope["data"].get("offset")
            == last["data"].get("offset", 0) + len(last["data"].get("lines") or [])
        ):
            # Coalesce contiguous lines of one step: fewer, larger messages.
            merged = self._merge(last, envelope)
            self._pending_bytes -= self._pending.pop()[1]
            envelope = merged
        size = _size(envelope)
        if size > MAX_MESSAGE_BYTES and envelope.get("type") == EventType.LOG_UPDATE.value:
            for part in _split_log(envelope, MAX_MESSAGE_BYTES - 1024):
                part_size = _size(part)
                self._pending.append((part, part_size))
                self._pending_bytes += part_size
            return
        self._pending.append((envelope, size))
        self._pending_bytes += size

    @staticmethod
    def _merge(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
        data = dict(first["data"])
        data["lines"] = list(data.get("lines") or []) + list(second["data"].get("lines") or [])
        data["ts"] = list(data.get("ts") or []) + list(second["data"].get("ts") or [])
        return {**second, "data": data}

    def _trim(self) -> None:
        """Bound memory when the view cannot keep up: drop the oldest log batches."""
        if self._pending_bytes <= MAX_PENDING_BYTES:
            return
        kept: deque[tuple[dict[str, Any], int]] = deque()
        for envelope, size in self._pending:
            is_log = envelope.get("type") == EventType.LOG_UPDATE.value
            if is_log and self._pending_bytes > MAX_PENDING_BYTES:
                self._pending_bytes -= size
                continue
            kept.append((envelope, size))
        self._pending = kept

    def _budget(self) -> int:
        now = self._clock()
        while self._sent_at and now - self._sent_at[0] >= 1.0:
            self._sent_at.popleft()
        return MAX_MESSAGES_PER_SECOND - len(self._sent_at)

    def _drain(self) -> None:
        while self._pending and self._budget() > 0:
            batch: list[dict[str, Any]] = []
            size = 64
            while self._pending and (not batch or size + self._pending[0][1] <= MAX_MESSAGE_BYTES):
                envelope, envelope_size = self._pending.popleft()
                self._pending_bytes -= envelope_size
                batch.append(envelope)
                size += envelope_size + 1
            self._sent_at.append(self._clock())
            self.send({"type": "events", "events": batch})
        if self._pending:
            self._schedule()

    def _schedule(self) -> None:
        if self._timer is not None and self._timer.is_alive():
            return
        wait = max(0.02, 1.0 - (self._clock() - self._sent_at[0])) if self._sent_at else 0.02
        self._timer = threading.Timer(wait, self._on_timer)
        self._timer.daemon = True
        self._timer.start()

    def _on_timer(self) -> None:
        with self._lock:
            self._timer = None
            self._drain()

    def _on_custom_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, Mapping):
            return
        kind = content.get("type")
        if kind == "hello":
            self._send_snapshot()
        elif kind == "cancel" and self.on_cancel is not None:
            self.on_cancel()
        elif kind == "data" and self.data_handler is not None:
            reply, buffers = self.data_handler(content)
            self.send(reply, buffers=buffers)

    def _send_snapshot(self) -> None:
        """Answer a view's hello: a re-rendered view starts from the current state."""
        if self.snapshot_provider is None:
            return
        provided = self.snapshot_provider()
        if provided is None:
            return
        items = [provided] if isinstance(provided, Event | Mapping) else list(provided)
        envelopes = [_as_dict(item) for item in items]
        for envelope in envelopes:
            self._record(envelope)
        # Sent at once (one reply per render), in chunks of the same size limit.
        batch: list[dict[str, Any]] = []
        size = 64
        for envelope in envelopes:
            parts = (
                _split_log(envelope, MAX_MESSAGE_BYTES - 1024)
                if envelope.get("type") == EventType.LOG_UPDATE.value
                else [envelope]
            )
            for part in parts:
                part_size = _size(part)
                if batch and size + part_size > MAX_MESSAGE_BYTES:
                    self.send({"type": "events", "events": batch})
                    batch, size = [], 64
                batch.append(part)
                size += part_size + 1
        if batch:
            self.send({"type": "events", "events": batch})

    # -- summary for nbconvert / GitHub ---------------------------------------------------

    def record_events(self, envelopes: Iterable[EnvelopeLike]) -> None:
        """Update the Python-side summary (status, steps) without sending anything."""
        with self._lock:
            for envelope in envelopes:
                self._record(_as_dict(envelope))

    def _execution_changed(self, change: Mapping[str, Any]) -> None:
        # The view re-ran the pipeline: the saved summary must follow the new execution.
        if change["new"] == change["old"]:
            return
        with self._lock:
            self._summary = SnapshotBuilder({}, [])
            self._published = ""
            self.status = "pending"
        if self.on_execution_change is not None:
            self.on_execution_change(str(change["new"]))

    def _publish_final(self) -> None:
        """Re-publish the output once the execution has ended, so a saved notebook (and
        nbconvert, GitHub, any front end without the extension) shows the final state."""
        status = str(self._summary.execution.get("status") or "")
        if self.display_id is None or status == self._published:
            return
        try:
            finished = ExecutionStatus(status).finished
        except ValueError:
            return
        if not finished:
            return
        self._published = status
        self.refresh_display()

    def refresh_display(self) -> None:
        """Replace the displayed output (text/plain, text/html, the view) with the current one."""
        if self.display_id is None:
            return
        bundle = self._repr_mimebundle_()
        if bundle is None:
            return
        from IPython.display import update_display

        data, metadata = bundle
        # An empty context: the kernel then addresses the update to the request it serves
        # now, not to the (finished) cell whose context the runtime thread inherited, which
        # front ends would drop.
        contextvars.Context().run(
            update_display, data, metadata=metadata, display_id=self.display_id, raw=True
        )

    def _record(self, envelope: Mapping[str, Any]) -> None:
        try:
            event = Event.from_dict(envelope)
        except (KeyError, ValueError, TypeError):
            return
        if event.type is EventType.HEARTBEAT:
            return
        if event.type is EventType.SNAPSHOT and event.execution_id != self._summary.execution.get(
            "execution_id", event.execution_id
        ):
            self._summary = SnapshotBuilder({}, [])
        self._summary.apply(event)
        execution = self._summary.execution
        if execution.get("status") and execution["status"] != self.status:
            self.status = str(execution["status"])
        if execution.get("pipeline_name") and execution["pipeline_name"] != self.pipeline_name:
            self.pipeline_name = str(execution["pipeline_name"])
        self._publish_final()

    def _steps(self) -> list[dict[str, Any]]:
        return list(self._summary.steps.values())

    def summary_text(self) -> str:
        """Plain-text summary: the pipeline, its status, one line per step."""
        name = self.pipeline_name or "pipeline"
        lines = [f"AnsFlow · {name} · {self.status} · execution {self.execution_id or '?'}"]
        for step in self._steps():
            lines.append(
                "  {status:<9} {name}{extra}".format(
                    status=step.get("status", "pending"),
                    name=step.get("name") or step.get("step_id"),
                    extra=_step_extra(step),
                )
            )
        return "\n".join(lines)

    def summary_html(self) -> str:
        """HTML summary with inline styles, for renderers without the widget JS."""
        rows = "".join(_summary_row(step) for step in self._steps())
        color = _STATUS_COLORS.get(self.status, "inherit")
        return (
            "<div class='ansflow-summary' style='font-family:sans-serif;font-size:13px'>"
            f"<div><b>{escape(self.pipeline_name or 'AnsFlow pipeline')}</b> "
            f"<span style='color:{color};font-weight:600'>{escape(self.status)}</span> "
            f"<span style='opacity:.6'>{escape(self.execution_id)}</span></div>"
            "<table style='border-collapse:collapse;margin-top:4px'>"
            "<thead><tr><th style='text-align:left;padding:2px 8px'>Step</th>"
            "<th style='text-align:left;padding:2px 8px'>Status</th>"
            "<th style='text-align:right;padding:2px 8px'>Duration / exit</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        # anywidget returns the widget-view mime type plus a bare repr; front-ends without
        # the widget manager (nbconvert, GitHub) fall back to these summaries. In server
        # mode the bundle also names the execution, so JupyterLab re-renders the live view
        # from the saved output alone (see labextension/src/renderer.ts).
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle
        data = {**data, "text/plain": self.summary_text(), "text/html": self.summary_html()}
        if self.mode == "server" and self.execution_id:
            data[EXECUTION_MIME_TYPE] = {
                "execution_id": self.execution_id,
                "base_url": self.base_url,
            }
        return data, metadata


_STATUS_COLORS = {
    "success": "#2e7d32",
    "failed": "#c62828",
    "running": "#1565c0",
    "cancelled": "#ef6c00",
    "interrupted": "#ef6c00",
    "skipped": "#757575",
}


def _summary_row(step: Mapping[str, Any]) -> str:
    status = str(step.get("status", "pending"))
    name = escape(str(step.get("name") or step.get("step_id")))
    color = _STATUS_COLORS.get(status, "inherit")
    extra = escape(_step_extra(step).strip(" ()"))
    cell = "padding:2px 8px"
    return (
        f"<tr><td style='{cell}'>{name}</td>"
        f"<td style='{cell};color:{color}'>{escape(status)}</td>"
        f"<td style='{cell};text-align:right'>{extra}</td></tr>"
    )


def _step_extra(step: Mapping[str, Any]) -> str:
    suffix = step_suffix(step)
    return f" ({suffix})" if suffix else ""
