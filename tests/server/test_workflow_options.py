"""REST: a workflow file's run options (job, event, inputs, strict), kept by re-runs."""

from __future__ import annotations

from collections.abc import Callable

from _server_helpers import QUICK, Api, wait_for_status

WORKFLOW = """\
name: Greet
on:
  workflow_dispatch:
    inputs:
      who:
        default: nobody
jobs:
  greet:
    runs-on: ubuntu-latest
    steps:
      - run: echo "hello ${{ inputs.who }} on ${{ github.event_name }}"
  other:
    runs-on: ubuntu-latest
    steps:
      - run: echo other
  remote:
    runs-on: ubuntu-latest
    steps:
      - uses: someone/unknown-action@v1
"""


async def _lines(api: Api, eid: str, step: str) -> list[str]:
    code, logs = await api("GET", "executions", eid, "logs", params={"step": step})
    assert code == 200, logs
    return [line["line"] for line in logs["lines"]]


async def test_options_run_the_workflow_and_a_rerun_keeps_them(
    api: Api, pipelines: Callable[[str, str], str]
) -> None:
    path = pipelines(".github/workflows/greet.yml", WORKFLOW)
    body = {"path": path, "job": "greet", "event": "workflow_dispatch", "inputs": {"who": "ada"}}
    code, started = await api("POST", "executions", body=body)
    assert code == 201, started
    snap = await wait_for_status(api, started["execution_id"], {"success", "failed"})
    assert [s["step_id"] for s in snap["data"]["steps"]] == ["greet"]  # only that job
    assert snap["data"]["execution"]["status"] == "success"
    assert "hello ada on workflow_dispatch" in await _lines(api, started["execution_id"], "greet")

    code, again = await api("POST", "executions", started["execution_id"], "rerun", body={})
    assert code == 201, again
    snap = await wait_for_status(api, again["execution_id"], {"success", "failed"})
    assert [s["step_id"] for s in snap["data"]["steps"]] == ["greet"]
    assert "hello ada on workflow_dispatch" in await _lines(api, again["execution_id"], "greet")


async def test_without_options_the_defaults_apply(
    api: Api, pipelines: Callable[[str, str], str]
) -> None:
    path = pipelines(".github/workflows/greet.yml", WORKFLOW)
    code, started = await api("POST", "executions", body={"path": path})
    assert code == 201, started
    snap = await wait_for_status(api, started["execution_id"], {"success", "failed"})
    assert {s["step_id"] for s in snap["data"]["steps"]} == {"greet", "other", "remote"}
    assert "hello nobody on push" in await _lines(api, started["execution_id"], "greet")


async def test_strict_makes_an_unsupported_action_a_400(
    api: Api, pipelines: Callable[[str, str], str]
) -> None:
    path = pipelines(".github/workflows/greet.yml", WORKFLOW)
    code, answer = await api("POST", "executions", body={"path": path, "strict": True})
    assert code == 400, answer
    assert "someone/unknown-action@v1" in answer["errors"][0]["message"]
    assert answer["errors"][0]["path"] == "jobs.remote.steps[0].uses"


async def test_workflow_options_for_a_native_pipeline_are_a_400(api: Api) -> None:
    for extra in ({"job": "hello"}, {"event": "push"}, {"inputs": {}}, {"strict": False}):
        code, answer = await api("POST", "executions", body={"yaml": QUICK, **extra})
        assert code == 400, (extra, answer)
        assert "workflow files only" in answer["message"]


async def test_bad_option_values_are_400s(api: Api, pipelines: Callable[[str, str], str]) -> None:
    path = pipelines(".github/workflows/greet.yml", WORKFLOW)
    cases = [
        ({"job": ""}, "'job' must be"),
        ({"job": 3}, "'job' must be"),
        ({"event": ["push"]}, "'event' must be"),
        ({"inputs": {"who": None}}, "'inputs' must be"),
        ({"inputs": {"who": {"a": 1}}}, "'inputs' must be"),
        ({"inputs": "who=ada"}, "'inputs' must be"),
        ({"strict": "yes"}, "'strict' must be"),
        ({"job": "nope"}, "no job 'nope'"),
    ]
    for extra, message in cases:
        code, answer = await api("POST", "executions", body={"path": path, **extra})
        assert code == 400, (extra, answer)
        said = [answer["message"], *(e["message"] for e in answer.get("errors", []))]
        assert any(message in m for m in said), (extra, answer)
    code, listed = await api("GET", "executions")
    assert listed == []  # nothing was started by a refused request


async def test_pipelines_lists_workflow_files_and_one_runs_from_the_listing(
    api: Api, pipelines: Callable[[str, str], str]
) -> None:
    pipelines(".github/workflows/greet.yml", WORKFLOW)
    pipelines(".github/workflows/nameless.yaml", WORKFLOW.replace("name: Greet\n", ""))
    pipelines(".github/dependabot.yml", "version: 2\nupdates: []\n")
    pipelines(".hidden/other.yml", WORKFLOW)  # other hidden folders stay unscanned
    pipelines("flow.yml", QUICK)
    code, listed = await api("GET", "pipelines")
    assert code == 200, listed
    assert listed == [
        {
            "path": ".github/workflows/greet.yml",
            "name": "Greet",
            "steps": ["greet", "other", "remote"],
            "kind": "workflow",
        },
        {
            "path": ".github/workflows/nameless.yaml",
            "name": "nameless.yaml",
            "steps": ["greet", "other", "remote"],
            "kind": "workflow",
        },
        {"path": "flow.yml", "name": "quick", "steps": ["hello", "world"]},
    ]
    code, started = await api("POST", "executions", body={"path": listed[0]["path"]})
    assert code == 201, started
    assert started["pipeline_name"] == "Greet"
    snap = await wait_for_status(api, started["execution_id"], {"success", "failed"})
    assert snap["data"]["execution"]["status"] == "success"
