"""Who runs a pipeline for the kernel: the server extension, or the kernel itself."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol


class Runner(Protocol):
    """The synchronous API shared by `ServerClient` and `EmbeddedRuntime`."""

    @property
    def mode(self) -> Literal["server", "embedded"] | str:
        """Either "server" or "embedded"."""

    def start(
        self,
        *,
        path: str | None = None,
        yaml: str | None = None,
        env: Mapping[str, str] | None = None,
        force: bool | list[str] = False,
        workflow: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Start an execution; its summary (with `execution_id`). `force` bypasses the
        step cache (True: every step; a list: those step ids); `workflow` holds a workflow
        file's `job`, `event`, `inputs`, `strict` (as the REST start request names them)."""

    def snapshot(self, execution_id: str) -> dict[str, Any]:
        """The snapshot envelope."""

    def cancel(self, execution_id: str) -> None:
        """Cancel an execution."""

    def rerun(self, execution_id: str, *, failed_only: bool = False) -> dict[str, Any]:
        """A new execution of the same pipeline."""

    def list_executions(
        self, *, limit: int = 20, status: str | None = None
    ) -> list[dict[str, Any]]:
        """Recent executions, newest first."""

    def logs(
        self, execution_id: str, *, step: str | None = None, tail: int | None = None
    ) -> list[dict[str, Any]]:
        """Stored log lines."""

    def artifacts(self, execution_id: str) -> list[dict[str, Any]]:
        """The files the steps collected: `{step_id, path, size, sha256, media_type}`."""


def get_runner(embedded: bool | None = None) -> Runner:
    """`embedded=None` picks the server when this kernel was launched by one."""
    from .client import discover
    from .embedded import get_runtime

    if not embedded:
        client = discover()
        if client is not None:
            return client
        if embedded is False:
            from .client import ServerError

            raise ServerError("no ansflow server found for this kernel (run it with --embedded)")
    return get_runtime()
