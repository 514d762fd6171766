"""The job box: the folder through which a workflow job reaches the artifact and cache stores.

Only the engine reaches the database, while the job runner (a subprocess, maybe on a Dask
worker) does the file work. So the engine's side (stepdata.py here, remote.py on a worker)
opens a box before the job starts: the blob store (pickled, so the runner stores and
fetches blobs itself wherever it runs), the list of the needs' artifacts and the cache
entries the runner may restore. The runner leaves in it what it uploaded, the cache entries
it saved and the keys it restored; the engine's side reads that back when the job ends.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any

from ..data import ArtifactFile, BlobAccess, CacheEntry, CacheIndex
from ..pipeline.spec import StepSpec

#: The variable naming the box folder in the job runner's environment.
ENV = "ANSFLOW_JOB_BOX"
#: The cache entries of `actions/cache` live in this scope (beside each repository's path).
CACHE_SCOPE = "actions/cache"
#: The media type of a cache archive.
TAR = "application/x-tar"


def cache_scope(repo: str) -> str:
    """The scope of a repository's `actions/cache` entries (shared by its workflows)."""
    return f"{os.path.realpath(repo)}\x1f{CACHE_SCOPE}"


def cache_row_key(scope: str, paths: str, key: str) -> str:
    """The store's key of an entry: the user's key with its paths (GitHub's cache version)."""
    return hashlib.sha256(json.dumps([scope, paths, key]).encode()).hexdigest()


def entry_json(entry: CacheEntry) -> dict[str, Any] | None:
    """What the runner needs of a stored `actions/cache` entry (None for a step cache)."""
    if len(entry.artifacts) != 1 or "paths" not in entry.components:
        return None
    blob = entry.artifacts[0]
    return {
        "row": entry.key,
        "key": entry.components.get("key", ""),
        "paths": entry.components["paths"],
        "sha256": blob.sha256,
        "size": blob.size,
    }


def saved_entry(
    scope: str, execution_id: str, step_id: str, saved: Mapping[str, Any]
) -> CacheEntry:
    """The CacheEntry of an archive the runner saved."""
    blob = ArtifactFile("cache.tar", int(saved["size"]), str(saved["sha256"]), TAR)
    return CacheEntry(
        cache_row_key(scope, str(saved["paths"]), str(saved["key"])),
        scope,
        execution_id,
        step_id,
        {"key": str(saved["key"]), "paths": str(saved["paths"])},
        {},
        {},
        (blob,),
    )


def need_files(
    needs: Sequence[StepSpec],
    known: Mapping[str, StepSpec],
    collected: Mapping[str, Sequence[ArtifactFile]],
) -> list[Any]:
    """The artifact files of a job's needs and of what they needed in turn (GitHub lets a
    job download any artifact of the run uploaded before it), each with its leg's folder."""
    from .artifacts import leg_folder

    order: dict[str, StepSpec] = {spec.id: spec for spec in needs}
    queue = list(needs)
    while queue:
        for need in queue.pop(0).needs:
            if need in known and need not in order:
                order[need] = known[need]
                queue.append(known[need])
    return [
        {
            "folder": leg_folder(spec.template_id or spec.id, spec.matrix),
            "path": f.path,
            "sha256": f.sha256,
            "size": f.size,
        }
        for spec in order.values()
        for f in collected.get(spec.id, [])
    ]


def cache_entries(index: CacheIndex, repo: str) -> list[dict[str, Any]]:
    """A repository's `actions/cache` entries for the runner, newest first."""
    return [e for e in map(entry_json, index.entries(cache_scope(repo))) if e is not None]


def _write(folder: str, name: str, value: Any) -> None:
    tmp = os.path.join(folder, f".{name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(value, fh)
    os.replace(tmp, os.path.join(folder, name))


def _read(folder: str, name: str, default: Any) -> Any:
    try:
        with open(os.path.join(folder, name), encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return default


def open_box(
    folder: str,
    blobs: BlobAccess,
    needs: Sequence[Mapping[str, Any]],
    entries: Sequence[Mapping[str, Any]],
    max_bytes: int,
) -> dict[str, str]:
    """Fill a new box; the environment variables that point the runner at it."""
    os.makedirs(folder, mode=0o700, exist_ok=True)
    with open(os.path.join(folder, "blobs.pickle"), "wb") as fh:
        pickle.dump(blobs, fh)
    _write(folder, "needs.json", list(needs))
    _write(folder, "cache.json", {"entries": list(entries), "max_bytes": max_bytes})
    return {ENV: folder}


def close_box(folder: str) -> dict[str, Any]:
    """What the runner left: `files` (its artifacts), `saved` and `used` cache entries."""
    _remove_leftovers(folder)
    uploads = _read(folder, "artifacts.json", {})
    files = [f for name in sorted(uploads) for f in uploads[name]]
    return {
        "files": files,
        "saved": _read(folder, "cache-saved.json", []),
        "used": _read(folder, "cache-used.json", []),
    }


def _remove_leftovers(folder: str) -> None:
    """Remove what a job runner that died before its own cleanup left behind."""
    # A runner SIGKILLed after a cancel's grace period (a big virtualenv takes long to
    # delete) or by the OOM killer cannot clean up: its workspace and runner.temp stayed.
    left = _read(folder, "leftovers.json", {})
    gone = [path for path in left.get("paths", []) if os.path.lexists(path)]
    for path in gone:
        shutil.rmtree(path, ignore_errors=True)
    for empty in left.get("folders", []):  # the execution's folder, once empty
        with contextlib.suppress(OSError):
            os.rmdir(empty)
    repo = str(left.get("repo", ""))
    if gone and repo and os.path.exists(os.path.join(repo, ".git")):
        subprocess.run(["git", "-C", repo, "worktree", "prune"], capture_output=True)


class Box:
    """The runner's side of the box."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self._blobs: BlobAccess | None = None

    @property
    def blobs(self) -> BlobAccess:
        """The artifact store's blobs (read once)."""
        if self._blobs is None:
            # Our own file, in a private folder the engine just made for this job.
            with open(os.path.join(self.folder, "blobs.pickle"), "rb") as fh:
                self._blobs = pickle.load(fh)
        return self._blobs

    def needs(self) -> list[dict[str, Any]]:
        """The needs' artifact files: `{folder, path, sha256, size}`."""
        return list(_read(self.folder, "needs.json", []))

    def uploads(self) -> dict[str, list[dict[str, Any]]]:
        """This job's artifacts so far: name -> files (paths start with the name)."""
        return dict(_read(self.folder, "artifacts.json", {}))

    def set_uploads(self, uploads: Mapping[str, list[dict[str, Any]]]) -> None:
        """Replace this job's artifact list."""
        _write(self.folder, "artifacts.json", dict(uploads))

    def cache_entries(self) -> list[dict[str, Any]]:
        """The repository's `actions/cache` entries, newest first."""
        return list(_read(self.folder, "cache.json", {}).get("entries", []))

    def cache_max_bytes(self) -> int:
        """The cache's size limit (an archive bigger than it is not saved)."""
        return int(_read(self.folder, "cache.json", {}).get("max_bytes", 0) or 0)

    def leave(self, paths: Sequence[str], folders: Sequence[str], repo: str) -> None:
        """Name what the engine's side removes should this runner die before it does:
        `paths` (trees) and `folders` (removed when empty), in `repo`'s worktrees."""
        left = _read(self.folder, "leftovers.json", {})
        _write(
            self.folder,
            "leftovers.json",
            {
                "paths": [*left.get("paths", []), *paths],  # an earlier attempt's too
                "folders": [*left.get("folders", []), *folders],
                "repo": repo,
            },
        )

    def add(self, name: str, value: Any) -> None:
        """Append to one of the runner's lists (`cache-saved.json`, `cache-used.json`)."""
        _write(self.folder, name, [*_read(self.folder, name, []), value])
