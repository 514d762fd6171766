"""REST handlers under `{base_url}ansflow/api/`: parse, call the manager, answer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import url_path_join
from tornado import web

from .. import run_options
from ..errors import BadRequest
from ..events import ExecutionStatus
from .base import AnsFlowAPIHandler, NotFoundHandler
from .paths import resolve_in_root, scan_pipelines

AUTH_RESOURCE = "ansflow"
F = TypeVar("F", bound=Callable[..., Any])
ID = r"(?P<execution_id>[A-Za-z0-9_.\-]+)"
MAX_LIMIT = 100_000


def _authorized_to(action: str) -> Callable[[F], F]:
    """`@authorized(action)` with a type (jupyter_server's decorator factory has none)."""
    return cast(Callable[[F], F], authorized(action))


class _Handler(AnsFlowAPIHandler):
    """Request parsing shared by the REST handlers."""

    auth_resource = AUTH_RESOURCE

    def int_arg(self, name: str, minimum: int, maximum: int = MAX_LIMIT) -> int | None:
        """An optional integer query argument within [minimum, maximum]."""
        raw = self.get_query_argument(name, None)
        if raw is None:
            return None
        try:
            value = int(raw)
        except ValueError:
            raise BadRequest(f"'{name}' must be an integer, got {raw!r}") from None
        if not minimum <= value <= maximum:
            raise BadRequest(f"'{name}' must be between {minimum} and {maximum}")
        return value

    def str_arg(self, name: str) -> str | None:
        """An optional string query argument (empty means absent)."""
        return self.get_query_argument(name, None) or None

    def source(self, body: dict[str, Any]) -> dict[str, str]:
        """`{path: real path}` or `{yaml: text}`: exactly one, paths inside the root dir."""
        if ("path" in body) == ("yaml" in body):
            raise BadRequest("give exactly one of 'path' or 'yaml'")
        if "path" in body:
            return {"path": str(resolve_in_root(self.root_dir, body["path"]))}
        return {"yaml": body["yaml"]}

    def execution_url(self, execution_id: str) -> str:
        """Where a new execution can be read."""
        return url_path_join(self.base_url, "ansflow/api/executions", execution_id)

    def created(self, execution: dict[str, Any]) -> None:
        """Answer 201 with the new execution and its Location."""
        self.set_status(201)
        self.set_header("Location", self.execution_url(execution["execution_id"]))
        self.finish(json.dumps(execution))


class PipelinesHandler(_Handler):
    """GET pipelines: pipeline files found under the server's root dir."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """List `{path, name, steps}` of every pipeline file (bounded scan, off the loop)."""
        found = await scan_pipelines(self.root_dir)
        self.finish(json.dumps(found))


class ValidateHandler(_Handler):
    """POST pipelines/validate: every problem of a pipeline, without running anything."""

    @web.authenticated
    @_authorized_to("read")
    async def post(self) -> None:
        """Answer `{ok, errors: [{message, line, column, path}]}`."""
        source = self.source(await self.json_body("path", "yaml"))
        issues = await asyncio.to_thread(lambda: self.manager.validate(**source))
        errors = [issue.to_dict() for issue in issues]
        self.finish(json.dumps({"ok": not errors, "errors": errors}))


class ExecutionsHandler(_Handler):
    """GET executions (newest first) and POST executions (start one)."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """List executions; `before` is the id of the last one of the previous page."""
        status = self.get_query_argument("status", None)
        if status is not None and status not in {s.value for s in ExecutionStatus}:
            raise BadRequest(f"unknown status {status!r}")
        limit = self.int_arg("limit", 1, 1_000) or 50
        executions = await self.manager.list(
            status=status,
            pipeline=self.str_arg("pipeline"),
            limit=limit,
            before=self.str_arg("before"),
        )
        self.finish(json.dumps(executions))

    @web.authenticated
    @_authorized_to("execute")
    async def post(self) -> None:
        """Start a pipeline from `{path}` or `{yaml}` (+ env, max_parallel, force; for a
        workflow file job, event, inputs, strict); 201."""
        body = await self.json_body(
            "path", "yaml", "env", "max_parallel", "force", *run_options.WORKFLOW_FIELDS
        )
        source = self.source(body)
        env = body.get("env")
        workflow = run_options.workflow_from_body(body)
        # YAML text has no folder of its own: its working directories resolve in root_dir.
        spec = await asyncio.to_thread(
            lambda: self.manager.load(
                **source, env=env, base_dir=Path(self.root_dir), workflow=workflow
            )
        )
        execution = await self.manager.start(
            spec,
            env=env,
            max_parallel=body.get("max_parallel"),
            force=body.get("force", False),
            workflow=workflow,
        )
        self.created(execution)


class ExecutionHandler(_Handler):
    """GET executions/{id} (the snapshot) and DELETE executions/{id}."""

    @web.authenticated
    @authorized
    async def get(self, execution_id: str) -> None:
        """The snapshot envelope of one execution."""
        snapshot = await self.manager.snapshot(execution_id)
        self.finish(json.dumps(snapshot.to_dict()))

    @web.authenticated
    @authorized
    async def delete(self, execution_id: str) -> None:
        """Remove a finished execution with its events and logs; 409 while it runs."""
        await self.manager.delete(execution_id)
        self.set_status(204)
        self.finish()


class CancelHandler(_Handler):
    """POST executions/{id}/cancel."""

    @web.authenticated
    @_authorized_to("execute")
    async def post(self, execution_id: str) -> None:
        """Kill every process of every running step; 202."""
        await self.manager.cancel(execution_id)
        self.set_status(202)
        self.finish(json.dumps({"execution_id": execution_id}))


class RerunHandler(_Handler):
    """POST executions/{id}/rerun."""

    @web.authenticated
    @_authorized_to("execute")
    async def post(self, execution_id: str) -> None:
        """A new execution of the same pipeline; `failed_only` reuses what succeeded; 201."""
        body = await self.json_body("failed_only", "force")
        execution = await self.manager.rerun(
            execution_id,
            failed_only=body.get("failed_only", False),
            base_dir=Path(self.root_dir),
            force=body.get("force", False),
        )
        self.created(execution)


class LogsHandler(_Handler):
    """GET executions/{id}/logs: JSON lines, or `?format=text` as a streamed download."""

    @web.authenticated
    @authorized
    async def get(self, execution_id: str) -> None:
        """Stored log lines filtered by step, offset/limit or tail, and a substring q."""
        fmt = self.get_query_argument("format", "json")
        if fmt not in ("json", "text"):
            raise BadRequest("'format' must be 'json' or 'text'")
        query: dict[str, Any] = {
            "step": self.str_arg("step"),
            "offset": self.int_arg("offset", 0, 2**62) or 0,
            "limit": self.int_arg("limit", 1),
            "tail": self.int_arg("tail", 0),
            "q": self.str_arg("q"),
        }
        if fmt == "text":
            await self.write_text(execution_id, query)
            return
        # count=1 adds the exact number of matching lines in the whole log (not the page).
        total: int | None = None
        if self.int_arg("count", 0, 1) == 1:
            lines, total = await self.manager.log_search(execution_id, **query)
        else:
            lines = await self.manager.logs(execution_id, **query)
        body: dict[str, Any] = {
            "execution_id": execution_id,
            "lines": lines,
            "next_offset": _next(query, lines),
        }
        if total is not None:
            body["total"] = total
        self.finish(json.dumps(body))

    async def write_text(self, execution_id: str, query: dict[str, Any]) -> None:
        """Stream the lines in one pass, a chunk per flush: big logs never sit in memory.

        Without `step` each line is prefixed by its step; ANSI escapes are stripped
        unless `raw=1`."""
        raw = self.int_arg("raw", 0, 1) == 1
        chunks = self.manager.log_text(
            execution_id, prefix=query["step"] is None, strip=not raw, **query
        )
        try:
            first = await anext(chunks, "")  # a NotFound is still a JSON 404 here
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.set_header(
                "Content-Disposition", f'attachment; filename="ansflow-{execution_id}.log"'
            )
            chunk: str | None = first
            while chunk:
                self.write(chunk)
                await self.flush()
                chunk = await anext(chunks, None)
        finally:
            await chunks.aclose()
        self.finish()


def _next(query: dict[str, Any], lines: list[dict[str, Any]]) -> int | None:
    """The `offset` that continues after these lines (None when there is no such position)."""
    if query["step"] is not None:
        return int(lines[-1]["offset"]) + 1 if lines else int(query["offset"])
    if query["q"] or query["tail"] is not None:
        return None
    return int(query["offset"]) + len(lines)


class SummaryHandler(_Handler):
    """GET executions/{id}/summary?step=: the steps' Markdown summaries."""

    @web.authenticated
    @authorized
    async def get(self, execution_id: str) -> None:
        """`{execution_id, summaries: [{step_id, attempt, markdown}]}`, one step with `step`."""
        summaries = await self.manager.summaries(execution_id, self.str_arg("step"))
        self.finish(json.dumps({"execution_id": execution_id, "summaries": summaries}))


class StatsHandler(_Handler):
    """GET stats?pipeline=."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """Runs, success rate, p50/p95 duration and recent durations."""
        stats = await self.manager.stats(self.str_arg("pipeline"))
        self.finish(json.dumps(stats))


default_handlers: list[tuple[str, type[AnsFlowAPIHandler]]] = [
    (r"/ansflow/api/pipelines", PipelinesHandler),
    (r"/ansflow/api/pipelines/validate", ValidateHandler),
    (r"/ansflow/api/executions", ExecutionsHandler),
    (rf"/ansflow/api/executions/{ID}", ExecutionHandler),
    (rf"/ansflow/api/executions/{ID}/cancel", CancelHandler),
    (rf"/ansflow/api/executions/{ID}/rerun", RerunHandler),
    (rf"/ansflow/api/executions/{ID}/logs", LogsHandler),
    (rf"/ansflow/api/executions/{ID}/summary", SummaryHandler),
    (r"/ansflow/api/stats", StatsHandler),
    (r"/ansflow/api/.*", NotFoundHandler),  # last: JSON 404 for every other path
]
