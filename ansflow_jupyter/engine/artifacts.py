"""Artifact files on disk: find what a step declared, lay out its needs' files, restore.

All functions are blocking (file system walks); the engine runs them in a worker thread.
"""

from __future__ import annotations

import glob
import mimetypes
import os
import shutil
import stat
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from ..data import ArtifactFile, ArtifactStore
from ..pipeline.spec import ArtifactsSpec

#: Types `mimetypes` misses or gets wrong for what pipelines produce.
_MEDIA_TYPES = {
    ".md": "text/markdown",
    ".csv": "text/csv",
    ".ipynb": "application/x-ipynb+json",
    ".json": "application/json",
    ".log": "text/plain",
    ".yml": "text/yaml",
    ".yaml": "text/yaml",
    ".whl": "application/zip",
    ".svg": "image/svg+xml",
}


class ArtifactError(Exception):
    """A declared artifact cannot be collected (the step fails with `output-error`)."""


@dataclass(slots=True)
class Found:
    """The files a step's `artifacts:` patterns matched."""

    files: dict[str, str] = field(default_factory=dict)  # relative path -> absolute path
    warnings: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        """Bytes of every file found."""
        return sum(os.stat(p).st_size for p in self.files.values())


def media_type(path: str) -> str:
    """The media type of a file name (`application/octet-stream` when unknown)."""
    ext = os.path.splitext(path)[1].lower()
    return _MEDIA_TYPES.get(ext) or mimetypes.guess_type(path)[0] or "application/octet-stream"


def find(cwd: str, spec: ArtifactsSpec) -> Found:
    """Match the patterns in `cwd`; raises ArtifactError for a path leaving it."""
    root = os.path.realpath(cwd)
    found = Found()
    for pattern in spec.paths:
        if os.path.isabs(pattern) or ".." in pattern.replace("\\", "/").split("/"):
            raise ArtifactError(f"artifacts: '{pattern}' leaves the working directory")
        matches = sorted(glob.glob(pattern, root_dir=cwd, recursive=True))
        before = len(found.files)
        for match in matches:
            for rel in _files(cwd, match, root):
                found.files.setdefault(rel, os.path.join(cwd, rel))
        if len(found.files) == before and spec.if_no_files != "ignore":
            message = f"artifacts: no files match '{pattern}'"
            if spec.if_no_files == "error":
                raise ArtifactError(message)
            found.warnings.append(message)
    return found


def _files(cwd: str, match: str, root: str) -> Iterator[str]:
    """The regular files of one match (a directory is walked), as '/' relative paths.

    Only the match itself and symlinks are resolved: a plain entry of a folder that is
    inside stays inside (one realpath per file cost more than storing small files)."""
    full = os.path.join(cwd, match)
    _inside(full, root, match)
    if not os.path.isdir(full):
        if os.path.isfile(full):
            yield _rel(full, cwd)
        return
    start = _rel(full, cwd).rstrip("/")
    stack = [(full, "" if start == "." else f"{start}/")]
    while stack:
        folder, prefix = stack.pop()
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            rel = f"{prefix}{entry.name}"
            if entry.is_symlink():
                _inside(entry.path, root, rel)  # pointing out is an error
                if entry.is_file():  # a link to a file inside is kept; linked folders
                    yield rel  # are not walked (no loops)
            elif entry.is_dir(follow_symlinks=False):
                stack.append((entry.path, f"{rel}/"))
            elif entry.is_file(follow_symlinks=False):
                yield rel


def _inside(path: str, root: str, shown: str) -> None:
    real = os.path.realpath(path)
    if real != root and not real.startswith(root + os.sep):
        raise ArtifactError(
            f"artifacts: '{shown}' leaves the working directory (it resolves to {real})"
        )


def _rel(path: str, cwd: str) -> str:
    return os.path.relpath(path, cwd).replace(os.sep, "/")


def store(found: Found, store: ArtifactStore) -> list[ArtifactFile]:
    """Put every file found into the store (each content once)."""
    out: list[ArtifactFile] = []
    for rel, full in sorted(found.files.items()):
        sha, size = store.put(full)
        out.append(ArtifactFile(rel, size, sha, media_type(rel)))
    return out


def leg_folder(template_id: str, matrix: Mapping[str, str]) -> str:
    """`build` or `build/python=3.11,os=linux`: where a need's files appear."""
    if not matrix:
        return template_id
    return f"{template_id}/{','.join(f'{k}={v}' for k, v in matrix.items())}"


def stage(
    folder: str, needs: Sequence[tuple[str, Sequence[ArtifactFile]]], store: ArtifactStore
) -> None:
    """Lay out each need's files under folder/<leg folder>/<path>, read-only."""
    for sub, files in needs:
        for item in files:
            dest = os.path.join(folder, sub, *item.path.split("/"))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            store.materialize(item.sha256, dest)
            os.chmod(dest, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)


def restore(cwd: str, files: Sequence[ArtifactFile], store: ArtifactStore) -> None:
    """Write a cached step's artifacts back where the step made them (writable copies)."""
    for item in files:
        dest = os.path.join(cwd, *item.path.split("/"))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        tmp = f"{dest}.ansflow-restore"
        store.materialize(item.sha256, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)


def remove_tree(folder: str) -> None:
    """Delete a staging folder (its read-only files sit in writable folders)."""
    shutil.rmtree(folder, ignore_errors=True)
