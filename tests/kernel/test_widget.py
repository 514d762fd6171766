"""ExecutionWidget: traits, batching within IOPub limits, hello -> snapshot, summaries."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from ansflow_jupyter.events import Event, EventType
from ansflow_jupyter.kernel import widget as widget_module
from ansflow_jupyter.kernel.widget import (
    MAX_MESSAGE_BYTES,
    MAX_MESSAGES_PER_SECOND,
    ExecutionWidget,
)

EXEC = "ex-1"


class Clock:
    """A hand-driven monotonic clock."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sent() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def widget(clock: Clock, sent: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> Any:
    w = ExecutionWidget(execution_id=EXEC, mode="embedded", clock=clock)
    monkeypatch.setattr(w, "send", lambda content, buffers=None: sent.append(content))
    # The retry timer is real time; the tests drive the clock and flush by hand.
    monkeypatch.setattr(w, "_schedule", lambda: None)
    yield w
    w.close()


def envelope(seq: int | None, type_: EventType, data: dict[str, Any]) -> dict[str, Any]:
    return Event(type_, EXEC, seq, data, ts=1.0).to_dict()


def log_event(seq: int, step: str, offset: int, lines: list[str]) -> dict[str, Any]:
    data = {"step_id": step, "stream": "stdout", "offset": offset, "lines": lines}
    return envelope(seq, EventType.LOG_UPDATE, {**data, "ts": [1.0] * len(lines)})


def snapshot(seq: int, status: str = "running") -> dict[str, Any]:
    return envelope(
        seq,
        EventType.SNAPSHOT,
        {
            "execution": {"execution_id": EXEC, "pipeline_name": "Demo <pipe>", "status": status},
            "steps": [
                {
                    "step_id": "build",
                    "name": "Build & test",
                    "status": "failed",
                    "exit_code": 2,
                    "reason": "exit",
                    "duration": 1.5,
                    "log_lines": 3,
                },
                {
                    "step_id": "deploy",
                    "name": "deploy",
                    "status": "skipped",
                    "reason": "needs-failed",
                    "log_lines": 0,
                },
            ],
        },
    )


def receive(w: ExecutionWidget, content: Any) -> None:
    """Deliver a custom message from the view the way the comm does."""
    w._handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": []})


def delivered(sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for message in sent for e in message["events"]]


def test_traits_are_synced_with_defaults() -> None:
    w = ExecutionWidget()
    try:
        state = w.get_state()
        for name in ("execution_id", "base_url", "ws_url", "mode", "pipeline_name", "status"):
            assert w.trait_metadata(name, "sync") is True, name
            assert name in state
        assert (w.mode, w.base_url, w.status) == ("server", "/", "pending")
        assert "_esm" in state and "export" in state["_esm"]
        with pytest.raises(Exception, match="mode"):
            w.mode = "bogus"
    finally:
        w.close()


def test_push_events_sends_one_message_and_updates_traits(widget: Any, sent: list) -> None:
    widget.push_events([snapshot(1), envelope(2, EventType.EXECUTION_UPDATE, {"status": "failed"})])
    assert len(sent) == 1
    assert sent[0]["type"] == "events"
    assert [e["seq"] for e in sent[0]["events"]] == [1, 2]
    assert widget.status == "failed"
    assert widget.pipeline_name == "Demo <pipe>"


def test_contiguous_log_lines_are_coalesced(widget: Any, sent: list, clock: Clock) -> None:
    widget.push_events([snapshot(1)])
    clock.now += 1.0  # a fresh rate window
    sent.clear()
    # The first push goes out at once; while the budget is spent the rest waits and merges.
    for n in range(MAX_MESSAGES_PER_SECOND):
        widget.push_events([log_event(2 + n, "build", n, [f"line {n}"])])
    assert len(sent) == MAX_MESSAGES_PER_SECOND
    for n in range(MAX_MESSAGES_PER_SECOND, 1000):
        widget.push_events([log_event(2 + n, "build", n, [f"line {n}"])])
    assert len(sent) == MAX_MESSAGES_PER_SECOND, "rate limit: nothing more this second"
    clock.now += 1.0
    widget.flush()
    assert len(sent) == MAX_MESSAGES_PER_SECOND + 1, "950 queued lines go as one message"
    events = delivered(sent)
    assert events[-1]["data"]["offset"] == MAX_MESSAGES_PER_SECOND
    assert len(events[-1]["data"]["lines"]) == 1000 - MAX_MESSAGES_PER_SECOND
    assert events[-1]["seq"] == 1001
    lines = [line for e in events for line in e["data"]["lines"]]
    assert lines == [f"line {n}" for n in range(1000)]


def test_messages_stay_under_size_and_rate_limits(widget: Any, sent: list, clock: Clock) -> None:
    big_line = "x" * 20_000
    # Alternate two steps so nothing merges: 300 envelopes of ~100 KiB each (30 MB).
    events = [log_event(n + 1, f"s{n % 2}", (n // 2) * 5, [big_line] * 5) for n in range(300)]
    widget.push_events(events)
    assert len(sent) == MAX_MESSAGES_PER_SECOND
    seconds = 0
    while widget._pending:
        clock.now += 1.0
        seconds += 1
        before = len(sent)
        widget.flush()
        assert len(sent) - before <= MAX_MESSAGES_PER_SECOND
    for message in sent:
        assert len(json.dumps(message).encode()) <= MAX_MESSAGE_BYTES
    assert [e["seq"] for e in delivered(sent)] == list(range(1, 301))
    assert seconds >= 2


def test_one_huge_log_batch_is_split(widget: Any, sent: list) -> None:
    lines = [f"{n:06d}" + "y" * 1000 for n in range(1000)]  # ~1 MB in one envelope
    widget.push_events([log_event(1, "build", 10, lines)])
    assert len(sent) >= 4
    for message in sent:
        assert len(json.dumps(message).encode()) <= MAX_MESSAGE_BYTES
    parts = delivered(sent)
    assert [line for p in parts for line in p["data"]["lines"]] == lines
    offsets = [p["data"]["offset"] for p in parts]
    assert offsets[0] == 10
    assert all(
        b == a + len(p["data"]["lines"])
        for a, b, p in zip(offsets, offsets[1:], parts, strict=False)
    )


def test_pending_is_bounded_by_dropping_old_log_lines(
    widget: Any, sent: list, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(widget_module, "MAX_PENDING_BYTES", 50_000)
    for n in range(MAX_MESSAGES_PER_SECOND):
        widget.push_events([envelope(n + 1, EventType.STEP_UPDATE, {"step_id": "a"})])
    assert len(sent) == MAX_MESSAGES_PER_SECOND  # budget spent
    widget.push_events([log_event(100 + n, f"s{n}", 0, ["z" * 1000]) for n in range(200)])
    widget.push_events([envelope(400, EventType.EXECUTION_UPDATE, {"status": "success"})])
    assert widget._pending_bytes <= 50_000
    clock.now += 1.0
    widget.flush()
    rest = delivered(sent[MAX_MESSAGES_PER_SECOND:])
    assert rest[-1]["seq"] == 400, "state events are never dropped"
    assert len(rest) < 201


def test_hello_replies_with_the_snapshot(widget: Any, sent: list) -> None:
    calls: list[int] = []

    def provider() -> dict[str, Any]:
        calls.append(1)
        return snapshot(7, status="success")

    widget.snapshot_provider = provider
    receive(widget, {"type": "hello"})
    assert calls == [1]
    assert sent == [{"type": "events", "events": [snapshot(7, status="success")]}]
    assert widget.status == "success"
    # A provider may also return Event objects and a list (snapshot + log history).
    widget.snapshot_provider = lambda: [
        Event.from_dict(snapshot(8)),
        log_event(9, "build", 0, ["a"]),
    ]
    receive(widget, {"type": "hello"})
    assert [e["type"] for e in sent[-1]["events"]] == ["snapshot", "log_update"]


def test_hello_without_provider_and_unknown_messages_are_ignored(widget: Any, sent: list) -> None:
    receive(widget, {"type": "hello"})
    receive(widget, "junk")
    receive(widget, {"type": "cancel"})  # no callback set: nothing happens
    assert sent == []


def test_cancel_calls_the_callback(widget: Any) -> None:
    cancelled: list[bool] = []
    widget.on_cancel = lambda: cancelled.append(True)
    receive(widget, {"type": "cancel"})
    assert cancelled == [True]


def test_mimebundle_has_text_and_html_summaries(widget: Any) -> None:
    widget.record_events([snapshot(3, status="failed")])
    data, metadata = widget._repr_mimebundle_()
    assert isinstance(metadata, dict)
    assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == widget.model_id
    html = data["text/html"]
    assert "Build &amp; test" in html
    assert "deploy" in html
    assert "Demo &lt;pipe&gt;" in html
    assert "<pipe>" not in html
    assert "exit 2" in html
    text = data["text/plain"]
    assert "Demo <pipe>" in text
    assert "failed" in text
    assert "Build & test" in text
    assert "skipped: a step it needs failed" in text


def test_only_server_mode_bundles_name_the_execution(widget: Any) -> None:
    # Embedded: the view needs this kernel's comm, so no kernel-free renderer may take it.
    data, _ = widget._repr_mimebundle_()
    assert widget_module.EXECUTION_MIME_TYPE not in data
    server = ExecutionWidget(execution_id="ex-9", mode="server", base_url="/lab-base/")
    try:
        data, _ = server._repr_mimebundle_()
        assert data[widget_module.EXECUTION_MIME_TYPE] == {
            "execution_id": "ex-9",
            "base_url": "/lab-base/",
        }
        # The widget view and the summaries stay (widget manager, nbconvert, GitHub).
        assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == server.model_id
        assert {"text/plain", "text/html"} <= set(data)
    finally:
        server.close()


def test_importing_the_package_does_not_import_ipython() -> None:
    code = "import sys, ansflow_jupyter; assert 'IPython' not in sys.modules, 'IPython imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


PIPELINE = """\
name: Saved state
steps:
  one: {run: echo one}
  two: {needs: one, run: sleep 1; echo two}
"""


@pytest.fixture
def notebook_dir(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A folder with a pipeline; the kernel runs it embedded with a private store."""
    for name in ("ANSFLOW_SERVER_URL", "ANSFLOW_SERVER_TOKEN", "ANSFLOW_SERVER_PID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ANSFLOW_DB_URL", f"sqlite:///{tmp_path / 'ansflow.sqlite'}")
    (tmp_path / "pipe.yml").write_text(PIPELINE)
    return tmp_path


def _run_and_save(folder: Any, *sources: str) -> Any:
    """Run a notebook headless like nbconvert --execute, write it and read it back."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    NotebookClient(
        nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(folder)}}
    ).execute()
    path = folder / "saved.ipynb"
    nbformat.write(nb, path)
    return nbformat.read(path, as_version=4)


def _summary(cell: Any) -> tuple[str, str]:
    outputs = [o for o in cell.outputs if "text/plain" in o.get("data", {})]
    assert len(outputs) == 1, cell.outputs
    return outputs[0]["data"]["text/plain"], outputs[0]["data"]["text/html"]


def test_saved_summary_is_final_after_wait(notebook_dir: Any) -> None:
    """`--wait`: the saved text/plain and text/html say how the run ended, not "pending"."""
    nb = _run_and_save(notebook_dir, "%load_ext ansflow_jupyter\n%ansflow run pipe.yml --wait")
    text, html = _summary(nb.cells[0])
    assert text.splitlines()[0].startswith("AnsFlow · Saved state · success"), text
    assert "success   two" in text
    assert "pending" not in text and "running" not in text
    assert ">success</span>" in html


def test_saved_summary_is_final_when_a_live_run_ends_while_the_kernel_runs(
    notebook_dir: Any,
) -> None:
    """No `--wait`: the run ends while a later cell executes; the first cell's saved output
    is updated to the final state."""
    nb = _run_and_save(
        notebook_dir,
        "%load_ext ansflow_jupyter\n%ansflow run pipe.yml",
        "import time\ntime.sleep(4)",
    )
    text, _ = _summary(nb.cells[0])
    assert text.splitlines()[0].startswith("AnsFlow · Saved state · success"), text
