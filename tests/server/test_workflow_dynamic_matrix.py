"""REST: the legs of a matrix computed at run time appear in the execution as they start."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from _server_helpers import Api, wait_for_status, wait_for_step

WORKFLOW = """\
on: push
jobs:
  plan:
    runs-on: ubuntu-latest
    outputs:
      legs: ${{ steps.p.outputs.legs }}
    steps:
      - id: p
        run: echo 'legs={"n":[1,2]}' >> "$GITHUB_OUTPUT"
  tests:
    needs: plan
    runs-on: ubuntu-latest
    strategy:
      matrix: ${{ fromJSON(needs.plan.outputs.legs) }}
    steps:
      - run: while [ ! -e "GATE" ]; do sleep 0.05; done; echo "leg ${{ matrix.n }}"
"""


async def test_the_snapshot_lists_the_legs_once_they_appear(
    api: Api, pipelines: Callable[[str, str], str], tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    path = pipelines(".github/workflows/dyn.yml", WORKFLOW.replace("GATE", str(gate)))
    code, started = await api("POST", "executions", body={"path": path})
    assert code == 201, started
    eid = started["execution_id"]
    assert started["steps_total"] == 2  # plan, and the job whose legs come later
    await wait_for_step(api, eid, "tests[n=2]", "running")
    _, snap = await api("GET", "executions", eid)
    steps = {s["step_id"]: s["status"] for s in snap["data"]["steps"]}
    assert steps == {
        "plan": "success",
        "tests": "running",  # the group of its legs until the last one ends
        "tests[n=1]": "running",
        "tests[n=2]": "running",
    }
    assert snap["data"]["execution"]["steps_total"] == 4
    gate.write_text("open\n")
    snap = await wait_for_status(api, eid, {"success", "failed"})
    assert snap["data"]["execution"]["status"] == "success"
    steps = {s["step_id"]: s["status"] for s in snap["data"]["steps"]}
    assert set(steps.values()) == {"success"} and len(steps) == 4
    code, logs = await api("GET", "executions", eid, "logs", params={"step": "tests[n=2]"})
    assert code == 200, logs
    assert "leg 2" in [line["line"] for line in logs["lines"]]
