"""actions/cache (and cache/restore, cache/save) on the project's cache store.

An entry is one tar archive (modes and links kept) stored as a blob, with the user's `key`
and `path` lines; the repository's entries are shared by its workflows. Restoring tries the
exact key, then each of `key` and `restore-keys` as a prefix (newest entry first), among
entries saved with the same `path` (GitHub's cache version). actions/cache saves in a
"Post" job step at the end of the job when the job succeeded and the key was not an exact
hit. Files outside the workspace and the runner's temp folder (e.g. `~/.cache/pip`) are
restored only where no file exists yet: a workflow never overwrites the user's own files.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .jobbox import Box
from .jobsearch import _pattern, search

Output = Callable[[str], None]
ACTIONS = ("actions/cache", "actions/cache/restore", "actions/cache/save")


@dataclass(frozen=True, slots=True)
class Pending:
    """A save to do in the job's post step."""

    title: str
    key: str
    paths: str
    always: bool


def _true(value: str) -> bool:
    return value.strip().lower() == "true"


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


class Caches:
    """The `actions/cache` steps of one job."""

    def __init__(self, box: Box | None, workspace: Path, temp: Path) -> None:
        self.box = box
        self.workspace = workspace
        self.temp = temp
        self.pending: list[Pending] = []
        self._saved: set[tuple[str, str]] = set()

    def run(self, name: str, title: str, with_: dict[str, str], out: Output) -> int:
        """One cache step; 1 when it fails."""
        key = with_.get("key", "").strip()
        paths = "\n".join(_lines(with_.get("path", "")))
        for missing in ("key", "path"):
            if not with_.get(missing, "").strip():
                print(f"::error::Input required and not supplied: {missing}")
                return 1
        if "," in key or len(key) > 512:
            print(f"::error::Key Validation Error: {key} cannot contain commas or exceed 512 chars")
            return 1
        if self.box is None:
            print("::warning::no cache store reaches this job: nothing restored or saved")
            out("cache-hit=false")
            return 0
        if name == "actions/cache/save":
            return self.save(key, paths)
        entry, exact = self._find(key, _lines(with_.get("restore-keys", "")), paths)
        out(f"cache-primary-key={key}")
        if entry is None:
            tried = ", ".join([key, *_lines(with_.get("restore-keys", ""))])
            if _true(with_.get("fail-on-cache-miss", "")):
                print(f"::error::Failed to restore cache entry (fail-on-cache-miss). Keys: {tried}")
                return 1
            print(f"Cache not found for input keys: {tried}")
            out("cache-hit=false")
        else:
            out(f"cache-matched-key={entry['key']}")
            out(f"cache-hit={'true' if exact else 'false'}")
            self.box.add("cache-used.json", entry["row"])
            if _true(with_.get("lookup-only", "")):
                print(f"Cache found and can be restored from key: {entry['key']}")
            else:
                try:
                    self._restore(entry, paths)
                    print(f"Cache restored from key: {entry['key']}")
                except (OSError, tarfile.TarError) as exc:  # as on GitHub: a warning, a miss
                    print(f"::warning::Failed to restore: {exc}")
                    out("cache-hit=false")
                    exact = False
        if name == "actions/cache" and not exact:
            self.pending.append(Pending(title, key, paths, _true(with_.get("save-always", ""))))
        return 0

    def _find(self, key: str, restore: list[str], paths: str) -> tuple[dict[str, Any] | None, bool]:
        assert self.box is not None
        same = [e for e in self.box.cache_entries() if e["paths"] == paths]
        for entry in same:
            if entry["key"] == key:
                return entry, True
        for prefix in [key, *restore]:
            for entry in same:  # newest first
                if str(entry["key"]).startswith(prefix):
                    return entry, False
        return None, False

    def _roots(self, paths: str) -> list[Path]:
        return [_pattern(line, self.workspace).search for line in paths.splitlines()]

    def _restore(self, entry: dict[str, Any], paths: str) -> None:
        assert self.box is not None
        roots = self._roots(paths)  # members are numbered by line, excludes included
        with tempfile.TemporaryDirectory(dir=self.temp) as tmp:
            archive = os.path.join(tmp, "cache.tar")
            self.box.blobs.materialize(str(entry["sha256"]), archive)
            with tarfile.open(archive) as tar:
                for member in tar:
                    number, _, rest = member.name.partition("/")
                    if not number.isdigit() or int(number) >= len(roots) or ".." in rest.split("/"):
                        continue
                    target = roots[int(number)].joinpath(*[p for p in rest.split("/") if p])
                    self._extract(tar, member, target)

    def _ours(self, path: Path) -> bool:
        """Inside the workspace or the runner's temp folder (may be overwritten)."""
        return any(path == r or r in path.parents for r in (self.workspace, self.temp))

    def _extract(self, tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> None:
        if os.path.lexists(target):
            if not self._ours(target) or target.is_dir():
                return
            target.unlink()
        target.parent.mkdir(parents=True, exist_ok=True)
        if member.issym():
            os.symlink(member.linkname, target)
        elif member.isreg():
            source = tar.extractfile(member)
            assert source is not None
            with source, open(target, "wb") as fh:
                shutil.copyfileobj(source, fh)
            os.chmod(target, member.mode & 0o777)
            os.utime(target, (member.mtime, member.mtime))

    def save(self, key: str, paths: str, title: str = "") -> int:
        """Archive `paths` under `key` (0 also when there is nothing to save: a warning)."""
        assert self.box is not None
        if (key, paths) in self._saved or any(
            e["key"] == key and e["paths"] == paths for e in self.box.cache_entries()
        ):
            print(f"Cache already exists for key {key}: not saved again")
            return 0
        lines = paths.splitlines()
        excludes = [line for line in lines if line.startswith("!")]
        with tempfile.TemporaryDirectory(dir=self.temp) as tmp:
            archive = os.path.join(tmp, "cache.tar")
            count = 0
            with tarfile.open(archive, "w") as tar:
                for number, line in enumerate(lines):
                    if line.startswith("!"):
                        continue
                    root = _pattern(line, self.workspace).search
                    found = search("\n".join([line, *excludes]), self.workspace)
                    for file in found.files:
                        rel = os.path.relpath(file, root).replace(os.sep, "/")
                        tar.add(file, str(number) if rel == "." else f"{number}/{rel}", False)
                        count += 1
            if not count:
                print(
                    "::warning::Path Validation Error: Path(s) specified in the action for "
                    "caching do(es) not exist, hence no cache is being saved."
                )
                return 0
            size = os.path.getsize(archive)
            limit = self.box.cache_max_bytes()
            if limit and size > limit:
                print(f"::warning::Cache of {size} bytes exceeds cache_max_bytes: not saved")
                return 0
            sha, size = self.box.blobs.put(archive)
        self.box.add("cache-saved.json", {"key": key, "paths": paths, "sha256": sha, "size": size})
        self._saved.add((key, paths))
        print(f"Cache saved with key: {key} ({count} file(s), {size} bytes)")
        return 0
