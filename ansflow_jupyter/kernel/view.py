"""Wire an ExecutionWidget to whoever runs the execution (server or embedded runtime)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from ..events import ExecutionStatus
from .runner import Runner

log = logging.getLogger(__name__)


def make_widget(runner: Runner, execution_id: str, pipeline_name: str, status: str) -> Any:
    """A live ExecutionWidget for one execution; None when the widget cannot load."""
    try:
        from .widget import ExecutionWidget
    except ImportError as exc:  # anywidget missing or a broken install: text display only
        log.warning("ansflow widget unavailable: %s", exc)
        return None
    widget = ExecutionWidget(
        execution_id=execution_id,
        mode=runner.mode,
        pipeline_name=pipeline_name,
        status=status,
    )
    widget.on_cancel = lambda *_: runner.cancel(execution_id)
    snapshot = runner.snapshot(execution_id)
    # The text/HTML summary (nbconvert, GitHub) starts from the state at display time.
    widget.record_events([snapshot])
    if runner.mode == "server":
        # The view follows the server's WebSocket itself (IOPub is rate-limited and stops
        # with the kernel); it builds the socket URL from its page origin and this path.
        widget.base_url = getattr(runner, "base_path", "/")
        widget.on_execution_change = lambda new_id: _watch_server(runner, widget, new_id)
        if not ExecutionStatus(snapshot["data"]["execution"]["status"]).finished:
            _watch_server(runner, widget, execution_id)
    else:
        _feed_embedded(runner, widget, execution_id, snapshot)
    return widget


def _feed_embedded(runner: Any, widget: Any, execution_id: str, snapshot: dict[str, Any]) -> None:
    """Send the runtime's events to the view; a view that (re)connects asks for a snapshot."""
    # A view that renders (first time, page reload) says hello and gets the state and the
    # log lines it missed; live events keep flowing from `follow`.
    widget.snapshot_provider = lambda: runner.history(execution_id)
    from .widget_data import DataRequestHandler

    # No REST API here: the view reads artifacts and summaries through widget messages.
    widget.data_handler = DataRequestHandler(runner, lambda: widget.execution_id)
    if not ExecutionStatus(snapshot["data"]["execution"]["status"]).finished:
        # Only what comes after the snapshot: a view gets the past when it says hello.
        runner.follow(execution_id, widget.push_events, since=snapshot.get("seq") or 0)


#: Polling bounds of the server-mode watcher (seconds): cheap, and stops at the end.
WATCH_FIRST = 0.5
WATCH_MAX = 3.0


def _watch_server(runner: Any, widget: Any, execution_id: str) -> None:
    """Server mode: the browser follows the WebSocket, the kernel gets no events. Poll the
    snapshot until the run ends so the displayed output's text summary (what a saved
    notebook keeps) says how it ended, while this kernel lives."""

    def watch() -> None:
        delay = WATCH_FIRST
        while widget.comm is not None and widget.execution_id == execution_id:
            try:
                snap = runner.snapshot(execution_id)
            except Exception as exc:  # the server went away: the view says so, not the kernel
                log.debug("ansflow watcher stopped: %s", exc)
                return
            if ExecutionStatus(snap["data"]["execution"]["status"]).finished:
                widget.record_events([snap])
                return
            time.sleep(delay)
            delay = min(delay * 1.5, WATCH_MAX)

    threading.Thread(target=watch, name=f"ansflow-watch-{execution_id[:8]}", daemon=True).start()
