"""REST API through an in-process Jupyter server."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
from _server_helpers import FAILING, QUICK, SLEEPY, Api, wait_for_status, wait_for_step


async def test_pipelines_lists_files_under_root(
    api: Api, pipelines: Callable[[str, str], str], jp_root_dir: Path
) -> None:
    pipelines("quick.yml", QUICK)
    pipelines("sub/dir/failing.yaml", FAILING)
    pipelines(".hidden/skip.yml", QUICK)
    pipelines("node_modules/pkg/skip.yml", QUICK)
    pipelines("not-a-pipeline.yml", "just: [a, mapping]\n")
    pipelines("broken.yml", "name: [unclosed\n")
    code, found = await api("GET", "pipelines")
    assert code == 200
    assert found == [
        {"path": "quick.yml", "name": "quick", "steps": ["hello", "world"]},
        {"path": "sub/dir/failing.yaml", "name": "failing", "steps": ["good", "bad"]},
    ]


async def test_validate_reports_located_errors(api: Api, pipelines: Callable[..., str]) -> None:
    pipelines("ok.yml", QUICK)
    assert await api("POST", "pipelines", "validate", body={"path": "ok.yml"}) == (
        200,
        {"ok": True, "errors": []},
    )
    bad = "name: x\nsteps:\n  a: {run: echo, needs: [nope]}\n"
    code, answer = await api("POST", "pipelines", "validate", body={"yaml": bad})
    assert code == 200
    assert answer["ok"] is False
    (error,) = answer["errors"]
    assert set(error) == {"message", "line", "column", "path"}
    assert error["line"] == 3
    assert "nope" in error["message"]


async def test_start_run_to_success_and_read_everything(
    api: Api, pipelines: Callable[..., str], jp_base_url: str
) -> None:
    pipelines("quick.yml", QUICK)
    code, execution = await api("POST", "executions", body={"path": "quick.yml"})
    assert code == 201, execution
    eid = execution["execution_id"]
    assert execution["pipeline_name"] == "quick"
    snap = await wait_for_status(api, eid, {"success"})
    assert snap["type"] == "snapshot"
    assert {s["step_id"]: s["status"] for s in snap["data"]["steps"]} == {
        "hello": "success",
        "world": "success",
    }
    code, listed = await api("GET", "executions")
    assert code == 200
    assert [e["execution_id"] if "execution_id" in e else e["id"] for e in listed] == [eid]

    code, logs = await api("GET", "executions", eid, "logs", params={"step": "hello"})
    assert code == 200
    assert [line["line"] for line in logs["lines"]] == ["line 1", "line 2", "line 3"]
    assert logs["next_offset"] == 3
    code, logs = await api(
        "GET", "executions", eid, "logs", params={"step": "hello", "offset": 1, "limit": 1}
    )
    assert [line["line"] for line in logs["lines"]] == ["line 2"]
    code, logs = await api("GET", "executions", eid, "logs", params={"tail": 1})
    assert [line["line"] for line in logs["lines"]] == ["world"]
    code, logs = await api("GET", "executions", eid, "logs", params={"q": "2"})
    assert [line["line"] for line in logs["lines"]] == ["line 2"]

    code, stats = await api("GET", "stats", params={"pipeline": "quick"})
    assert code == 200
    assert stats["runs"] == 1

    code, _ = await api("DELETE", "executions", eid)
    assert code == 204
    code, error = await api("GET", "executions", eid)
    assert code == 404
    assert eid in error["message"]


async def test_created_has_location(
    api: Api, jp_fetch: Any, pipelines: Callable[..., str], jp_base_url: str
) -> None:
    body = json.dumps({"yaml": QUICK})
    response = await jp_fetch("ansflow", "api", "executions", method="POST", body=body)
    assert response.code == 201
    eid = json.loads(response.body)["execution_id"]
    assert response.headers["Location"] == f"{jp_base_url}ansflow/api/executions/{eid}"
    await wait_for_status(api, eid, {"success"})


async def test_text_download_streams_big_logs(api: Api, pipelines: Callable[..., str]) -> None:
    pipelines(
        "big.yml",
        "name: big\nsteps:\n  spam:\n    shell: python\n    run: |\n"
        "      for i in range(12000): print(f'row {i}')\n",
    )
    _, execution = await api("POST", "executions", body={"path": "big.yml"})
    eid = execution["execution_id"]
    await wait_for_status(api, eid, {"success"})
    code, text = await api("GET", "executions", eid, "logs", params={"format": "text"})
    assert code == 200
    assert text.splitlines() == [f"spam | row {i}" for i in range(12000)]
    code, text = await api(
        "GET",
        "executions",
        eid,
        "logs",
        params={"format": "text", "step": "spam", "offset": 100, "limit": 6000},
    )
    assert text.splitlines() == [f"row {i}" for i in range(100, 6100)]


async def test_text_download_headers(jp_fetch: Any, api: Api) -> None:
    _, execution = await api("POST", "executions", body={"yaml": QUICK})
    eid = execution["execution_id"]
    await wait_for_status(api, eid, {"success"})
    response = await jp_fetch(
        "ansflow", "api", "executions", eid, "logs", params={"format": "text"}
    )
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.body.decode().splitlines() == [
        "hello | line 1",
        "hello | line 2",
        "hello | line 3",
        "world | world",
    ]


async def test_rerun_failed_only_reuses_successes(api: Api) -> None:
    _, execution = await api("POST", "executions", body={"yaml": FAILING})
    eid = execution["execution_id"]
    await wait_for_status(api, eid, {"failed"})
    code, rerun = await api("POST", "executions", eid, "rerun", body={"failed_only": True})
    assert code == 201, rerun
    assert rerun["execution_id"] != eid
    snap = await wait_for_status(api, rerun["execution_id"], {"failed"})
    steps = {s["step_id"]: s for s in snap["data"]["steps"]}
    assert steps["good"]["reason"] == "reused"
    assert steps["bad"]["status"] == "failed"
    code, _ = await api("POST", "executions", eid, "rerun")
    assert code == 201


async def test_cancel_kills_the_step_processes(api: Api, pipelines: Callable[..., str]) -> None:
    pipelines("sleepy.yml", SLEEPY)
    _, execution = await api("POST", "executions", body={"path": "sleepy.yml"})
    eid = execution["execution_id"]
    step = await wait_for_step(api, eid, "sleep", "running")
    pid = step["pid"]
    assert psutil.pid_exists(pid)
    group = [p for p in psutil.process_iter() if _pgid(p.pid) == step["pgid"]]
    assert group

    code, _ = await api("DELETE", "executions", eid)
    assert code == 409
    code, answer = await api("POST", "executions", eid, "cancel")
    assert code == 202, answer
    await wait_for_status(api, eid, {"cancelled"})
    await asyncio.sleep(0.1)
    alive = [p for p in group if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert alive == []
    # Cancelling again, or a finished execution, is harmless.
    assert (await api("POST", "executions", eid, "cancel"))[0] == 202


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


async def test_env_and_max_parallel(api: Api) -> None:
    yaml = "name: envy\nsteps:\n  show: {run: 'echo \"v=$GREETING\"'}\n"
    code, execution = await api(
        "POST", "executions", body={"yaml": yaml, "env": {"GREETING": "hi"}, "max_parallel": 2}
    )
    assert code == 201, execution
    eid = execution["execution_id"]
    await wait_for_status(api, eid, {"success"})
    _, logs = await api("GET", "executions", eid, "logs")
    assert [line["line"] for line in logs["lines"]] == ["v=hi"]


async def test_yaml_working_directory_resolves_in_root(api: Api, jp_root_dir: Path) -> None:
    (jp_root_dir / "app").mkdir()
    (jp_root_dir / "app" / "marker.txt").write_text("here")
    yaml = "name: wd\nsteps:\n  look: {run: cat marker.txt, working-directory: app}\n"
    _, execution = await api("POST", "executions", body={"yaml": yaml})
    eid = execution["execution_id"]
    await wait_for_status(api, eid, {"success"})
    _, logs = await api("GET", "executions", eid, "logs")
    assert [line["line"] for line in logs["lines"]] == ["here"]
    # A re-run resolves the same way, whatever the server's cwd is.
    _, again = await api("POST", "executions", eid, "rerun")
    await wait_for_status(api, again["execution_id"], {"success"})
