"""`ansflow show` prints the outputs and step summaries a run left (real CLI, real SQLite)."""

from __future__ import annotations

import json
from pathlib import Path

from test_cli import ansflow, write

PIPELINE = """\
name: cli data
steps:
  build:
    run: |
      echo "version=1.2.0" >> "$ANSFLOW_OUTPUT"
      printf 'notes<<EOF\\n[bold]not markup[/]\\nEOF\\n' >> "$ANSFLOW_OUTPUT"
      printf '## Built it\\n\\n- wheel: **app.whl**\\n' >> "$ANSFLOW_STEP_SUMMARY"
      printf '\\x1b]0;pwned\\x07\\n' >> "$ANSFLOW_STEP_SUMMARY"
  use:
    needs: build
    run: echo "using ${{ needs.build.outputs.version }}"
"""


def test_show_prints_outputs_and_summaries(tmp_path: Path) -> None:
    result = ansflow(tmp_path, "run", write(tmp_path, "data.yml", PIPELINE))
    assert result.returncode == 0, result.stderr
    assert "use | using 1.2.0" in result.stdout
    rows = [json.loads(line) for line in ansflow(tmp_path, "list", "--json").stdout.splitlines()]
    shown = ansflow(tmp_path, "show", rows[0]["execution_id"])
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert "outputs" in out
    assert "version" in out and "1.2.0" in out
    assert "[bold]not markup[/]" in out  # step text is never Rich markup
    assert "summary of build (attempt 1)" in out
    assert "Built it" in out and "app.whl" in out and "**" not in out  # rendered Markdown
    assert "\x1b]0;" not in out and "\x07" not in out  # no terminal control from a step
    # Piped, the summary is not padded to a 200-column page with trailing blanks.
    assert [line for line in out.splitlines() if line != line.rstrip()] == []
    snapshot = json.loads(ansflow(tmp_path, "show", rows[0]["execution_id"], "--json").stdout)
    steps = {s["step_id"]: s for s in snapshot["data"]["steps"]}
    assert steps["build"]["outputs"] == {"version": "1.2.0", "notes": "[bold]not markup[/]"}
    assert steps["build"]["summary"] > 0
