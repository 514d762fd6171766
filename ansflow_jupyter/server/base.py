"""The base of every ansflow REST handler: kernel credential, bounded bodies, JSON errors."""

from __future__ import annotations

import asyncio
import json
from http.client import responses
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

from .bodies import MAX_BODY_BYTES, parse_body
from .discovery import KernelAuthMixin
from .errors import http_error, is_expected

#: settings key holding why the extension could not start (its routes then answer 503).
UNAVAILABLE = "ansflow_unavailable"


def unavailable_error(settings: dict[str, Any]) -> web.HTTPError | None:
    """The 503 every ansflow route answers when the extension could not start."""
    reason = settings.get(UNAVAILABLE)
    if reason is None:
        return None
    return web.HTTPError(503, "ansflow is unavailable: %s", reason)


@web.stream_request_body
class AnsFlowAPIHandler(KernelAuthMixin, APIHandler):
    """Base of every ansflow REST handler: kernel credential, JSON errors, the manager.

    Bodies are streamed so that an oversized one is refused (413) from its
    Content-Length before a byte of it is buffered, and parsed off the event loop."""

    _body: bytearray
    _body_too_big: bool

    async def prepare(self) -> None:  # type: ignore[override]
        """Refuse oversized bodies, authenticate, then 503 if the extension is down."""
        self._body, self._body_too_big = bytearray(), False
        length = self.request.headers.get("Content-Length")
        if length is not None and length.strip().isdigit() and int(length) > MAX_BODY_BYTES:
            raise web.HTTPError(413, "request body is larger than %d bytes", MAX_BODY_BYTES)
        await super().prepare()
        error = unavailable_error(self.settings)
        if error is not None and self.current_user is not None:
            raise error

    def data_received(self, chunk: bytes) -> None:
        """Buffer the body up to the limit (a chunked body has no Content-Length)."""
        if self._finished or self._body_too_big:
            return
        if len(self._body) + len(chunk) > MAX_BODY_BYTES:
            self._body_too_big = True
            self._body = bytearray()
            return
        self._body.extend(chunk)

    async def json_body(self, *allowed: str) -> dict[str, Any]:
        """The JSON object body with only `allowed` fields (parsed on a worker thread)."""
        if self._body_too_big:
            raise web.HTTPError(413, "request body is larger than %d bytes", MAX_BODY_BYTES)
        raw = bytes(self._body)
        if len(raw) < 4096:
            return parse_body(raw, allowed)
        return await asyncio.to_thread(parse_body, raw, allowed)

    @property
    def manager(self) -> Any:
        """The ExecutionManager the extension app created."""
        return self.settings["ansflow_manager"]

    @property
    def root_dir(self) -> str:
        """The server's root dir: pipeline paths resolve inside it."""
        return str(self.settings["server_root_dir"])

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Every error is JSON `{"message": ..., "errors": [...]}` with the mapped status."""
        exc_info = kwargs.get("exc_info")
        if exc_info and exc_info[1] is not None:
            status_code, body = http_error(exc_info[1])
        else:
            body = {"message": responses.get(status_code, "error"), "errors": []}
        self.set_status(status_code)
        self.set_header("Content-Type", "application/json")
        if status_code == 405:
            self.set_header("Allow", ", ".join(self.allowed_methods()))
        self.finish(json.dumps(body))

    @classmethod
    def allowed_methods(cls) -> list[str]:
        """The HTTP verbs this handler implements."""
        verbs = ("GET", "POST", "PUT", "PATCH", "DELETE")
        base = web.RequestHandler
        return [v for v in verbs if getattr(cls, v.lower()) is not getattr(base, v.lower())]

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """Client errors are one log line; only real bugs get a traceback."""
        if value is not None and is_expected(value):
            status, body = http_error(value)
            self.log.info(
                "%s %s -> %s %s", self.request.method, self.request.path, status, body["message"]
            )
            return
        super().log_exception(typ, value, tb)


class NotFoundHandler(AnsFlowAPIHandler):
    """Any other path under `ansflow/api/` (ids outside the route pattern too): JSON 404."""

    auth_resource = "ansflow"

    @web.authenticated
    @authorized
    def _not_found(self, *args: Any) -> None:
        raise web.HTTPError(404, "no such ansflow route: %s", self.request.path)

    get = post = delete = put = patch = _not_found
