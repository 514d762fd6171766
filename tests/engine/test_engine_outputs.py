"""Outputs and step summaries with real processes: $ANSFLOW_OUTPUT, needs reads, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _engine_helpers import ListSink, run

from ansflow_jupyter.engine import Executor
from ansflow_jupyter.engine.backends import LocalBackend
from ansflow_jupyter.engine.stepfiles import OutputError, parse_outputs
from ansflow_jupyter.events import ExecutionStatus
from ansflow_jupyter.pipeline import load_pipeline


class Summaries:
    """A SummarySink keeping what it was given."""

    def __init__(self) -> None:
        self.saved: dict[tuple[str, int], str] = {}

    async def save_summary(self, execution_id: str, step_id: str, attempt: int, text: str) -> None:
        self.saved[(step_id, attempt)] = text


def execute(
    yaml: str, tmp_path: Path, **kwargs: Any
) -> tuple[ExecutionStatus, ListSink, Summaries]:
    spec = load_pipeline(yaml, base_dir=tmp_path)
    sink, summaries = ListSink(), Summaries()
    executor = Executor(spec, "out-1", LocalBackend(), sink, summaries=summaries, **kwargs)
    status = run(executor.run())
    sink.check_invariants()
    return status, sink, summaries


def test_outputs_flow_to_run_env_and_if_of_dependents(tmp_path: Path) -> None:
    status, sink, _ = execute(
        """
name: outputs
steps:
  build:
    run: |
      echo "version=1.2.0" >> "$ANSFLOW_OUTPUT"
      echo "empty=" >> "$ANSFLOW_OUTPUT"
      {
        echo "notes<<EOF"
        echo "line one"
        echo "a=b"
        echo "EOF"
      } >> "$ANSFLOW_OUTPUT"
  publish:
    needs: build
    if: needs.build.outputs.version == '1.2.0' && needs.build.result == 'success'
    env: {VERSION: "v${{ needs.build.outputs.version }}"}
    run: |
      echo "$VERSION ${{ needs.build.outputs.notes }}"
      echo "[${{ needs.build.outputs.missing }}]"
  never:
    needs: build
    if: needs.build.outputs.version == '9'
    run: echo never
""",
        tmp_path,
    )
    assert status is ExecutionStatus.SUCCESS
    assert sink.final("build")["outputs"] == {
        "version": "1.2.0",
        "empty": "",
        "notes": "line one\na=b",
    }
    assert sink.lines("publish", "stdout") == ["v1.2.0 line one", "a=b", "[]"]
    assert sink.lines("publish", "stderr") == [
        "ansflow: warning: needs.build.outputs.missing is not set; it reads as ''"
    ]
    assert (sink.final("never")["status"], sink.final("never")["reason"]) == (
        "skipped",
        "condition-false",
    )
    assert "outputs" not in sink.final("publish")


def test_every_matrix_leg_is_reachable_by_its_id(tmp_path: Path) -> None:
    status, sink, _ = execute(
        """
name: legs
steps:
  build:
    matrix: {python: ["3.11", "3.12"]}
    run: echo "tag=py${{ matrix.python }}" >> "$ANSFLOW_OUTPUT"
  report:
    needs: build
    run: >
      echo ${{ needs['build[python=3.11]'].outputs.tag }}
      ${{ needs['build[python=3.12]'].outputs.tag }}
      ${{ join(needs.*.outputs.tag, '+') }}
""",
        tmp_path,
    )
    assert status is ExecutionStatus.SUCCESS
    assert sink.lines("report") == ["py3.11 py3.12 py3.11+py3.12"]


def test_secret_values_inside_outputs_are_masked(tmp_path: Path) -> None:
    status, sink, _ = execute(
        """
name: masked
env: {TOKEN: hunter22}
secrets: [TOKEN]
steps:
  a:
    run: echo "url=https://user:$TOKEN@example.com" >> "$ANSFLOW_OUTPUT"
  b:
    needs: a
    run: echo "${{ needs.a.outputs.url }}" | tr -d '*'
""",
        tmp_path,
    )
    assert status is ExecutionStatus.SUCCESS
    assert sink.final("a")["outputs"] == {"url": "https://user:***@example.com"}
    assert sink.lines("b") == ["https://user:@example.com"]


@pytest.mark.parametrize(
    ("script", "message"),
    [
        (
            'echo "just text" >> "$ANSFLOW_OUTPUT"',
            "$ANSFLOW_OUTPUT line 1: expected 'name=value' or 'name<<DELIMITER', got 'just text'",
        ),
        (
            'printf "ok=1\\nv<<END\\nno end\\n" >> "$ANSFLOW_OUTPUT"',
            "$ANSFLOW_OUTPUT line 2: no line 'END' ends the value of 'v'",
        ),
        (
            'echo "bad name=1" >> "$ANSFLOW_OUTPUT"',
            "$ANSFLOW_OUTPUT line 1: invalid output name 'bad name'",
        ),
        (
            'head -c 1048577 /dev/zero >> "$ANSFLOW_OUTPUT"',
            "$ANSFLOW_OUTPUT holds 1048577 bytes, more than the limit of 1048576 bytes (1 MiB)",
        ),
    ],
)
def test_output_errors_fail_the_step_with_a_reason(
    tmp_path: Path, script: str, message: str
) -> None:
    yaml = f"name: bad\nsteps:\n  a:\n    run: |\n      {script}\n"
    yaml += "  b:\n    needs: a\n    run: echo b\n"
    status, sink, _ = execute(yaml, tmp_path)
    assert status is ExecutionStatus.FAILED
    final = sink.final("a")
    assert (final["status"], final["reason"], final["exit_code"]) == ("failed", "output-error", 0)
    assert final["message"].startswith(message)
    assert sink.lines("a", "stderr")[-1].startswith(f"ansflow: {message}")
    assert sink.final("b")["reason"] == "needs-failed"


def test_each_attempt_starts_with_empty_files(tmp_path: Path) -> None:
    status, sink, summaries = execute(
        """
name: retry
steps:
  a:
    retry: {max: 1}
    run: |
      echo "attempt=$ANSFLOW_ATTEMPT" >> "$ANSFLOW_OUTPUT"
      echo "seen=$(wc -l < "$ANSFLOW_OUTPUT")" >> "$ANSFLOW_OUTPUT"
      echo "# attempt $ANSFLOW_ATTEMPT" >> "$ANSFLOW_STEP_SUMMARY"
      test "$ANSFLOW_ATTEMPT" = 2
""",
        tmp_path,
    )
    assert status is ExecutionStatus.SUCCESS
    assert sink.final("a")["outputs"] == {"attempt": "2", "seen": "1"}
    assert summaries.saved == {("a", 2): "# attempt 2\n"}
    assert sink.final("a")["summary"] == len("# attempt 2\n")


def test_every_step_gets_existing_empty_private_files_whatever_the_steps_before_did(
    tmp_path: Path,
) -> None:
    # Files a step left alone are handed to a later step: it must not tell the difference.
    check = """
      test -f "$ANSFLOW_OUTPUT" && test ! -s "$ANSFLOW_OUTPUT"
      test -f "$ANSFLOW_STEP_SUMMARY" && test ! -s "$ANSFLOW_STEP_SUMMARY"
      echo "mode=$(stat -c %a "$ANSFLOW_OUTPUT") $(stat -c %a "$ANSFLOW_STEP_SUMMARY")" \\
        >> "$ANSFLOW_OUTPUT"
"""
    status, sink, summaries = execute(
        f"""
name: reuse
steps:
  quiet: {{run: "true"}}
  first:
    needs: quiet
    run: |{check}
  idle: {{needs: first, run: "true"}}
  fiddle:
    needs: idle
    run: |
      chmod 644 "$ANSFLOW_OUTPUT"
      rm "$ANSFLOW_STEP_SUMMARY" && ln -s /dev/null "$ANSFLOW_STEP_SUMMARY"
  second:
    needs: fiddle
    run: |{check}
      echo "# second" >> "$ANSFLOW_STEP_SUMMARY"
  third:
    needs: second
    run: |{check}
""",
        tmp_path,
    )
    assert status is ExecutionStatus.SUCCESS, sink.lines("second", "stderr")
    for step in ("first", "second", "third"):
        assert sink.final(step)["outputs"] == {"mode": "600 600"}, step
    assert not sink.final("fiddle").get("outputs")
    assert summaries.saved == {("second", 1): "# second\n"}


def test_summary_is_saved_before_the_final_update_and_bounded(tmp_path: Path) -> None:
    status, sink, summaries = execute(
        """
name: summary
env: {TOKEN: hunter22}
secrets: [TOKEN]
steps:
  report:
    run: |
      echo "## Report for $TOKEN" >> "$ANSFLOW_STEP_SUMMARY"
      echo "| a | b |" >> "$ANSFLOW_STEP_SUMMARY"
  big:
    run: head -c 2000000 /dev/zero | tr '\\0' x >> "$ANSFLOW_STEP_SUMMARY"
  none: {run: 'true'}
""",
        tmp_path,
    )
    assert status is ExecutionStatus.SUCCESS
    assert summaries.saved[("report", 1)] == "## Report for ***\n| a | b |\n"
    assert sink.final("report")["summary"] == len("## Report for ***\n| a | b |\n")
    big = summaries.saved[("big", 1)]
    assert big.startswith("x" * 1000) and big.endswith("*(summary cut at 1048576 bytes)*\n")
    assert "summary" not in sink.final("none")
    assert ("none", 1) not in summaries.saved


def test_reused_steps_carry_their_outputs(tmp_path: Path) -> None:
    status, sink, _ = execute(
        """
name: reuse
steps:
  build: {run: exit 1}
  use: {needs: build, run: 'echo "${{ needs.build.outputs.v }}"'}
""",
        tmp_path,
        reuse={"build": "earlier"},
        reuse_outputs={"build": {"v": "from-before"}},
    )
    assert status is ExecutionStatus.SUCCESS
    assert sink.final("build")["outputs"] == {"v": "from-before"}
    assert sink.lines("use") == ["from-before"]


def test_bad_function_input_at_start_fails_only_that_step(tmp_path: Path) -> None:
    status, sink, _ = execute(
        """
name: runtime-error
steps:
  a: {run: echo 'x=not json' >> "$ANSFLOW_OUTPUT"}
  b: {needs: a, run: 'echo ${{ fromJSON(needs.a.outputs.x) }}'}
""",
        tmp_path,
    )
    assert status is ExecutionStatus.FAILED
    final = sink.final("b")
    assert (final["status"], final["reason"]) == ("failed", "spawn-error")
    assert final["message"].startswith("fromJSON(): invalid JSON")


def test_parse_outputs_rules() -> None:
    assert parse_outputs("a=1\r\n\nb==2\nc<<X\r\n\r\nX\n") == {"a": "1", "b": "=2", "c": ""}
    assert parse_outputs("k<<EOF=\nv\nEOF=\n") == {"k": "v"}  # '<<' before '=': a block
    with pytest.raises(OutputError, match="empty delimiter"):
        parse_outputs("k<<\n")


def test_the_outputs_example_pipeline(tmp_path: Path) -> None:
    from ansflow_jupyter.pipeline import load_pipeline_file

    example = Path(__file__).parents[2] / "notebooks" / "pipelines" / "outputs.yml"
    spec = load_pipeline_file(example)
    sink, summaries = ListSink(), Summaries()
    status = run(Executor(spec, "example", LocalBackend(), sink, summaries=summaries).run())
    assert status is ExecutionStatus.SUCCESS, [sink.final(s) for s in spec.steps]
    version = sink.final("version")["outputs"]["version"]
    assert sink.final("version")["outputs"]["notes"] == "first line of notes\nsecond line"
    passed = len(version)
    assert sink.final("test[python=3.11]")["outputs"] == {"passed": str(passed)}
    assert sink.final("test[python=3.12]")["outputs"] == {"passed": str(passed + 2)}
    summary = summaries.saved[("report", 1)]
    assert f"## Release {version}" in summary
    assert f"| 3.12 | {passed + 2} |" in summary
    assert f"Every leg: {passed}, {passed + 2}" in summary
    assert sink.lines("publish") == [f"publishing {version}"]


def test_a_single_leg_matrix_answers_to_its_bare_id_once(tmp_path: Path) -> None:
    status, sink, _ = execute(
        """
name: one-leg
steps:
  b:
    matrix: {x: ["1"]}
    run: echo "v=${{ matrix.x }}" >> "$ANSFLOW_OUTPUT"
  c:
    needs: b
    run: echo "${{ needs.b.outputs.v }} ${{ join(needs.*.outputs.v) }} ${{ needs.b.outputs.w }}"
""",
        tmp_path,
    )
    assert status is ExecutionStatus.SUCCESS
    assert sink.lines("c", "stdout") == ["1 1 "]  # the leg is listed once by needs.*
    assert sink.lines("c", "stderr") == [
        "ansflow: warning: needs.b.outputs.w is not set; it reads as ''"
    ]


def test_a_retry_replaces_the_outputs_of_the_failed_attempt(tmp_path: Path) -> None:
    status, sink, _ = execute(
        """
name: retry-outputs
steps:
  a:
    retry: {max: 1}
    run: |
      if [ "$ANSFLOW_ATTEMPT" = 1 ]; then echo "x=first" >> "$ANSFLOW_OUTPUT"; exit 1; fi
  b: {needs: a, run: 'echo "[${{ needs.a.outputs.x }}]"'}
""",
        tmp_path,
    )
    assert status is ExecutionStatus.SUCCESS
    assert sink.final("a")["outputs"] == {}  # what b reads, not attempt 1's
    assert sink.lines("b", "stdout") == ["[]"]
