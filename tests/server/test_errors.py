"""Bad input gets a JSON 4xx with a message, never a 500, and changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _server_helpers import QUICK, Api
from tornado import web

from ansflow_jupyter.errors import Conflict, NotFound, SpecError, SpecIssue, StoreError
from ansflow_jupyter.server.errors import http_error
from ansflow_jupyter.server.paths import OutsideRoot

BAD_BODIES = [
    ("not json at all", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    ('{"path": 5}', "'path' must be a string"),
    ('{"yaml": "x", "colour": "red"}', "unknown field"),
    ('{"path": "a.yml", "yaml": "x"}', "exactly one"),
    ("{}", "exactly one"),
    ('{"yaml": "x", "env": {"A": 1}}', "'env' must be an object of strings"),
    ('{"yaml": "x", "env": ["A"]}', "'env' must be an object of strings"),
    ('{"yaml": "x", "max_parallel": 0}', "'max_parallel' must be an integer >= 1"),
    ('{"yaml": "x", "max_parallel": true}', "'max_parallel' must be an integer >= 1"),
    (b"\xff\xfe", "not valid JSON"),
]


@pytest.mark.parametrize(("body", "message"), BAD_BODIES)
async def test_bad_start_bodies_are_400(api: Api, body: Any, message: str) -> None:
    code, answer = await api("POST", "executions", body=body)
    assert code == 400, answer
    assert message in answer["message"]
    assert answer["errors"] == []
    assert await api("GET", "executions") == (200, [])


async def test_invalid_pipeline_is_400_with_located_errors(api: Api) -> None:
    bad = "name: x\nsteps:\n  a: {rnu: x}\n"
    code, answer = await api("POST", "executions", body={"yaml": bad})
    assert code == 400
    assert answer["errors"]
    assert answer["errors"][0]["line"] == 3
    assert {"message", "line", "column", "path"} <= set(answer["errors"][0])


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("../outside.yml", 403),
        ("sub/../../outside.yml", 403),
        ("/etc/passwd", 403),
        ("escape-link.yml", 403),
        ("missing.yml", 404),
        ("", 400),
        ("a\0b.yml", 400),
    ],
)
async def test_paths_outside_root_are_refused(
    api: Api, jp_root_dir: Path, path: str, status: int
) -> None:
    outside = jp_root_dir.parent / "outside.yml"
    outside.write_text(QUICK)
    (jp_root_dir / "escape-link.yml").symlink_to(outside)
    for route in (("executions",), ("pipelines", "validate")):
        code, answer = await api("POST", *route, body={"path": path})
        assert code == status, (route, answer)
        assert answer["message"]
    assert await api("GET", "executions") == (200, [])


async def test_symlink_inside_root_is_fine(
    api: Api, pipelines: Callable[..., str], jp_root_dir: Path
) -> None:
    pipelines("real.yml", QUICK)
    (jp_root_dir / "alias.yml").symlink_to(jp_root_dir / "real.yml")
    code, answer = await api("POST", "pipelines", "validate", body={"path": "alias.yml"})
    assert (code, answer["ok"]) == (200, True)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"status": "sleeping"}, "unknown status"),
        ({"limit": "many"}, "'limit' must be an integer"),
        ({"limit": "0"}, "between 1 and 1000"),
        ({"limit": "5000"}, "between 1 and 1000"),
    ],
)
async def test_bad_list_queries_are_400(api: Api, params: dict[str, str], message: str) -> None:
    code, answer = await api("GET", "executions", params=params)
    assert code == 400
    assert message in answer["message"]


async def test_unknown_ids_are_404(api: Api) -> None:
    for method, route in [
        ("GET", ("executions", "nope")),
        ("DELETE", ("executions", "nope")),
        ("POST", ("executions", "nope", "cancel")),
        ("POST", ("executions", "nope", "rerun")),
        ("GET", ("executions", "nope", "logs")),
    ]:
        code, answer = await api(method, *route)
        assert code == 404, (method, route, answer)
        assert "nope" in answer["message"]
    code, answer = await api("GET", "executions", params={"before": "nope"})
    assert code == 404


async def test_bad_log_queries_are_400(api: Api) -> None:
    _, execution = await api("POST", "executions", body={"yaml": QUICK})
    eid = execution["execution_id"]
    for params, message in [
        ({"offset": "-1"}, "'offset'"),
        ({"tail": "x"}, "'tail'"),
        ({"format": "pdf"}, "'format'"),
        ({"q": "/(unclosed/"}, "regular expression"),
    ]:
        code, answer = await api("GET", "executions", eid, "logs", params=params)
        assert code == 400, (params, answer)
        assert message in answer["message"]
    code, answer = await api("POST", "executions", eid, "rerun", body={"failed_only": "yes"})
    assert (code, answer["message"]) == (400, "'failed_only' must be a boolean")


def test_one_mapping_for_every_domain_error() -> None:
    issue = SpecIssue("bad", 2, 3, "steps.a", "f.yml")
    assert http_error(SpecError([issue])) == (
        400,
        {
            "message": "invalid pipeline",
            "errors": [{"message": "bad", "line": 2, "column": 3, "path": "steps.a"}],
        },
    )
    assert http_error(OutsideRoot("no"))[0] == 403
    assert http_error(NotFound("x")) == (404, {"message": "x", "errors": []})
    assert http_error(Conflict("busy"))[0] == 409
    assert http_error(StoreError("database is locked"))[0] == 503
    assert http_error(web.HTTPError(418, "tea %s", "pot")) == (
        418,
        {"message": "tea pot", "errors": []},
    )
    assert http_error(RuntimeError("secret detail")) == (
        500,
        {"message": "internal server error", "errors": []},
    )
