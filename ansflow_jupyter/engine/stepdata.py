"""Artifacts and cache of one execution: the two calls the executor makes around a step.

    hit = await data.before(step, needs, cwd, env, log)   # stage needs' files; cache lookup
    status, reason = await data.after(step, cwd, status, reason, log)  # collect; cache write

Everything blocking runs in a worker thread. Failures of ours never escape: a bad
artifact path or a full store fails the step with `output-error` and a message; a cache
that cannot be read or written only costs the speed-up (a warning line in the log).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Collection, Mapping, MutableMapping, Sequence
from typing import Any

from ..data import ArtifactFile, ArtifactStore, CacheEntry, CacheIndex
from ..events import StepReason, StepStatus
from ..pipeline.spec import StepSpec
from . import artifacts, cache, jobbox
from .backend import Backend
from .output import LineProcessor
from .remote import FilesBackend, RemoteFiles
from .state import StepState

DEFAULT_MAX_BYTES = 5 * 1024**3


def human_bytes(n: float) -> str:
    """1536 -> '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover - unreachable


class StepData:
    """Per execution: collected artifacts, their byte budget, cache keys."""

    def __init__(
        self,
        store: ArtifactStore,
        index: CacheIndex | None = None,
        *,
        pipeline_name: str,
        execution_id: str,
        env: Mapping[str, str],
        max_bytes: int = DEFAULT_MAX_BYTES,
        force: bool | Collection[str] = False,
        reused: Mapping[str, Sequence[ArtifactFile]] | None = None,
    ) -> None:
        self.store = store
        self.index = index
        self.pipeline_name = pipeline_name
        self.execution_id = execution_id
        self.env = dict(env)  # the pipeline env with run-time overrides: part of cache keys
        self.max_bytes = max_bytes
        self.force = force
        self.bytes = 0
        self.collected: dict[str, list[ArtifactFile]] = {
            k: list(v) for k, v in (reused or {}).items()
        }
        self._keys: dict[str, cache.CacheKey] = {}
        self._staging: dict[str, str] = {}
        self._boxes: dict[str, str] = {}  # workflow job -> its job box folder
        self._specs: dict[str, StepSpec] = {}  # every step started: a job's upstream
        self.remote = False  # steps run where we cannot see their files (see wrap())
        self._remote: dict[str, RemoteFiles] = {}
        self._results: dict[str, dict[str, Any] | None] = {}

    def wrap(self, backend: Backend) -> Backend:
        """The backend to run this execution on: for one whose steps run on other
        machines, the file work moves to the worker and files travel through the store."""
        if not backend.moves_files:
            return backend
        self.remote = True
        return FilesBackend(backend, self._remote.get, self._results.__setitem__)

    def forced(self, step_id: str) -> bool:
        """True when the cache is bypassed for this step."""
        if isinstance(self.force, bool):
            return self.force
        return step_id in self.force

    # -- before the first attempt --------------------------------------------------------

    async def before(
        self,
        step: StepState,
        needs: Sequence[StepState],
        cwd: str,
        env: MutableMapping[str, str],
        log: LineProcessor,
    ) -> bool:
        """Lay out the needs' artifacts under $ANSFLOW_ARTIFACTS; True on a cache hit
        (then the step's outputs, artifacts and `cached_from` are set)."""
        self._specs[step.spec.id] = step.spec
        if step.spec.substeps:  # a workflow job: its runner does the file work
            await self._open_box(step, needs, cwd, env, log)
            return False
        # Only needs that declare artifacts get a folder: most steps pay nothing.
        needs_with_files = [n for n in needs if n.spec.artifacts is not None]
        if self.remote:
            self._plan_remote(step, needs_with_files)
        elif needs_with_files:
            folder = tempfile.mkdtemp(prefix="ansflow-artifacts-")
            self._staging[step.spec.id] = folder
            env["ANSFLOW_ARTIFACTS"] = folder
            legs = [
                (
                    artifacts.leg_folder(n.spec.template_id or n.spec.id, n.spec.matrix),
                    self.collected.get(n.spec.id, []),
                )
                for n in needs_with_files
            ]
            try:
                await asyncio.to_thread(_stage, folder, legs, self.store)
            except OSError as exc:
                log.add_line("stderr", f"ansflow: warning: artifacts of needs unavailable: {exc}")
        if step.spec.cache is None or self.index is None:
            return False
        if self.forced(step.spec.id):
            step.extra["cache_miss"] = "forced"
            return False
        try:
            return await asyncio.to_thread(self._lookup, step, needs, cwd)
        except (cache.CacheInputError, OSError) as exc:
            step.extra["cache_miss"] = str(exc)
            return False
        except Exception as exc:  # the store failed: run the step, say why
            step.extra["cache_miss"] = f"cache unavailable: {exc}"
            return False

    async def _open_box(
        self,
        step: StepState,
        needs: Sequence[StepState],
        cwd: str,
        env: MutableMapping[str, str],
        log: LineProcessor,
    ) -> None:
        """The job box of a workflow job (jobbox.py): its needs' artifacts, the cache."""
        upstream = jobbox.need_files([n.spec for n in needs], self._specs, self.collected)
        plan: dict[str, Any] = {"needs": upstream}
        plan["entries"], plan["max_bytes"] = [], 0
        if self.index is not None:
            try:
                plan["entries"] = await asyncio.to_thread(jobbox.cache_entries, self.index, cwd)
                plan["max_bytes"] = int(getattr(self.index, "cache_max_bytes", 0) or 0)
            except Exception as exc:  # the cache only costs speed: run without it
                log.add_line("stderr", f"ansflow: warning: actions/cache unavailable: {exc}")
        if self.remote:
            self._remote[step.spec.id] = RemoteFiles(self.store.worker_blobs(), box=plan)
            return
        folder = tempfile.mkdtemp(prefix="ansflow-job-")
        self._boxes[step.spec.id] = folder
        try:
            blobs = self.store.worker_blobs()
            env.update(await asyncio.to_thread(jobbox.open_box, folder, blobs, **plan))
        except Exception as exc:
            log.add_line("stderr", f"ansflow: warning: artifacts and cache unavailable: {exc}")

    def _plan_remote(self, step: StepState, needs: Sequence[StepState]) -> None:
        legs = [
            (artifacts.leg_folder(n.spec.template_id or n.spec.id, n.spec.matrix), n.spec.id)
            for n in needs
        ]
        stage = tuple(
            (f"{sub}/{f.path}", f.sha256) for sub, sid in legs for f in self.collected.get(sid, [])
        )
        if legs or step.spec.artifacts is not None:
            self._remote[step.spec.id] = RemoteFiles(
                self.store.worker_blobs(),
                stage,
                tuple(sub for sub, _ in legs),
                step.spec.artifacts,
            )

    def _lookup(self, step: StepState, needs: Sequence[StepState], cwd: str) -> bool:
        assert self.index is not None
        spec = step.spec
        need_data = {
            n.spec.id: {
                # Outputs come from the outputs feature through this one field.
                "outputs": n.extra.get("outputs") or {},
                "artifacts": [[f.path, f.sha256] for f in self.collected.get(n.spec.id, [])],
            }
            for n in needs
        }
        env = {**self.env, **spec.env}
        key = cache.compute(self.pipeline_name, spec, cwd, env, need_data, self.index)
        entry = self.index.lookup(key.key)
        if entry is None:
            self._keys[spec.id] = key
            step.extra["cache_miss"] = cache.miss_reason(key, self.index.latest(key.scope))
            return False
        try:
            artifacts.restore(cwd, entry.artifacts, self.store)
            self.store.record(self.execution_id, spec.id, entry.artifacts)
        except OSError as exc:
            self._keys[spec.id] = key
            step.extra["cache_miss"] = f"cache entry unusable: {exc}"
            return False
        self.collected[spec.id] = list(entry.artifacts)
        step.extra["cached_from"] = entry.execution_id
        if entry.outputs:
            step.extra["outputs"] = dict(entry.outputs)
        if entry.artifacts:
            step.extra["artifacts"] = _summary(entry.artifacts)
        return True

    # -- after the last attempt ----------------------------------------------------------

    async def after(
        self,
        step: StepState,
        cwd: str,
        status: StepStatus,
        reason: StepReason,
        log: LineProcessor,
    ) -> tuple[StepStatus, StepReason]:
        """Collect the step's artifacts and write its cache entry; the final status."""
        folder = self._staging.pop(step.spec.id, None)
        if folder is not None:
            await asyncio.to_thread(artifacts.remove_tree, folder)
        spec = step.spec
        if spec.substeps:
            error = await self._close_box(step, cwd, status, log)
            if error is not None:
                log.add_line("stderr", f"ansflow: {error}")
                step.extra["message"] = error
                if status is StepStatus.SUCCESS:
                    status, reason = StepStatus.FAILED, StepReason.OUTPUT_ERROR
        elif spec.artifacts is not None and status in (StepStatus.SUCCESS, StepStatus.FAILED):
            if self.remote:
                error = await asyncio.to_thread(self._collected_remotely, step, log)
            else:
                error = await asyncio.to_thread(self._collect, step, cwd, log)
            if error is not None:
                log.add_line("stderr", f"ansflow: {error}")
                step.extra["message"] = error
                if status is StepStatus.SUCCESS:
                    status, reason = StepStatus.FAILED, StepReason.OUTPUT_ERROR
        self._remote.pop(spec.id, None)
        self._results.pop(spec.id, None)
        key = self._keys.pop(spec.id, None)
        if status is StepStatus.SUCCESS and key is not None and self.index is not None:
            entry = CacheEntry(
                key.key,
                key.scope,
                self.execution_id,
                spec.id,
                key.components,
                key.inputs,
                dict(step.extra.get("outputs") or {}),
                tuple(self.collected.get(spec.id, [])),
            )
            try:
                await asyncio.to_thread(self.index.save, entry)
            except Exception as exc:
                log.add_line("stderr", f"ansflow: warning: cache not written: {exc}")
        log.finish()
        return status, reason

    async def _close_box(
        self, step: StepState, cwd: str, status: StepStatus, log: LineProcessor
    ) -> str | None:
        """A workflow job's uploaded artifacts and saved caches; the error message, or None."""
        folder = self._boxes.pop(step.spec.id, None)
        result: dict[str, Any] | None = None
        if self.remote:
            result = self._results.get(step.spec.id)
        elif folder is not None:
            result = await asyncio.to_thread(jobbox.close_box, folder)
            await asyncio.to_thread(artifacts.remove_tree, folder)
        if status not in (StepStatus.SUCCESS, StepStatus.FAILED) or not result:
            return None
        if "error" in result:
            return str(result["error"])
        if self.index is not None and (result.get("used") or result.get("saved")):
            try:
                await asyncio.to_thread(self._save_caches, step, cwd, result)
            except Exception as exc:  # a cache not written only costs speed next time
                log.add_line("stderr", f"ansflow: warning: actions/cache not saved: {exc}")
        return await asyncio.to_thread(self._job_artifacts, step, result)

    def _save_caches(self, step: StepState, cwd: str, result: Mapping[str, Any]) -> None:
        assert self.index is not None
        for row in result.get("used", []):
            self.index.lookup(str(row))  # marks it used (the least recently used go first)
        scope = jobbox.cache_scope(cwd)
        for saved in result.get("saved", []):
            self.index.save(jobbox.saved_entry(scope, self.execution_id, step.spec.id, saved))

    def _job_artifacts(self, step: StepState, result: Mapping[str, Any]) -> str | None:
        files = [ArtifactFile(**f) for f in result.get("files", [])]
        if not files:
            return None
        size = sum(f.size for f in files)
        if self.bytes + size > self.max_bytes:
            return self._too_big(size)
        return self._keep(step, files)

    def _collect(self, step: StepState, cwd: str, log: LineProcessor) -> str | None:
        """Store the step's artifacts; the error message, or None."""
        assert step.spec.artifacts is not None
        try:
            found = artifacts.find(cwd, step.spec.artifacts)
        except artifacts.ArtifactError as exc:
            return str(exc)
        except OSError as exc:
            return f"artifacts: cannot read: {exc}"
        for warning in found.warnings:
            log.add_line("stderr", f"ansflow: warning: {warning}")
        size = found.size
        if self.bytes + size > self.max_bytes:
            return self._too_big(size)
        try:
            files = artifacts.store(found, self.store)
        except Exception as exc:  # OSError from the blob store
            return f"artifact store {self.store.location}: cannot write: {exc}"
        return self._keep(step, files)

    def _collected_remotely(self, step: StepState, log: LineProcessor) -> str | None:
        """What the worker collected and uploaded for the last attempt."""
        result = self._results.get(step.spec.id)
        if not result:
            return "artifacts: the worker sent no list of files (it ended early)"
        if "error" in result:
            return str(result["error"])
        for warning in result.get("warnings", []):
            log.add_line("stderr", f"ansflow: warning: {warning}")
        files = [ArtifactFile(**f) for f in result.get("files", [])]
        size = sum(f.size for f in files)
        if self.bytes + size > self.max_bytes:
            return self._too_big(size)
        return self._keep(step, files)

    def _keep(self, step: StepState, files: list[ArtifactFile]) -> str | None:
        """Record stored files for the step; the error message, or None."""
        try:
            self.store.record(self.execution_id, step.spec.id, files)
        except Exception as exc:  # StoreError from SQL
            return f"artifact store {self.store.location}: cannot record: {exc}"
        self.bytes += sum(f.size for f in files)
        self.collected[step.spec.id] = files
        if files:
            step.extra["artifacts"] = _summary(files)
        return None

    def _too_big(self, size: int) -> str:
        return (
            f"artifacts: {human_bytes(size)} would exceed artifact_max_bytes "
            f"({human_bytes(self.max_bytes)} per execution, {human_bytes(self.bytes)} used)"
        )


def _stage(
    folder: str, legs: Sequence[tuple[str, Sequence[ArtifactFile]]], store: ArtifactStore
) -> None:
    for sub, _files in legs:
        os.makedirs(os.path.join(folder, sub), exist_ok=True)  # present even when empty
    artifacts.stage(folder, legs, store)


def _summary(files: Sequence[ArtifactFile]) -> dict[str, int]:
    return {"count": len(files), "bytes": sum(f.size for f in files)}
