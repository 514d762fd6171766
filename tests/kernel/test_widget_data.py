"""Embedded mode: the view's artifact/summary requests over widget messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ansflow_jupyter import run_pipeline
from ansflow_jupyter.kernel.widget_data import MAX_CHUNK_BYTES

pytestmark = pytest.mark.usefixtures("embedded_store")


def _run(tmp_path: Path) -> Any:
    text = f"""\
name: files
steps:
  make:
    run: |
      printf 'a,b\\n1,2\\n3,4\\n' > table.csv
      echo '# Done *well*' >> "$ANSFLOW_STEP_SUMMARY"
    working-directory: {tmp_path}
    artifacts: [table.csv]
"""
    (tmp_path / "secret.txt").write_text("not an artifact")
    return run_pipeline(text, wait=True, display=False)


def _ask(widget: Any, sent: list[tuple[dict[str, Any], list[bytes]]], **request: Any) -> Any:
    """Send a request the way the view does; the widget's reply (content, buffers)."""
    widget._on_custom_msg(widget, {"type": "data", "id": 7, **request}, [])
    return sent.pop()


@pytest.fixture
def sent() -> list[tuple[dict[str, Any], list[bytes]]]:
    return []


@pytest.fixture
def handle(tmp_path: Path, sent: list[Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    h = _run(tmp_path)
    widget = h.widget
    monkeypatch.setattr(
        widget, "send", lambda content, buffers=None: sent.append((content, buffers or []))
    )
    return h


def test_lists_the_artifacts_with_addresses_the_view_reads_back(handle: Any, sent: Any) -> None:
    reply, _ = _ask(handle.widget, sent, op="artifacts", execution_id=handle.id)
    assert reply["ok"] and reply["id"] == 7 and reply["type"] == "data_reply"
    (row,) = reply["artifacts"]
    assert (row["step_id"], row["path"], row["size"]) == ("make", "table.csv", 12)
    assert row["url"].startswith("ansflow-kernel:")


def test_summary_markdown_of_one_step(handle: Any, sent: Any) -> None:
    reply, _ = _ask(handle.widget, sent, op="summary", execution_id=handle.id, step_id="make")
    assert reply["ok"]
    assert reply["markdown"].strip() == "# Done *well*"


def test_ranged_read_returns_only_the_asked_bytes(handle: Any, sent: Any) -> None:
    args = {"op": "read", "execution_id": handle.id, "step_id": "make", "path": "table.csv"}
    reply, buffers = _ask(handle.widget, sent, **args, offset=4, length=4)
    assert reply["ok"] and (reply["size"], reply["offset"], reply["length"]) == (12, 4, 4)
    assert bytes(buffers[0]) == b"1,2\n"
    whole, buffers = _ask(handle.widget, sent, **args)
    assert bytes(buffers[0]) == b"a,b\n1,2\n3,4\n"
    assert whole["media_type"] == "text/csv"
    past, buffers = _ask(handle.widget, sent, **args, offset=50)
    assert past["ok"] and past["length"] == 0 and bytes(buffers[0]) == b""


def test_a_huge_length_is_capped_at_one_chunk(handle: Any, sent: Any) -> None:
    args = {"op": "read", "execution_id": handle.id, "step_id": "make", "path": "table.csv"}
    reply, _ = _ask(handle.widget, sent, **args, length=MAX_CHUNK_BYTES * 10)
    assert reply["ok"] and reply["length"] == 12


@pytest.mark.parametrize(
    "request_",
    [
        {"op": "read", "step_id": "make", "path": "secret.txt"},
        {"op": "read", "step_id": "make", "path": "../secret.txt"},
        {"op": "read", "step_id": "other", "path": "table.csv"},
        {"op": "read", "step_id": "make", "path": "table.csv", "offset": -1},
        {"op": "delete"},
    ],
)
def test_refuses_what_is_not_an_artifact_of_the_execution(
    handle: Any, sent: Any, request_: dict[str, Any]
) -> None:
    reply, buffers = _ask(handle.widget, sent, execution_id=handle.id, **request_)
    assert reply["ok"] is False and reply["error"]
    assert buffers == []


def test_refuses_another_execution(handle: Any, sent: Any, tmp_path: Path) -> None:
    other = run_pipeline("name: x\nsteps:\n  a: {run: 'true'}\n", wait=True, display=False)
    reply, _ = _ask(handle.widget, sent, op="artifacts", execution_id=other.id)
    assert reply["ok"] is False and "not the one this view shows" in reply["error"]
