"""Auth on every ansflow route: Jupyter's identity, the authorizer, Origin, XSRF, kernel secret."""

from __future__ import annotations

import json
import os
import re
from typing import Any

import pytest
from jupyter_server.auth.authorizer import Authorizer
from tornado import web
from tornado.httpclient import HTTPClientError
from tornado.websocket import WebSocketHandler

from ansflow_jupyter.server import discovery
from ansflow_jupyter.server.base import AnsFlowAPIHandler

METHODS = ("GET", "POST", "DELETE", "PUT", "PATCH")


def ansflow_routes(serverapp: Any) -> list[tuple[str, type[web.RequestHandler]]]:
    """(path regex, handler class) of every ansflow route the running app serves."""
    found: list[tuple[str, type[web.RequestHandler]]] = []

    def walk(router: Any) -> None:
        for rule in getattr(router, "rules", []):
            target = rule.target
            if hasattr(target, "rules"):
                walk(target)
            elif isinstance(target, type) and target.__module__.startswith(
                "ansflow_jupyter.server"
            ):
                found.append((rule.matcher.regex.pattern, target))

    walk(serverapp.web_app.default_router)
    return found


def methods_of(handler: type[web.RequestHandler]) -> list[str]:
    """HTTP verbs the handler itself implements (OPTIONS is Jupyter's CORS preflight)."""
    return [
        m
        for m in METHODS
        if getattr(handler, m.lower()) is not getattr(web.RequestHandler, m.lower())
    ]


def concrete(pattern: str, base_url: str) -> list[str]:
    """A request path for a route regex, relative to base_url (ids filled in)."""
    path = re.sub(r"\(\?P<\w+>[^)]*\)", "some-id", pattern).rstrip("$")
    path = path.replace(".*", "no-such-route")  # the JSON 404 catch-all
    path = path.replace("\\", "")
    assert path.startswith(base_url), (path, base_url)
    return [part for part in path[len(base_url) :].split("/") if part]


async def test_every_route_refuses_without_credentials(
    jp_serverapp: Any, jp_fetch: Any, jp_ws_fetch: Any, jp_base_url: str
) -> None:
    routes = ansflow_routes(jp_serverapp)
    assert len(routes) == 14
    checked = 0
    for pattern, handler in routes:
        parts = concrete(pattern, jp_base_url)
        if issubclass(handler, WebSocketHandler):
            with pytest.raises(HTTPClientError) as info:
                await jp_ws_fetch(*parts, headers={"Authorization": ""})
            assert info.value.code in (401, 403), pattern
            checked += 1
            continue
        for method in methods_of(handler):
            body = "{}" if method in ("POST", "PUT", "PATCH") else None
            response = await jp_fetch(
                *parts,
                method=method,
                body=body,
                headers={"Authorization": ""},
                raise_error=False,
            )
            assert response.code in (401, 403), (method, pattern, response.code)
            assert "message" in json.loads(response.body)
            checked += 1
    assert checked == 20


class DenyAnsFlow(Authorizer):  # type: ignore[misc]
    """Allows everything except the ansflow resource."""

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        """No ansflow for anyone."""
        return resource != "ansflow"


class DenyCancel(Authorizer):  # type: ignore[misc]
    """Read-only ansflow: no execute."""

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        """Anything but executing on ansflow."""
        return not (resource == "ansflow" and action == "execute")


@pytest.mark.parametrize(
    "jp_server_config",
    [
        {
            "ServerApp": {
                "jpserver_extensions": {"ansflow_jupyter": True},
                "authorizer_class": DenyAnsFlow,
            }
        }
    ],
)
async def test_authorizer_denying_ansflow_gets_403(
    jp_serverapp: Any, jp_fetch: Any, jp_ws_fetch: Any, jp_base_url: str, tmp_path: Any
) -> None:
    for pattern, handler in ansflow_routes(jp_serverapp):
        parts = concrete(pattern, jp_base_url)
        if issubclass(handler, WebSocketHandler):
            with pytest.raises(HTTPClientError) as info:
                await jp_ws_fetch(*parts)
            assert info.value.code == 403
            continue
        for method in methods_of(handler):
            body = "{}" if method in ("POST", "PUT", "PATCH") else None
            response = await jp_fetch(*parts, method=method, body=body, raise_error=False)
            assert response.code == 403, (method, pattern)
    # Other Jupyter resources are still allowed: the denial is scoped.
    assert (await jp_fetch("api", "contents")).code == 200


@pytest.fixture
def jp_server_config(ansflow_db_url: str) -> dict[str, Any]:
    """Module default: the extension on a tmp store (parametrized tests override it)."""
    return {
        "ServerApp": {"jpserver_extensions": {"ansflow_jupyter": True}},
        "AnsFlowApp": {"db_url": ansflow_db_url},
    }


@pytest.mark.parametrize(
    "jp_server_config",
    [
        {
            "ServerApp": {
                "jpserver_extensions": {"ansflow_jupyter": True},
                "authorizer_class": DenyCancel,
            }
        }
    ],
)
async def test_ws_cancel_needs_execute_permission(jp_fetch: Any, jp_ws_fetch: Any) -> None:
    ws = await jp_ws_fetch("ansflow", "ws", "executions", "unknown")
    assert await ws.read_message() is None  # reading is allowed: 4004 for an unknown id
    assert ws.close_code == 4004
    response = await jp_fetch(
        "ansflow",
        "api",
        "executions",
        method="POST",
        body=json.dumps({"yaml": "x"}),
        raise_error=False,
    )
    assert response.code == 403


async def login_cookie(jp_ws_fetch: Any) -> str:
    """The login cookie Jupyter sets on a token-authenticated request."""
    ws = await jp_ws_fetch("ansflow", "ws", "executions")
    cookies = ws.headers.get_list("Set-Cookie")
    ws.close()
    assert cookies
    return "; ".join(c.split(";")[0] for c in cookies)


async def test_cross_origin_cookie_websocket_is_refused(jp_ws_fetch: Any) -> None:
    cookie = await login_cookie(jp_ws_fetch)
    same = await jp_ws_fetch(
        "ansflow",
        "ws",
        "executions",
        headers={
            "Authorization": "",
            "Cookie": cookie,
        },
    )
    assert json.loads(await same.read_message())[0]["type"] == "snapshot"
    same.close()
    with pytest.raises(HTTPClientError) as info:
        await jp_ws_fetch(
            "ansflow",
            "ws",
            "executions",
            headers={
                "Authorization": "",
                "Cookie": cookie,
                "Origin": "http://evil.example",
            },
        )
    assert info.value.code == 403


async def test_cookie_post_without_xsrf_is_refused(
    jp_ws_fetch: Any, jp_fetch: Any, jp_http_port: int
) -> None:
    cookie = await login_cookie(jp_ws_fetch)
    # The login cookie is named after the host the WebSocket used (localhost:port).
    headers = {"Authorization": "", "Cookie": cookie, "Host": f"localhost:{jp_http_port}"}
    ok = await jp_fetch("ansflow", "api", "executions", headers=headers)
    assert ok.code == 200  # the cookie alone authenticates reads
    response = await jp_fetch(
        "ansflow",
        "api",
        "pipelines",
        "validate",
        method="POST",
        body=json.dumps({"yaml": "name: x\nsteps: {a: {run: 'true'}}\n"}),
        headers=headers,
        raise_error=False,
    )
    assert response.code == 403
    assert "XSRF" in json.loads(response.body)["message"].upper()


async def test_kernel_secret_works_on_ansflow_routes_only(
    jp_serverapp: Any, jp_fetch: Any, jp_ws_fetch: Any, jp_http_port: int, jp_base_url: str
) -> None:
    secret = os.environ[discovery.ENV_TOKEN]
    assert os.environ[discovery.ENV_URL] == f"http://127.0.0.1:{jp_http_port}{jp_base_url}"
    assert os.environ[discovery.ENV_PID] == str(os.getpid())
    assert jp_serverapp.web_app.settings["ansflow_kernel_secret"] == secret
    kernel = {"Authorization": f"ansflow-kernel {secret}"}
    response = await jp_fetch("ansflow", "api", "executions", headers=kernel)
    assert response.code == 200
    # A header credential needs no XSRF cookie for POSTs.
    response = await jp_fetch(
        "ansflow",
        "api",
        "pipelines",
        "validate",
        method="POST",
        body=json.dumps({"yaml": "name: x\nsteps: {a: {run: 'true'}}\n"}),
        headers=kernel,
    )
    assert json.loads(response.body)["ok"] is True
    ws = await jp_ws_fetch("ansflow", "ws", "executions", headers=kernel)
    assert json.loads(await ws.read_message())[0]["type"] == "snapshot"
    ws.close()
    # Everywhere else the secret is nothing.
    response = await jp_fetch("api", "contents", headers=kernel, raise_error=False)
    assert response.code in (401, 403)
    wrong = {"Authorization": f"ansflow-kernel {secret[:-2]}xx"}
    response = await jp_fetch("ansflow", "api", "executions", headers=wrong, raise_error=False)
    assert response.code in (401, 403)


def test_base_handler_is_shared() -> None:
    from ansflow_jupyter.server import handlers, ws

    for _, handler in handlers.default_handlers:
        assert issubclass(handler, AnsFlowAPIHandler)
        assert handler.auth_resource == handlers.AUTH_RESOURCE == "ansflow"
    for _, socket in ws.default_handlers:
        assert socket.auth_resource == ws.AUTH_RESOURCE == "ansflow"
