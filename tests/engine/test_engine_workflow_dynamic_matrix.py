"""A job whose matrix comes from another job's outputs: its legs appear at run time."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from _engine_helpers import ListSink, run

from ansflow_jupyter.engine import Executor
from ansflow_jupyter.engine.backends import LocalBackend
from ansflow_jupyter.events import EventType, ExecutionStatus
from ansflow_jupyter.pipeline import load_pipeline_file

PLAN = """
  plan:
    runs-on: ubuntu-latest
    outputs:
      matrix: ${{ steps.m.outputs.matrix }}
      versions: ${{ steps.m.outputs.versions }}
      empty: ${{ steps.m.outputs.empty }}
      scalar: ${{ steps.m.outputs.scalar }}
      n: ${{ steps.m.outputs.n }}
      pys: ${{ steps.m.outputs.pys }}
    steps:
      - id: m
        run: |
          m='{"python":["a","b"],"include":[{"python":"b","extra":"x"},'
          m+='{"python":"c","extra":"y"}],"exclude":[]}'
          echo "matrix=$m" >> "$GITHUB_OUTPUT"
          echo 'versions=["3.1","3.2"]' >> "$GITHUB_OUTPUT"
          echo 'empty={"python":[]}' >> "$GITHUB_OUTPUT"
          echo 'scalar="just text"' >> "$GITHUB_OUTPUT"
          echo 'n=[1,2,3]' >> "$GITHUB_OUTPUT"
          echo 'pys=["3.99"]' >> "$GITHUB_OUTPUT"
"""

LEGS = """on: push
jobs:
PLAN
  tests:
    needs: plan
    runs-on: ubuntu-latest
    strategy:
      matrix: ${{ fromJSON(needs.plan.outputs.matrix) }}
    outputs:
      seen: ${{ steps.s.outputs.seen }}
    steps:
      - id: s
        run: |
          echo "leg python=${{ matrix.python }} extra=${{ matrix.extra }}" \
            "total=${{ strategy.job-total }}"
          echo "seen=${{ matrix.python }}" >> "$GITHUB_OUTPUT"
  axis:
    needs: plan
    strategy:
      matrix:
        v: ${{ fromJson(needs.plan.outputs.versions) }}
        os: [ubuntu-latest, windows-latest]
        exclude: [{v: '3.2', os: windows-latest}]
    runs-on: ${{ matrix.os }}
    steps:
      - run: echo "axis v=${{ matrix.v }}"
  py:
    needs: plan
    strategy:
      matrix: {python: '${{ fromJSON(needs.plan.outputs.pys) }}'}
    steps:
      - uses: actions/setup-python@v5
        with: {python-version: '${{ matrix.python }}'}
  after:
    needs: [tests, axis]
    steps:
      - run: |
          echo "tests=${{ needs.tests.result }} seen=${{ needs.tests.outputs.seen }}" \
            "axis=${{ needs.axis.result }}"
""".replace("PLAN\n", PLAN.lstrip("\n"))

BAD = """on: push
jobs:
PLAN
  empty:
    needs: plan
    strategy: {matrix: '${{ fromJSON(needs.plan.outputs.empty) }}'}
    steps: [{run: echo never-empty}]
  scalar:
    needs: plan
    strategy: {matrix: '${{ fromJSON(needs.plan.outputs.scalar) }}'}
    steps: [{run: echo never-scalar}]
  big:
    needs: plan
    strategy: {matrix: {n: '${{ fromJSON(needs.plan.outputs.n) }}'}}
    steps: [{run: echo never-big}]
  report:
    needs: [empty, scalar, big]
    if: always()
    steps:
      - run: |
          echo "empty=${{ needs.empty.result }} scalar=${{ needs.scalar.result }}" \
            "big=${{ needs.big.result }}"
""".replace("PLAN\n", PLAN.lstrip("\n"))

FAST = """on: push
jobs:
PLAN
  fast:
    needs: plan
    strategy:
      matrix: {n: '${{ fromJSON(needs.plan.outputs.n) }}'}
    steps:
      - run: if [ "${{ matrix.n }}" = 1 ]; then exit 1; fi; echo ran-${{ matrix.n }}
  slow:
    needs: plan
    strategy:
      fail-fast: false
      matrix: {n: '${{ fromJSON(needs.plan.outputs.n) }}'}
    steps:
      - run: if [ "${{ matrix.n }}" = 1 ]; then exit 1; fi; echo ran-${{ matrix.n }}
""".replace("PLAN\n", PLAN.lstrip("\n"))


def workflow(tmp_path: Path, text: str) -> Path:
    """A tiny git repository holding one workflow file."""
    repo = tmp_path / "repo"
    path = repo / ".github" / "workflows" / "ci.yml"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "init"]):
        subprocess.run(
            ["git", "-c", "user.email=t@t", "-c", "user.name=t", "-C", str(repo), *args],
            check=True,
            capture_output=True,
        )
    return path


def execute(path: Path, **kwargs: Any) -> tuple[ExecutionStatus, ListSink]:
    sink = ListSink()
    executor = Executor(load_pipeline_file(path), "dyn-1", LocalBackend(), sink, **kwargs)
    status = run(executor.run(), timeout=120)
    sink.check_invariants()
    return status, sink


def final(sink: ListSink, sid: str) -> tuple[str, str]:
    data = sink.final(sid)
    return data["status"], data["reason"]


def test_legs_from_a_jobs_outputs_run_with_their_values_and_dependents_see_the_job(
    tmp_path: Path,
) -> None:
    status, sink = execute(workflow(tmp_path, LEGS))
    assert status is ExecutionStatus.SUCCESS
    legs = ["tests[python=a]", "tests[python=b,extra=x]", "tests[python=c,extra=y]"]
    for leg in legs:
        assert final(sink, leg) == ("success", "exit")
    assert "leg python=a extra= total=3" in sink.lines("tests[python=a]")
    assert "leg python=c extra=y total=3" in sink.lines("tests[python=c,extra=y]")
    # The job itself is the legs' group: announced at start, it lists them and ends last.
    assert final(sink, "tests") == ("success", "exit")
    assert f"Matrix: 3 legs: {', '.join(legs)}" in sink.lines("tests")
    assert final(sink, "axis[v=3.1,os=ubuntu-latest]") == ("success", "exit")
    assert final(sink, "axis[v=3.1,os=windows-latest]") == ("skipped", "runner-os")
    assert "axis[v=3.2,os=windows-latest]" not in {
        d["step_id"] for d in sink.of(EventType.STEP_UPDATE)
    }
    assert "tests=success seen=c axis=success" in sink.lines("after")
    assert final(sink, "py[python=3.99]") == ("skipped", "tool-missing")
    assert final(sink, "py") == ("skipped", "tool-missing")  # every leg was
    # Each leg is announced (pending) before it runs; the totals count the legs.
    updates = [d for d in sink.of(EventType.STEP_UPDATE) if d["step_id"] == legs[0]]
    assert updates[0]["status"] == "pending" and updates[-1]["status"] == "success"
    last = sink.of(EventType.EXECUTION_UPDATE)[-1]
    assert last["steps_total"] == 5 + 3 + 3 + 1 == last["steps_done"]  # 5 jobs, their legs


def test_an_empty_a_non_object_or_too_big_matrix_fails_that_job_with_a_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANSFLOW_MAX_MATRIX_LEGS", "2")
    status, sink = execute(workflow(tmp_path, BAD))
    assert status is ExecutionStatus.FAILED
    assert final(sink, "plan") == ("success", "exit")
    messages = {sid: sink.final(sid)["message"] for sid in ("empty", "scalar", "big")}
    assert messages["empty"] == "Matrix vector 'python' does not contain any values"
    assert messages["scalar"] == "strategy.matrix must be an object, not a string ('just text')"
    assert "3 legs; at most 2 per job (ANSFLOW_MAX_MATRIX_LEGS)" in messages["big"]
    for sid in messages:
        assert sink.final(sid)["status"] == "failed"
        assert f"ansflow: {messages[sid]}" in sink.lines(sid)
    assert "empty=failure scalar=failure big=failure" in sink.lines("report")
    assert not any("never" in line for sid in messages for line in sink.lines(sid))


def test_a_failed_dynamic_leg_cancels_its_siblings_unless_fail_fast_is_false(
    tmp_path: Path,
) -> None:
    status, sink = execute(workflow(tmp_path, FAST), max_parallel=1)
    assert status is ExecutionStatus.FAILED
    assert final(sink, "fast[n=1]")[0] == "failed"
    assert final(sink, "fast[n=2]") == ("cancelled", "fail-fast")
    assert final(sink, "fast[n=3]") == ("cancelled", "fail-fast")
    assert final(sink, "fast")[0] == "failed"
    assert final(sink, "slow[n=1]")[0] == "failed"
    assert final(sink, "slow[n=2]") == ("success", "exit")
    assert final(sink, "slow[n=3]") == ("success", "exit")
    assert "ran-3" in sink.lines("slow[n=3]")


ONE_AT_A_TIME = """on: push
jobs:
PLAN
  legs:
    needs: plan
    strategy:
      max-parallel: 1
      matrix: {n: '${{ fromJSON(needs.plan.outputs.n) }}'}
    steps:
      - run: |
          echo "start ${{ matrix.n }}" >> LOG
          sleep 0.3
          echo "end ${{ matrix.n }}" >> LOG
""".replace("PLAN\n", PLAN.lstrip("\n"))


def test_max_parallel_applies_to_legs_made_at_run_time(tmp_path: Path) -> None:
    log = tmp_path / "order.log"
    status, _ = execute(workflow(tmp_path, ONE_AT_A_TIME.replace("LOG", str(log))))
    assert status is ExecutionStatus.SUCCESS
    lines = log.read_text().split()
    starts_and_ends = [word for word in lines if word in ("start", "end")]
    assert starts_and_ends == ["start", "end"] * 3  # never two legs at once
