"""Loading a job whose matrix reads `needs`: one placeholder node, legs at run time."""

from __future__ import annotations

from ansflow_jupyter.pipeline import load_pipeline

TEXT = """on: push
jobs:
  a:
    steps: [{run: x}]
  whole:
    name: Tests on ${{ matrix.os }}
    needs: a
    strategy:
      matrix: ${{ fromJSON(needs.a.outputs.m) }}
    runs-on: ${{ matrix.os }}
    steps: [{run: x}]
  call:
    needs: a
    strategy:
      matrix: ${{ fromJSON(needs.a.outputs.m) }}
    uses: ./.github/workflows/x.yml
  docker:
    needs: a
    container: foo
    strategy:
      matrix: {v: '${{ fromJSON(needs.a.outputs.m) }}'}
    steps: [{run: x}]
"""


def test_the_job_is_one_node_and_what_cannot_run_is_still_skipped_at_load() -> None:
    spec = load_pipeline(TEXT)
    assert list(spec.steps) == ["a", "whole", "call", "docker"]
    whole = spec.steps["whole"]
    assert whole.skip_reason == "" and whole.needs == ("a",)
    assert whole.name == "whole"  # its legs are named "Tests on ..." once known
    assert whole.note.startswith("its matrix legs are decided at run time")
    assert spec.steps["call"].skip_reason == "unsupported-action"
    assert "matrix computed at run time is not supported" in spec.steps["call"].note
    assert spec.steps["docker"].skip_reason == "needs-container"
