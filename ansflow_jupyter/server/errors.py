"""The one mapping from domain errors to HTTP answers: JSON `{"message", "errors"}` everywhere."""

from __future__ import annotations

from http.client import responses
from typing import Any

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
