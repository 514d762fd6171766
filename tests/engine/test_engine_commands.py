"""Workflow commands in real step output: groups, annotations, add-mask."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from _engine_helpers import ListSink, pipeline, run, step

from ansflow_jupyter.engine import Executor
from ansflow_jupyter.engine.backends import LocalBackend
from ansflow_jupyter.engine.commands import parse
from ansflow_jupyter.events import EventType, ExecutionStatus, SnapshotBuilder

SCRIPT = r"""
echo before
echo "::group::Install deps"
echo one
echo two
echo "::endgroup::"
echo "::warning file=app.py,line=12::deprecated call"
echo "::error::it broke%0Aon two lines"
echo "::add-mask::hunter22"
echo "pw is hunter22"
echo "::notice title=x::plain notice"
echo "::unknown::stays a line"
echo "::group::Left open"
echo inside
printf '::endgroup'
"""


def execute(*steps: Any) -> tuple[ExecutionStatus, ListSink]:
    sink = ListSink()
    status = run(Executor(pipeline(*steps), "cmd-1", LocalBackend(), sink).run())
    sink.check_invariants()
    return status, sink


def test_groups_annotations_and_masks_from_a_step() -> None:
    status, sink = execute(step("s", SCRIPT))
    assert status is ExecutionStatus.SUCCESS
    lines = sink.lines("s")
    # Group and add-mask markers are not log text; annotation messages are.
    assert lines == [
        "before",
        "one",
        "two",
        "deprecated call",
        "it broke",
        "on two lines",
        "pw is ***",
        "plain notice",
        "::unknown::stays a line",
        "inside",
        "::endgroup",
    ]
    groups = sink.of(EventType.GROUP_UPDATE)
    assert [(g["index"], g["title"], g["status"]) for g in groups] == [
        (0, "Install deps", "running"),
        (0, "Install deps", "success"),
        (1, "Left open", "running"),
        (1, "Left open", "success"),  # closed when the step ended
    ]
    assert (groups[1]["start_offset"], groups[1]["end_offset"]) == (1, 3)  # one, two
    assert groups[1]["reason"] is None and groups[3]["reason"] == "step-ended"
    assert (groups[3]["start_offset"], groups[3]["end_offset"]) == (9, 11)
    assert all(g["kind"] == "group" and g["step_id"] == "s" for g in groups)
    assert groups[1]["finished_at"] >= groups[1]["started_at"]
    notes = sink.of(EventType.ANNOTATION)
    assert notes == [
        {
            "step_id": "s",
            "offset": 3,
            "level": "warning",
            "message": "deprecated call",
            "file": "app.py",
            "line": 12,
        },
        {
            "step_id": "s",
            "offset": 4,
            "level": "error",
            "message": "it broke\non two lines",
            "file": None,
            "line": None,
        },
        {
            "step_id": "s",
            "offset": 7,
            "level": "notice",
            "message": "plain notice",
            "file": None,
            "line": None,
        },
    ]
    for note in notes:
        assert lines[note["offset"]] == note["message"].split("\n")[0]
    # The in-memory snapshot carries them per step.
    builder = SnapshotBuilder({}, [])
    for event in sink.events:
        builder.apply(event)
    (snap_step,) = builder.payload()["steps"]
    assert [g["status"] for g in snap_step["groups"]] == ["success", "success"]
    assert [a["level"] for a in snap_step["annotations"]] == ["warning", "error", "notice"]


def test_an_open_group_fails_with_a_failed_attempt() -> None:
    status, sink = execute(step("f", 'echo "::group::Tests"; echo FAILED; exit 3'))
    assert status is ExecutionStatus.FAILED
    last = sink.of(EventType.GROUP_UPDATE)[-1]
    assert (last["status"], last["reason"], last["end_offset"]) == ("failed", "step-ended", 1)


def test_secrets_and_masks_apply_to_titles_and_annotations(tmp_path: Path) -> None:
    script = (
        'echo "::add-mask::tok-123"; echo "::group::deploy tok-123"\n'
        'echo "::error file=tok-123.py::tok-123 leaked"'
    )
    _, sink = execute(step("m", script))
    assert sink.of(EventType.GROUP_UPDATE)[0]["title"] == "deploy ***"
    (note,) = sink.of(EventType.ANNOTATION)
    assert (note["message"], note["file"]) == ("*** leaked", "***.py")
    assert "tok-123" not in str([e.data for e in sink.events])


def test_command_syntax() -> None:
    command = parse("::error file=a%2Cb.js,line=1,col=5::50%25 done%0D%0A")
    assert command is not None
    assert command.name == "error"
    assert command.properties == {"file": "a,b.js", "line": "1", "col": "5"}
    assert command.message == "50% done\r\n"
    assert parse("::endgroup::") is not None
    assert parse("::GROUP::Title") is not None  # GitHub's names are case-insensitive
    assert parse(":: group::x") is None and parse("::set-output name=x::1") is None
    assert parse("text ::error::x") is None
