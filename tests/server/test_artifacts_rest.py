"""REST of artifacts through an in-process Jupyter server: list, download, ranges, headers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _server_helpers import Api, wait_for_status


@pytest.fixture
def ansflow_config(tmp_path: Path) -> dict[str, Any]:
    """The store location comes from `c.AnsFlowApp.artifact_url`."""
    return {"kill_grace": 1.0, "artifact_url": str(tmp_path / "configured-store")}


PIPELINE = """\
name: files
steps:
  build:
    matrix: {py: ["3.11"]}
    run: |
      mkdir -p out
      python3 -c "import sys; sys.stdout.buffer.write(bytes(range(256)) * 4)" > out/data.bin
      echo '<script>alert(1)</script>' > out/page.html
      echo '<svg xmlns="http://www.w3.org/2000/svg"/>' > out/pic.svg
      echo 'a,b' > 'out/my table.csv'
    artifacts: [out/]
"""


async def _run(api: Api, pipelines: Callable[..., str]) -> str:
    pipelines("files.yml", PIPELINE)
    code, execution = await api("POST", "executions", body={"path": "files.yml"})
    assert code == 201
    execution_id = str(execution["execution_id"])
    await wait_for_status(api, execution_id, {"success"})
    return execution_id


async def test_list_and_download_with_the_right_headers(
    api: Api, pipelines: Callable[..., str], jp_fetch: Any, tmp_path: Path
) -> None:
    execution_id = await _run(api, pipelines)
    assert (tmp_path / "configured-store" / "blobs").is_dir()
    code, listed = await api("GET", "executions", execution_id, "artifacts")
    assert code == 200
    assert [(a["step_id"], a["path"], a["size"], a["media_type"]) for a in listed] == [
        ("build[py=3.11]", "out/data.bin", 1024, "application/octet-stream"),
        ("build[py=3.11]", "out/my table.csv", 4, "text/csv"),
        ("build[py=3.11]", "out/page.html", 26, "text/html"),
        ("build[py=3.11]", "out/pic.svg", 42, "image/svg+xml"),
    ]
    assert all(len(a["sha256"]) == 64 for a in listed)
    assert listed[1]["url"].endswith("/artifacts/build%5Bpy%3D3.11%5D/out/my%20table.csv")

    # jp_fetch quotes each part of the route itself.
    route = ("ansflow", "api", "executions", execution_id, "artifacts", "build[py=3.11]")
    whole = await jp_fetch(*route, "out", "data.bin")
    assert whole.code == 200
    assert whole.body == bytes(range(256)) * 4
    assert whole.headers["Content-Type"] == "application/octet-stream"
    assert whole.headers["X-Content-Type-Options"] == "nosniff"
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert whole.headers["Content-Disposition"] == "inline; filename*=UTF-8''data.bin"

    part = await jp_fetch(*route, "out", "data.bin", headers={"Range": "bytes=256-259"})
    assert part.code == 206
    assert part.body == bytes([0, 1, 2, 3])
    assert part.headers["Content-Range"] == "bytes 256-259/1024"
    tail = await jp_fetch(*route, "out", "data.bin", headers={"Range": "bytes=-2"})
    assert (tail.code, tail.body) == (206, bytes([254, 255]))
    beyond = await jp_fetch(
        *route, "out", "data.bin", headers={"Range": "bytes=5000-"}, raise_error=False
    )
    assert beyond.code == 416

    for name, media in (("page.html", "text/html"), ("pic.svg", "image/svg+xml")):
        page = await jp_fetch(*route, "out", name)
        assert page.headers["Content-Type"] == media
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        policy = [p.strip() for p in page.headers["Content-Security-Policy"].split(";")]
        assert "sandbox" in policy  # never a script of the Jupyter origin
        assert "allow-same-origin" not in page.headers["Content-Security-Policy"]

    csv = await jp_fetch(*route, "out", "my table.csv", params={"download": "1"})
    assert csv.body == b"a,b\n"
    assert csv.headers["Content-Disposition"] == "attachment; filename*=UTF-8''my%20table.csv"


async def test_unknown_execution_step_or_path_is_404(
    api: Api, pipelines: Callable[..., str]
) -> None:
    code, body = await api("GET", "executions", "nope", "artifacts")
    assert code == 404
    assert "nope" in body["message"]
    execution_id = await _run(api, pipelines)
    code, body = await api("GET", "executions", execution_id, "artifacts", "build", "x.txt")
    assert code == 404
    assert body["message"] == f"no artifact 'x.txt' of step build in execution {execution_id}"


async def test_artifacts_need_authentication(api: Api) -> None:
    code, _ = await api("GET", "executions", "x", "artifacts", headers={"Authorization": ""})
    assert code == 403


async def test_force_bypasses_the_cache_over_rest(api: Api) -> None:
    text = "name: c\nsteps:\n  s: {run: 'true', cache: {inputs: [nothing*]}}\n"
    ids = []
    for force in (None, None, True, ["s"]):
        body: dict[str, Any] = {"yaml": text}
        if force is not None:
            body["force"] = force
        code, execution = await api("POST", "executions", body=body)
        assert code == 201
        ids.append(execution["execution_id"])
        await wait_for_status(api, ids[-1], {"success"})
    reasons = []
    for execution_id in ids:
        _, snap = await api("GET", "executions", execution_id)
        step = snap["data"]["steps"][0]
        reasons.append((step["reason"], step["cache_miss"]))
    assert reasons == [
        ("exit", "no entry"),
        ("cached", None),
        ("exit", "forced"),
        ("exit", "forced"),
    ]
    code, body = await api("POST", "executions", body={"yaml": text, "force": ["nope"]})
    assert (code, body["message"]) == (400, "force: unknown step id(s) ['nope']")
    code, body = await api("POST", "executions", body={"yaml": text, "force": "yes"})
    assert (code, body["message"]) == (400, "'force' must be a boolean or a list of step ids")
