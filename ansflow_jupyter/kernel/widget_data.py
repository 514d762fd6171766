"""Embedded mode: the view's artifact and summary requests, answered over widget messages.

Without the Jupyter server extension there is no REST API, so the view sends
`{"type": "data", "id", "op", ...}` and gets one `{"type": "data_reply", "id", ...}`
back. File bytes travel as a message buffer, at most MAX_CHUNK_BYTES per message: the
view asks for the next piece itself, so a big file never becomes one huge IOPub message
and a preview reads only the bytes it needs. Only the execution the widget shows is
served, and only files recorded as that execution's artifacts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from ..errors import NotFound

__all__ = ["ARTIFACT_URL_PREFIX", "MAX_CHUNK_BYTES", "DataRequestHandler"]

log = logging.getLogger(__name__)

#: One reply carries at most this many file bytes (well under IOPub's message limits).
MAX_CHUNK_BYTES = 8 * 1024 * 1024
#: The `url` of an artifact row in embedded mode: the view hands it back to `read`.
ARTIFACT_URL_PREFIX = "ansflow-kernel:"

Reply = tuple[dict[str, Any], list[bytes]]


class RequestError(Exception):
    """A request the handler refuses; its message goes back to the view."""


def artifact_url(execution_id: str, step_id: str, path: str) -> str:
    """The opaque address of one artifact in embedded mode."""
    parts = (quote(execution_id, safe=""), quote(step_id, safe=""), quote(path, safe="/"))
    return ARTIFACT_URL_PREFIX + "/".join(parts)


class DataRequestHandler:
    """Answers `data` requests from the store and artifact blobs of an embedded runtime."""

    def __init__(self, runtime: Any, allowed: Callable[[], str]) -> None:
        #: An EmbeddedRuntime (its manager, on its private loop).
        self.runtime = runtime
        #: The execution the widget shows now: requests for any other are refused.
        self.allowed = allowed

    def __call__(self, request: Mapping[str, Any]) -> Reply:
        """The reply (content, buffers) to one request; errors become `ok: false`."""
        rid = request.get("id")
        try:
            result, buffers = self._answer(request)
        except (RequestError, NotFound) as exc:
            return {"type": "data_reply", "id": rid, "ok": False, "error": str(exc)}, []
        except Exception as exc:  # a store failure: the view shows it, the kernel stays up
            log.warning("ansflow: data request failed: %s", exc)
            return {"type": "data_reply", "id": rid, "ok": False, "error": str(exc)}, []
        return {"type": "data_reply", "id": rid, "ok": True, **result}, buffers

    def _answer(self, request: Mapping[str, Any]) -> Reply:
        execution_id = _text(request, "execution_id")
        if not execution_id or execution_id != self.allowed():
            raise RequestError(f"execution {execution_id!r} is not the one this view shows")
        op = request.get("op")
        manager = self.runtime.manager
        if op == "artifacts":
            rows = self.runtime.call(manager.artifacts(execution_id))
            for row in rows:
                row["url"] = artifact_url(execution_id, row["step_id"], row["path"])
            return {"artifacts": rows}, []
        if op == "summary":
            step_id = _text(request, "step_id")
            rows = self.runtime.call(manager.summaries(execution_id, step_id or None))
            text = "\n\n".join(str(r["markdown"]) for r in rows if r["step_id"] == step_id)
            return {"markdown": text}, []
        if op == "read":
            return self._read(execution_id, request)
        raise RequestError(f"unknown request {op!r} (expected artifacts, summary or read)")

    def _read(self, execution_id: str, request: Mapping[str, Any]) -> Reply:
        step_id, path = _text(request, "step_id"), _text(request, "path")
        # Only a recorded artifact of this execution: never a file of the kernel's disk.
        row = self.runtime.call(self.runtime.manager.artifact(execution_id, step_id, path))
        size = int(row["size"])
        offset = _count(request, "offset", 0)
        length = min(_count(request, "length", MAX_CHUNK_BYTES), MAX_CHUNK_BYTES)
        end = min(size, offset + length)
        data = b""
        if offset < end:
            with self.runtime.manager.data.blobs.open(row["sha256"]) as blob:
                blob.seek(offset)
                data = blob.read(end - offset)
        media = str(row.get("media_type") or "application/octet-stream")
        reply = {"size": size, "offset": offset, "length": len(data), "media_type": media}
        return reply, [data]


def _text(request: Mapping[str, Any], key: str) -> str:
    value = request.get(key, "")
    if not isinstance(value, str):
        raise RequestError(f"{key} must be a string")
    return value


def _count(request: Mapping[str, Any], key: str, default: int) -> int:
    value = request.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise RequestError(f"{key} must be a whole number ≥ 0")
    return value
