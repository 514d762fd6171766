"""Outputs and step summaries over REST: the snapshot, the summary endpoint, re-runs."""

from __future__ import annotations

from _server_helpers import Api, wait_for_status

PIPELINE = """\
name: data
steps:
  build:
    run: |
      echo "version=1.2.0" >> "$ANSFLOW_OUTPUT"
      printf '## Built\\n\\n| file | size |\\n|---|---|\\n' >> "$ANSFLOW_STEP_SUMMARY"
      printf '| app.whl | 3 kB |\\n' >> "$ANSFLOW_STEP_SUMMARY"
  check:
    needs: build
    env: {VERSION: "${{ needs.build.outputs.version }}"}
    run: |
      echo "saw=$VERSION" >> "$ANSFLOW_OUTPUT"
      test -e marker-that-does-not-exist
"""

SUMMARY = "## Built\n\n| file | size |\n|---|---|\n| app.whl | 3 kB |\n"


async def test_outputs_in_the_snapshot_and_summaries_over_rest(api: Api) -> None:
    _, execution = await api("POST", "executions", body={"yaml": PIPELINE})
    eid = execution["execution_id"]
    snap = await wait_for_status(api, eid, {"failed"})
    steps = {s["step_id"]: s for s in snap["data"]["steps"]}
    assert steps["build"]["outputs"] == {"version": "1.2.0"}
    assert steps["build"]["summary"] == len(SUMMARY)
    assert steps["check"]["outputs"] == {"saw": "1.2.0"}  # kept although the step failed
    assert steps["check"]["summary"] is None

    code, body = await api("GET", "executions", eid, "summary")
    assert code == 200
    assert body == {
        "execution_id": eid,
        "summaries": [{"step_id": "build", "attempt": 1, "markdown": SUMMARY}],
    }
    code, body = await api("GET", "executions", eid, "summary", params={"step": "check"})
    assert (code, body["summaries"]) == (200, [])
    code, body = await api("GET", "executions", eid, "summary", params={"step": "nope"})
    assert code == 404 and "nope" in body["message"]
    code, body = await api("GET", "executions", "0" * 32, "summary")
    assert code == 404

    # A failed-only re-run reuses build and hands its outputs on.
    code, rerun = await api("POST", "executions", eid, "rerun", body={"failed_only": True})
    assert code == 201
    snap = await wait_for_status(api, rerun["execution_id"], {"failed"})
    steps = {s["step_id"]: s for s in snap["data"]["steps"]}
    assert (steps["build"]["reason"], steps["build"]["outputs"]) == ("reused", {"version": "1.2.0"})
    assert steps["check"]["outputs"] == {"saw": "1.2.0"}


async def test_unknown_needs_reference_is_a_400_with_location(api: Api) -> None:
    text = "name: p\nsteps:\n  a: {run: x}\n  b: {run: 'echo ${{ needs.a.outputs.v }}'}\n"
    code, body = await api("POST", "executions", body={"yaml": text})
    assert code == 400
    assert body["errors"] == [
        {
            "message": "needs.a: step 'a' is not in this step's needs",
            "line": 4,
            "column": 22,
            "path": "steps.b.run",
        }
    ]
    deep = "name: p\nsteps:\n  a: {run: x, if: '" + "(" * 50_000 + "'}\n"
    code, body = await api("POST", "pipelines", "validate", body={"yaml": deep})
    assert code == 200
    assert not body["ok"]
    assert "nested too deeply" in body["errors"][0]["message"]
    code, body = await api("POST", "executions", body={"yaml": deep})
    assert code == 400
    assert body["errors"][0]["path"] == "steps.a.if"
    assert "internal error" not in body["message"]
