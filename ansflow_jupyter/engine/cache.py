"""Cache keys: what a step's result depends on, hashed; and why a key missed.

The key hashes the command, shell, working directory, the pipeline's and step's `env`
(never the inherited environment), matrix values, the user's `key`, every input file's
content and the needs' outputs and artifact hashes -- never attempt numbers or execution
ids, so the same work in another run finds the same key. Input files are hashed through a
stat index (path, size, mtime_ns, inode -> sha256) like git's index: an unchanged tree of
10,000 files costs 10,000 stat calls, not 10,000 reads.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..data import CacheEntry, CacheIndex, StatRow
from ..pipeline.spec import CacheSpec, StepSpec

#: A file modified this recently may change again within the same mtime tick ("racy
#: git"): it is hashed but not remembered, so the next decision reads it again.
RACY_SECONDS = 2.0
CHUNK = 1 << 20


class CacheInputError(Exception):
    """The inputs cannot be listed (e.g. `cache: true` outside a git work tree)."""


@dataclass(frozen=True, slots=True)
class CacheKey:
    """A computed key with its parts."""

    key: str
    scope: str
    components: dict[str, str]
    inputs: dict[str, str]


def _h(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def input_files(cwd: str, spec: CacheSpec) -> list[str]:
    """The input files ('/' relative paths), sorted."""
    if spec.inputs is None:
        try:
            proc = subprocess.run(
                ["git", "ls-files", "-z", "--cached", "--", "."],
                cwd=cwd,
                capture_output=True,
                check=False,
            )
        except OSError as exc:
            raise CacheInputError(f"cache: true needs git ({exc.strerror})") from None
        if proc.returncode != 0:
            raise CacheInputError(
                "cache: true needs a git work tree (list the files with cache.inputs)"
            )
        names = [n for n in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if n]
        return sorted(n for n in names if os.path.isfile(os.path.join(cwd, n)))
    files: set[str] = set()
    for pattern in spec.inputs:
        for match in glob.glob(pattern, root_dir=cwd, recursive=True):
            full = os.path.join(cwd, match)
            if os.path.isdir(full):
                for dirpath, _dirs, names in os.walk(full):
                    for name in names:
                        files.add(os.path.relpath(os.path.join(dirpath, name), cwd))
            elif os.path.isfile(full):
                files.add(os.path.relpath(full, cwd))
    return sorted(f.replace(os.sep, "/") for f in files)


def hash_files(cwd: str, names: Sequence[str], index: CacheIndex) -> dict[str, str]:
    """sha256 of each file, read only when its stat fingerprint is not in the index."""
    root = os.path.realpath(cwd)
    known = index.known_hashes(root)
    now = time.time()
    out: dict[str, str] = {}
    fresh: list[StatRow] = []
    for name in names:
        path = os.path.join(root, name)
        st = os.stat(path)
        row = known.get(path)
        if row is not None and row[:3] == (st.st_size, st.st_mtime_ns, st.st_ino):
            out[name] = row[3]
            continue
        digest = file_sha256(path)
        out[name] = digest
        if now - st.st_mtime > RACY_SECONDS:
            fresh.append((path, st.st_size, st.st_mtime_ns, st.st_ino, digest))
    if fresh:
        index.remember_hashes(fresh)
    return out


def file_sha256(path: str) -> str:
    """The sha256 of a file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def compute(
    pipeline_name: str,
    spec: StepSpec,
    cwd: str,
    env: Mapping[str, str],
    needs: Mapping[str, object],
    index: CacheIndex,
) -> CacheKey:
    """The key of one step: `env` is the pipeline + step env, `needs` each need's
    outputs and artifact hashes. Raises CacheInputError, OSError."""
    assert spec.cache is not None
    inputs = hash_files(cwd, input_files(cwd, spec.cache), index)
    components = {
        "command": _h([spec.shell, spec.run]),
        "working directory": _h(spec.working_directory),
        "env": _h(dict(env)),
        "matrix": _h(dict(spec.matrix)),
        "key": _h(spec.cache.key),
        "needs": _h(needs),
        "inputs": _h(inputs),
    }
    return CacheKey(_h(components), f"{pipeline_name}\0{spec.id}", components, inputs)


def miss_reason(key: CacheKey, previous: CacheEntry | None) -> str:
    """Why no entry matched, in words ("inputs changed: src/app.py")."""
    if previous is None:
        return "no entry"
    old, new = previous.inputs, key.inputs
    changed = sorted({n for n in new if old.get(n) != new[n]} | {n for n in old if n not in new})
    if changed:
        shown = ", ".join(changed[:5])
        more = f" (+{len(changed) - 5} more)" if len(changed) > 5 else ""
        return f"inputs changed: {shown}{more}"
    parts = [k for k, v in key.components.items() if previous.components.get(k) != v]
    if parts:
        return f"{', '.join(parts)} changed"
    return "no entry"
