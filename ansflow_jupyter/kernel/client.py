"""A small synchronous REST client for the ansflow server extension.

The server publishes its address to the kernels it launches through environment
variables; `discover()` finds it, or returns None so the kernel falls back to embedded
mode. Only the standard library is used: the kernel must not pay for an HTTP stack.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

import psutil

from ..errors import AnsFlowError, BadRequest, Conflict, NotFound
from ..pipeline.errors import SpecError, SpecIssue

ENV_URL = "ANSFLOW_SERVER_URL"
ENV_TOKEN = "ANSFLOW_SERVER_TOKEN"
ENV_PID = "ANSFLOW_SERVER_PID"
AUTH_SCHEME = "ansflow-kernel"


class ServerError(AnsFlowError):
    """The server could not be reached or answered something unexpected."""


class ServerClient:
    """Calls the server extension's REST API with the kernel token."""

    mode = "server"

    def __init__(self, url: str, token: str = "", *, timeout: float = 30.0):
        self.url = url if url.endswith("/") else url + "/"
        self.token = token
        self.timeout = timeout

    @property
    def base_path(self) -> str:
        """The server's base_url path (what the browser prefixes to every route)."""
        return urllib.parse.urlsplit(self.url).path or "/"

    # -- the API -------------------------------------------------------------------

    def ping(self, timeout: float) -> bool:
        """True when the server answers within `timeout` seconds."""
        try:
            self._request("GET", "executions", query={"limit": 1}, timeout=timeout)
        except (ServerError, AnsFlowError, OSError):
            return False
        return True

    def start(
        self,
        *,
        path: str | None = None,
        yaml: str | None = None,
        env: Mapping[str, str] | None = None,
        force: bool | list[str] = False,
        workflow: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Start an execution from a file (absolute path) or YAML text; its summary."""
        body: dict[str, Any] = {"path": path} if path is not None else {"yaml": yaml}
        if env:
            body["env"] = dict(env)
        if force:
            body["force"] = force
        body.update(workflow or {})
        return dict(self._request("POST", "executions", body=body, source=path))

    def snapshot(self, execution_id: str) -> dict[str, Any]:
        """The snapshot envelope of one execution."""
        return dict(self._request("GET", f"executions/{_q(execution_id)}"))

    def cancel(self, execution_id: str) -> None:
        """Ask the server to cancel an execution (kills its processes)."""
        self._request("POST", f"executions/{_q(execution_id)}/cancel")

    def rerun(self, execution_id: str, *, failed_only: bool = False) -> dict[str, Any]:
        """A new execution of the same pipeline; its summary."""
        body = {"failed_only": failed_only}
        return dict(self._request("POST", f"executions/{_q(execution_id)}/rerun", body=body))

    def list_executions(
        self, *, limit: int = 20, status: str | None = None
    ) -> list[dict[str, Any]]:
        """Recent executions, newest first."""
        query: dict[str, Any] = {"limit": limit}
        if status:
            query["status"] = status
        answer = self._request("GET", "executions", query=query)
        if isinstance(answer, Mapping):  # a paginated page: {"executions": [...], ...}
            answer = answer.get("executions", [])
        return [dict(row) for row in answer]

    def logs(
        self, execution_id: str, *, step: str | None = None, tail: int | None = None
    ) -> list[dict[str, Any]]:
        """Stored log lines (dicts with at least the line text)."""
        query = {k: v for k, v in {"step": step, "tail": tail}.items() if v is not None}
        answer = self._request("GET", f"executions/{_q(execution_id)}/logs", query=query)
        if isinstance(answer, Mapping):
            answer = answer.get("lines", [])
        return [dict(row) for row in answer]

    def artifacts(self, execution_id: str) -> list[dict[str, Any]]:
        """The files the steps of an execution collected."""
        answer = self._request("GET", f"executions/{_q(execution_id)}/artifacts")
        return [dict(row) for row in answer]

    # -- transport -----------------------------------------------------------------

    def _request(
        self,
        method: str,
        route: str,
        *,
        body: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        source: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        url = self.url + "ansflow/api/" + route
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"{AUTH_SCHEME} {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise _http_error(exc, source) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ServerError(f"ansflow server at {self.url} is unreachable: {reason}") from None
        return json.loads(raw) if raw.strip() else None


def _q(part: str) -> str:
    return urllib.parse.quote(part, safe="")


def _http_error(exc: urllib.error.HTTPError, source: str | None) -> Exception:
    """One mapping from HTTP answers to the domain errors the magics know how to show."""
    try:
        payload = json.loads(exc.read() or b"{}")
    except ValueError:
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    message = str(payload.get("message") or exc.reason or f"HTTP {exc.code}")
    errors = payload.get("errors") or []
    if exc.code == 400 and errors:
        return SpecError([_issue(e, source) for e in errors])
    if exc.code == 400:
        return BadRequest(message)
    if exc.code == 404:
        return NotFound(message)
    if exc.code == 409:
        return Conflict(message)
    return ServerError(f"ansflow server answered {exc.code}: {message}")


def _issue(raw: Any, source: str | None) -> SpecIssue:
    if not isinstance(raw, Mapping):
        return SpecIssue(str(raw), 0, 0, "", source)
    return SpecIssue(
        str(raw.get("message", "")),
        int(raw.get("line") or 0),
        int(raw.get("column") or 0),
        str(raw.get("path") or ""),
        source,
    )


def discover(timeout: float = 1.0) -> ServerClient | None:
    """The server that launched this kernel, or None (no env vars, dead pid, no answer)."""
    url = os.environ.get(ENV_URL)
    if not url:
        return None
    pid = os.environ.get(ENV_PID)
    if pid:
        try:
            alive = psutil.pid_exists(int(pid))
        except ValueError:
            alive = False
        if not alive:
            return None
    client = ServerClient(url, os.environ.get(ENV_TOKEN, ""))
    return client if client.ping(timeout) else None
