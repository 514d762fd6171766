"""Secret masking as a user sees it: real steps, the real loader, the events they emit."""

from __future__ import annotations

from pathlib import Path

from _engine_helpers import ListSink, run

from ansflow_jupyter.engine import Executor
from ansflow_jupyter.engine.backends import LocalBackend
from ansflow_jupyter.events import EventType, ExecutionStatus
from ansflow_jupyter.pipeline import load_pipeline

PIPELINE = r"""
name: secrets
env:
  TOK: "tok-s3cret\n"
  KEY: "-----BEGIN KEY-----\nMIIEvQIBADANBgkq\n-----END KEY-----\n"
  PIN: "ab"
secrets: [TOK, KEY, PIN]
steps:
  newline: {run: 'printf "%s" "$TOK"; echo " and again: $TOK"'}
  multiline: {run: 'echo "$KEY"'}
  named: {name: "deploy with ${{ env.TOK }}", run: "true"}
  short: {run: "echo about"}
"""


def execute(tmp_path: Path) -> ListSink:
    spec = load_pipeline(PIPELINE, base_dir=tmp_path)
    sink = ListSink()
    status = run(Executor(spec, "secrets-1", LocalBackend(), sink).run())
    assert status is ExecutionStatus.SUCCESS
    sink.check_invariants()
    return sink


def test_secret_values_are_masked_line_by_line(tmp_path: Path) -> None:
    sink = execute(tmp_path)
    # The value ends with a newline: it still matches at the end of the output.
    assert sink.lines("newline", "stdout") == ["***", " and again: ***", ""]
    # A multi-line secret is masked on each of its lines.
    assert sink.lines("multiline", "stdout") == ["***", "***", "***", ""]


def test_a_secret_in_a_step_name_is_masked_in_every_event(tmp_path: Path) -> None:
    sink = execute(tmp_path)
    names = {d["name"] for d in sink.of(EventType.STEP_UPDATE) if d["step_id"] == "named"}
    assert names == {"deploy with ***\n"}  # the value's newline is part of the name
    assert not any("s3cret" in str(e.data) for e in sink.events)


def test_short_secrets_are_not_masked_and_the_log_says_so(tmp_path: Path) -> None:
    sink = execute(tmp_path)
    lines = sink.lines("short")
    assert lines[-1] == "about"  # not "***out": two characters would corrupt every log
    assert "secret PIN" in lines[0] and "not masked" in lines[0]
    assert sink.lines("short", "stderr") == lines[:1]
    # ... and the views list it with the run's annotations.
    notes = [d for d in sink.of(EventType.ANNOTATION) if d["step_id"] == "short"]
    assert [(n["level"], n["offset"], n["message"]) for n in notes] == [("warning", 0, lines[0])]
