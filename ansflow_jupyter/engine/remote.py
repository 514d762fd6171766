"""Artifacts of steps that run on other machines (Dask): they travel through the store.

The engine's machine may not see a worker's files, so for such backends the worker does
the file work itself, around the step's process: it copies the needs' artifacts from the
artifact store into a staging folder (`$ANSFLOW_ARTIFACTS`) before, and after the process
ends it finds the declared files and uploads them, sending back only their list (path,
size, sha256, media type). Big files never pass through the scheduler.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Callable
from typing import Any

from ..data import BlobAccess
from ..pipeline.spec import ArtifactsSpec
from . import artifacts, jobbox
from .backend import Backend, OutputHandler, StepLaunch, StepProcess


@dataclasses.dataclass(frozen=True, slots=True)
class RemoteFiles:
    """What the worker does with files around one attempt (pickled into the task)."""

    blobs: BlobAccess
    stage: tuple[tuple[str, str], ...] = ()  # (path under $ANSFLOW_ARTIFACTS, sha256)
    folders: tuple[str, ...] = ()  # one per need, present even when empty
    collect: ArtifactsSpec | None = None
    box: dict[str, Any] | None = None  # a workflow job: jobbox.open_box's needs/entries/max_bytes


def prepare(files: RemoteFiles) -> tuple[dict[str, str], str | None]:
    """On the worker, before the process: (env additions, staging folder)."""
    if files.box is not None:
        folder = tempfile.mkdtemp(prefix="ansflow-job-")
        return jobbox.open_box(folder, files.blobs, **files.box), folder
    if not files.folders:
        return {}, None
    folder = tempfile.mkdtemp(prefix="ansflow-artifacts-")
    for sub in files.folders:
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
    for rel, sha in files.stage:
        dest = os.path.join(folder, *rel.split("/"))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        files.blobs.materialize(sha, dest)
        os.chmod(dest, 0o444)
    return {"ANSFLOW_ARTIFACTS": folder}, folder


def finish(files: RemoteFiles, cwd: str, folder: str | None) -> dict[str, Any]:
    """On the worker, after the process: upload the declared files; their list, or an error."""
    if files.box is not None:
        result = jobbox.close_box(folder) if folder is not None else {}
        if folder is not None:
            artifacts.remove_tree(folder)
        return result
    if folder is not None:
        artifacts.remove_tree(folder)
    if files.collect is None:
        return {}
    try:
        found = artifacts.find(cwd, files.collect)
    except artifacts.ArtifactError as exc:
        return {"error": str(exc)}
    except OSError as exc:
        return {"error": f"artifacts: cannot read: {exc}"}
    try:
        stored = artifacts.store(found, files.blobs)  # type: ignore[arg-type]
    except Exception as exc:  # the store is unreachable or full: the step says so
        return {"error": f"artifact store: cannot write: {exc}"}
    return {"files": [f.to_dict() for f in stored], "warnings": found.warnings}


class FilesBackend(Backend):
    """Wraps a backend whose steps run elsewhere: adds the file work to each launch."""

    def __init__(
        self,
        inner: Backend,
        files_for: Callable[[str], RemoteFiles | None],
        on_result: Callable[[str, dict[str, Any] | None], None],
    ) -> None:
        self._inner = inner
        self._files_for = files_for
        self._on_result = on_result

    async def start(self, launch: StepLaunch, on_output: OutputHandler) -> StepProcess:
        """Start the attempt with its file work; the result is handed over at its end."""
        launch = dataclasses.replace(launch, files=self._files_for(launch.step_id))
        process = await self._inner.start(launch, on_output)
        return _Reporting(process, lambda result: self._on_result(launch.step_id, result))


class _Reporting(StepProcess):
    """A process whose file result is reported when it ends."""

    def __init__(self, inner: StepProcess, report: Callable[[dict[str, Any] | None], None]):
        self._inner = inner
        self._report = report
        self.info = inner.info  # known once started

    async def wait(self) -> int:
        """The exit code, after reporting the file result."""
        code = await self._inner.wait()
        self._report(getattr(self._inner, "files", None))
        return code

    async def terminate(self, grace: float) -> None:
        """Terminate the inner process."""
        await self._inner.terminate(grace)
