"""Wire an ExecutionWidget to whoever runs the execution (server or embedded runtime)."""

from __future__ import annotations

import logging
from typing import Any

from ..events import EventType
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
    if runner.mode == "server":
        # The view follows the server's WebSocket itself (IOPub is rate-limited and stops
        # with the kernel); it builds the socket URL from its page origin and this path.
        widget.base_url = getattr(runner, "base_path", "/")
    else:
        _feed_embedded(runner, widget, execution_id)
    return widget


def _feed_embedded(runner: Any, widget: Any, execution_id: str) -> None:
    """Send the runtime's events to the view; a view that (re)connects asks for a snapshot."""

    def snapshot() -> dict[str, Any]:
        # The view said hello (first render, page reload): it gets the state now and the
        # log lines it missed right after; live events keep flowing from `follow`.
        runner.replay_logs(execution_id, widget.push_events)
        return dict(runner.snapshot(execution_id))

    widget.snapshot_provider = snapshot

    def push(events: list[dict[str, Any]]) -> None:
        widget.push_events(events)
        for event in events:
            if event["type"] == EventType.EXECUTION_UPDATE.value:
                widget.status = event["data"]["status"]
            elif event["type"] == EventType.SNAPSHOT.value:
                widget.status = event["data"]["execution"]["status"]

    runner.follow(execution_id, push)
