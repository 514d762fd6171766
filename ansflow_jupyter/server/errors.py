"""The one mapping from domain errors to HTTP answers: JSON `{"message", "errors"}` everywhere."""

from __future__ import annotations

import json
from http.client import responses
from typing import Any

from jupyter_server.base.handlers import APIHandler
from tornado import web

from ..errors import (
    AnsFlowError,
    BadRequest,
    Conflict,
    NotFound,
    SpecError,
    StoreError,
    Unavailable,
)
from .discovery import KernelAuthMixin
from .paths import OutsideRoot

#: Most specific first: OutsideRoot is a BadRequest answered 403.
_STATUS: tuple[tuple[type[AnsFlowError], int], ...] = (
    (OutsideRoot, 403),
    (BadRequest, 400),
    (NotFound, 404),
    (Conflict, 409),
    (StoreError, 503),
    (Unavailable, 503),
)


def http_error(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """Status code and JSON body for an exception raised by a handler."""
    if isinstance(exc, SpecError):
        return 400, {
            "message": "invalid pipeline",
            "errors": [issue.to_dict() for issue in exc.issues],
        }
    for klass, status in _STATUS:
        if isinstance(exc, klass):
            return status, {"message": str(exc) or responses.get(status, ""), "errors": []}
    if isinstance(exc, web.HTTPError):
        message = exc.log_message % exc.args if exc.log_message and exc.args else exc.log_message
        status = exc.status_code
        return status, {"message": message or exc.reason or responses.get(status, ""), "errors": []}
    return 500, {"message": "internal server error", "errors": []}


def is_expected(exc: BaseException) -> bool:
    """Errors a client caused (logged briefly, without a traceback)."""
    return isinstance(exc, (AnsFlowError, SpecError, web.HTTPError))


class AnsFlowAPIHandler(KernelAuthMixin, APIHandler):
    """Base of every ansflow REST handler: kernel credential, JSON errors, the manager."""

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
        self.finish(json.dumps(body))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """Client errors are one log line; only real bugs get a traceback."""
        if value is not None and is_expected(value):
            status, body = http_error(value)
            self.log.info(
                "%s %s -> %s %s", self.request.method, self.request.path, status, body["message"]
            )
            return
        super().log_exception(typ, value, tb)
