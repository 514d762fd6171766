"""REST handlers of artifacts: the list of an execution's files and the download of one.

Artifacts are served from the Jupyter origin, so a file must never run as a page of it:
every download is `X-Content-Type-Options: nosniff` and `Content-Security-Policy:
sandbox` (no scripts, no same-origin), and HTML/SVG/XML are never inline without that
policy. Range requests let views and tools read big files piecewise.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import IO
from urllib.parse import quote

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

from ..errors import BadRequest
from .handlers import ID, _Handler

STEP = r"(?P<step_id>[^/]+)"
PATH = r"(?P<path>.+)"
CHUNK = 1 << 20
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
#: Shown as pages by browsers: only ever as attachments or under the sandbox policy.
ACTIVE_TYPES = (
    "text/html",
    "image/svg+xml",
    "application/xhtml+xml",
    "text/xml",
    "application/xml",
)


class ArtifactsHandler(_Handler):
    """GET executions/{id}/artifacts: every collected file of an execution."""

    @web.authenticated
    @authorized
    async def get(self, execution_id: str) -> None:
        """`[{step_id, path, size, sha256, media_type, url}]` in step then path order."""
        rows = await self.manager.artifacts(execution_id)
        base = url_path_join(self.base_url, "ansflow/api/executions", execution_id, "artifacts")
        for row in rows:
            row["url"] = url_path_join(base, quote(row["step_id"], safe=""), quote(row["path"]))
        self.finish(json.dumps(rows))


class ArtifactHandler(_Handler):
    """GET executions/{id}/artifacts/{step}/{path}: one file, with range requests."""

    @property
    def content_security_policy(self) -> str:
        """Sandboxed: an HTML or SVG artifact runs no script and gets an opaque origin."""
        return "; ".join(
            [
                JupyterHandler.content_security_policy.fget(self),  # type: ignore[attr-defined]
                "sandbox",
                "default-src 'none'",
                "style-src 'unsafe-inline'",
                "img-src data:",
            ]
        )

    @web.authenticated
    @authorized
    async def get(self, execution_id: str, step_id: str, path: str) -> None:
        """The file's bytes with its media type; `?download=1` forces an attachment."""
        row = await self.manager.artifact(execution_id, step_id, path)
        size = int(row["size"])
        media = str(row["media_type"])
        etag = f'"{row["sha256"]}"'
        self.set_header("Content-Type", media)  # before the first flush sends the headers
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Accept-Ranges", "bytes")
        self.set_header("ETag", etag)
        self.set_header("Cache-Control", "private, max-age=3600")
        name = path.rsplit("/", 1)[-1]
        attach = self.get_query_argument("download", "") not in ("", "0", "false")
        kind = "attachment" if attach else "inline"
        self.set_header("Content-Disposition", f"{kind}; filename*=UTF-8''{quote(name)}")
        if self.request.headers.get("If-None-Match") == etag:
            self.set_status(304)
            self.finish(set_content_type=media)
            return
        start, end = self._range(size)
        if (start, end) != (0, size):
            self.set_status(206)
            self.set_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
        self.set_header("Content-Length", str(end - start))
        blob = await asyncio.to_thread(self.manager.data.blobs.open, row["sha256"])
        try:
            await asyncio.to_thread(blob.seek, start)
            remaining = end - start
            while remaining > 0:
                chunk = await asyncio.to_thread(_read, blob, min(CHUNK, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                self.write(chunk)
                await self.flush()
        finally:
            await asyncio.to_thread(blob.close)
        self.finish(set_content_type=media)

    def _range(self, size: int) -> tuple[int, int]:
        """[start, end) of the `Range` header (the whole file without one); 416 when
        unsatisfiable. Several ranges are answered with the whole file (allowed)."""
        raw = self.request.headers.get("Range")
        if not raw or "," in raw:
            return 0, size
        match = _RANGE.match(raw.strip())
        if match is None or match.groups() == ("", ""):
            raise BadRequest(f"bad Range header {raw!r} (expected bytes=START-END)")
        first, last = match.groups()
        if first == "":  # the last N bytes
            start, end = max(0, size - int(last)), size
        else:
            start = int(first)
            end = min(size, int(last) + 1) if last else size
        if start >= size or start >= end:
            self.set_header("Content-Range", f"bytes */{size}")
            raise web.HTTPError(416, f"range {raw!r} is outside the file ({size} bytes)")
        return start, end


def _read(blob: IO[bytes], n: int) -> bytes:
    return blob.read(n)


default_handlers: list[tuple[str, type[_Handler]]] = [
    (rf"/ansflow/api/executions/{ID}/artifacts", ArtifactsHandler),
    (rf"/ansflow/api/executions/{ID}/artifacts/{STEP}/{PATH}", ArtifactHandler),
]
