"""Hostile input (deep nesting, lone surrogates, odd file names, huge numbers, NUL bytes,
oversized bodies): a JSON 4xx with a message, nothing started, the server still up."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest
from _server_helpers import QUICK, SLEEPY, Api, read_frames
from jupyter_server.utils import url_path_join
from tornado.httpclient import HTTPClientError

DEEP_JSON = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"yaml": ' + DEEP_JSON + "}", "nested too deeply"),
        (DEEP_JSON, "nested too deeply"),
        ('{"yaml": "name: x\\ud800"}', "'yaml' is not valid Unicode"),
        ('{"path": "\\ud800.yml"}', "'path' is not valid Unicode"),
        ('{"yaml": "name: x", "env": {"A": "\\udfff"}}', "'env' is not valid Unicode"),
        ('{"yaml": "name: x", "env": {"A": "a\\u0000b"}}', "NUL"),
        ('{"yaml": "name: x", "env": {"A\\u0000": "b"}}', "NUL"),
        ('{"yaml": "name: x", "env": {"A=B": "c"}}', "'='"),
        ('{"yaml": "name: x", "env": {"": "c"}}', "empty"),
    ],
)
async def test_hostile_bodies_are_400_and_start_nothing(api: Api, body: str, message: str) -> None:
    for route in (("executions",), ("pipelines", "validate")):
        if "env" in body and route != ("executions",):
            continue
        code, answer = await api("POST", *route, body=body)
        assert code == 400, (route, answer)
        assert message in answer["message"], answer
    assert await api("GET", "executions") == (200, [])


async def test_yaml_nested_deeper_than_the_limit_is_a_located_400(api: Api) -> None:
    deep = "name: deep\nsteps:\n  a:\n    run: echo\n    env: " + "[" * 5_000 + "]" * 5_000
    for route in (("executions",), ("pipelines", "validate")):
        code, answer = await api("POST", *route, body={"yaml": deep})
        if route == ("executions",):
            assert code == 400, answer
            errors = answer["errors"]
        else:
            assert (code, answer["ok"]) == (200, False), answer
            errors = answer["errors"]
        assert "nested" in errors[0]["message"], errors
        assert errors[0]["line"] == 5
    assert await api("GET", "executions") == (200, [])


async def test_non_utf8_file_names_are_not_listed_and_never_a_500(
    api: Api, jp_root_dir: Path
) -> None:
    (jp_root_dir / "good.yml").write_text(QUICK)
    latin = os.open(os.fsencode(jp_root_dir) + b"/caf\xe9.yml", os.O_WRONLY | os.O_CREAT)
    os.write(latin, QUICK.replace("quick", "latin").encode())
    os.close(latin)
    code, listed = await api("GET", "pipelines")
    assert code == 200
    assert [p["path"] for p in listed] == ["good.yml"]
    # What an older listing handed out (a surrogate-escaped name) is refused cleanly.
    code, answer = await api("POST", "executions", body=json.dumps({"path": "caf\udce9.yml"}))
    assert code == 400, answer
    assert "not valid Unicode" in answer["message"]
    assert await api("GET", "executions") == (200, [])


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({f"K{i}": "v" for i in range(1_001)}, "at most 1000"),
        ({"BIG": "x" * 200_000}, "at most 131072 bytes"),
    ],
)
async def test_env_is_bounded(api: Api, env: dict[str, str], message: str) -> None:
    code, answer = await api("POST", "executions", body={"yaml": QUICK, "env": env})
    assert code == 400, answer
    assert message in answer["message"]
    assert await api("GET", "executions") == (200, [])


async def test_body_over_the_limit_is_413_before_it_is_read(api: Api) -> None:
    big = json.dumps({"yaml": "#" * (5 * 2**20)})
    code, answer = await api("POST", "executions", body=big)
    assert code == 413, answer
    assert "4194304" in answer["message"]
    assert await api("GET", "executions") == (200, [])


@pytest.mark.parametrize("since", [str(2**63), str(10**30)])
async def test_huge_since_is_refused_at_handshake(api: Api, jp_ws_fetch: Any, since: str) -> None:
    code, execution = await api("POST", "executions", body={"yaml": QUICK})
    assert code == 201
    with pytest.raises(HTTPClientError) as info:
        await jp_ws_fetch(
            "ansflow", "ws", "executions", execution["execution_id"], params={"since": since}
        )
    assert info.value.code == 400


async def test_deeply_nested_ws_message_gets_an_error_and_the_socket_stays(
    api: Api, jp_ws_fetch: Any
) -> None:
    _, execution = await api("POST", "executions", body={"yaml": SLEEPY})
    ws = await jp_ws_fetch("ansflow", "ws", "executions", execution["execution_id"])
    await read_frames(ws, lambda ev: any(e["type"] == "snapshot" for e in ev))
    nested = "[" * 30_000 + "]" * 30_000  # under the 64 KiB message limit
    assert len(nested) < 64 * 1024
    await ws.write_message(nested)
    await ws.write_message(json.dumps({"type": "ping"}))
    replies: list[dict[str, Any]] = []
    while len(replies) < 2:
        message = await ws.read_message()
        assert message is not None, (ws.close_code, ws.close_reason)
        frame = json.loads(message)
        if isinstance(frame, dict):
            replies.append(frame)
    assert replies[0]["type"] == "error"
    assert "nested too deeply" in replies[0]["message"]
    assert replies[1] == {"type": "pong"}
    await api("POST", "executions", execution["execution_id"], "cancel")


async def test_pipelines_lists_only_what_may_run(api: Api, jp_root_dir: Path) -> None:
    outside = jp_root_dir.parent / "outside"
    outside.mkdir()
    (outside / "secret.yml").write_text(QUICK.replace("quick", "secret-name"))
    (jp_root_dir / "inside.yml").write_text(QUICK)
    (jp_root_dir / "link-out.yml").symlink_to(outside / "secret.yml")
    (jp_root_dir / "link-in.yml").symlink_to(jp_root_dir / "inside.yml")
    (jp_root_dir / "dir-out").symlink_to(outside, target_is_directory=True)
    code, listed = await api("GET", "pipelines")
    assert code == 200
    assert [p["path"] for p in listed] == ["inside.yml", "link-in.yml"]
    assert "secret-name" not in json.dumps(listed)
    for entry in listed:
        code, answer = await api("POST", "pipelines", "validate", body={"path": entry["path"]})
        assert (code, answer["ok"]) == (200, True)


async def test_ids_outside_the_pattern_and_unknown_paths_are_json_404(jp_fetch: Any) -> None:
    for parts in [
        ("executions", "a b"),
        ("executions", "a%2Fb", "logs"),
        ("executions", "x", "nope"),
        ("nothing-here",),
    ]:
        response = await jp_fetch("ansflow", "api", *parts, raise_error=False)
        assert response.code == 404, parts
        assert "json" in response.headers["Content-Type"]
        assert json.loads(response.body)["message"]


@pytest.mark.parametrize(
    ("route", "params", "message"),
    [
        (("executions",), {"status": ""}, "unknown status"),
        (("executions",), {"limit": ""}, "'limit' must be an integer"),
        (("executions", "x", "logs"), {"limit": "100001"}, "between 1 and 100000"),
        (("executions", "x", "logs"), {"tail": "100001"}, "between 0 and 100000"),
        (("executions", "x", "logs"), {"format": ""}, "'format'"),
    ],
)
async def test_empty_and_out_of_range_query_values_are_400(
    api: Api, route: tuple[str, ...], params: dict[str, str], message: str
) -> None:
    code, answer = await api("GET", *route, params=params)
    assert code == 400, answer
    assert message in answer["message"]


async def test_chunked_body_over_the_limit_is_413(
    api: Api, jp_http_port: int, jp_base_url: str, jp_auth_header: dict[str, str]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", jp_http_port)
    path = url_path_join(jp_base_url, "ansflow/api/executions")
    auth = "".join(f"{k}: {v}\r\n" for k, v in jp_auth_header.items())
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
    )
    chunk = b" " * 2**20
    for _ in range(5):
        writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        await writer.drain()
    writer.write(b"0\r\n\r\n")
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), 30)
    writer.close()
    assert b" 413 " in status, status
    assert await api("GET", "executions") == (200, [])
