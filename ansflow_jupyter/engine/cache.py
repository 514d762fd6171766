"""Cache keys: what a step's result depends on, hashed; and why a key missed.

The key hashes the command, shell, working directory, the pipeline's and step's `env`
(never the inherited environment), matrix values, the user's `key`, every input file's
content and the needs' outputs and artifact hashes -- never attempt numbers or execution
ids, so the same work in another run finds the same key. Input files are hashed through a
stat index (path, size, mtime_ns, inode -> sha256) like git's index: an unchanged tree of
10,000 files costs 10,000 stat calls, not 10,000 reads.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import subprocess
import time
from collections.abc import Mapping
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


#: (size, mtime_ns, inode) of an input file.
Fingerprint = tuple[int, int, int]


def input_files(cwd: str, spec: CacheSpec) -> dict[str, Fingerprint]:
    """The input files ('/' relative paths, sorted) with their stat fingerprints."""
    if spec.inputs is None:
        return _fingerprints(cwd, _git_files(cwd))
    found: dict[str, Fingerprint] = {}
    for pattern in spec.inputs:
        found.update(_matches(cwd, pattern))
    return dict(sorted(found.items()))


def _git_files(cwd: str) -> list[str]:
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
    return [n for n in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if n]


def _fingerprints(cwd: str, names: list[str]) -> dict[str, Fingerprint]:
    out: dict[str, Fingerprint] = {}
    for name in sorted(names):
        try:
            st = os.stat(os.path.join(cwd, name))
        except FileNotFoundError:
            continue  # tracked but deleted: it is not an input any more
        if stat.S_ISREG(st.st_mode):
            out[name] = (st.st_size, st.st_mtime_ns, st.st_ino)
    return out


def _matches(cwd: str, pattern: str) -> dict[str, Fingerprint]:
    """Files matching a glob (`**` any depth, `*`/`?`/`[..]` within a name; a folder means
    everything below it; names starting with '.' only when the pattern names them).

    One scandir walk below the pattern's literal prefix and one stat per file: glob()
    followed by isfile()/stat() cost 3x more for a 10,000-file tree."""
    parts = [p for p in pattern.split("/") if p not in ("", ".")]
    literal: list[str] = []
    for part in parts:
        if any(c in part for c in "*?["):
            break
        literal.append(part)
    rest = parts[len(literal) :]
    base = os.path.join(cwd, *literal)
    prefix = "/".join(literal)
    if not rest:  # a plain path: a file, or every file below a folder
        if os.path.isfile(base):
            return _fingerprints(cwd, [prefix])
        rest = ["**"]
    regex = re.compile(_translate(rest))
    out: dict[str, Fingerprint] = {}
    stack = [(base, "")]
    while stack:
        folder, rel = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for entry in entries:
            if entry.name.startswith(".") and not _names_hidden(rest):
                continue
            sub = f"{rel}{entry.name}"
            if entry.is_dir():
                stack.append((entry.path, f"{sub}/"))
            elif entry.is_file() and regex.fullmatch(sub):
                st = entry.stat()
                name = f"{prefix}/{sub}" if prefix else sub
                out[name] = (st.st_size, st.st_mtime_ns, st.st_ino)
    return out


def _names_hidden(parts: list[str]) -> bool:
    return any(p.startswith(".") for p in parts)


def _translate(parts: list[str]) -> str:
    """A regex for '/'-joined relative paths."""
    out = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            out.append(".*" if last else "(?:[^/]+/)*")
            continue
        piece, j = "", 0
        while j < len(part):
            c = part[j]
            if c == "*":
                piece += "[^/]*"
            elif c == "?":
                piece += "[^/]"
            elif c == "[" and "]" in part[j + 1 :]:
                close = part.index("]", j + 1)
                body = part[j + 1 : close].replace("\\", "\\\\")
                piece += f"[^{body[1:]}]" if body.startswith("!") else f"[{body}]"
                j = close
            else:
                piece += re.escape(c)
            j += 1
        out.append(piece if last else piece + "/")
    return "".join(out)


def hash_files(cwd: str, files: Mapping[str, Fingerprint], index: CacheIndex) -> dict[str, str]:
    """sha256 of each file, read only when its stat fingerprint is not in the index."""
    root = os.path.realpath(cwd)
    known = index.known_hashes(root)
    racy = (time.time() - RACY_SECONDS) * 1e9
    out: dict[str, str] = {}
    fresh: dict[str, StatRow] = {}
    for name, fingerprint in files.items():
        row = known.get(name)
        if row is not None and row[:3] == fingerprint:
            out[name] = row[3]
            continue
        digest = file_sha256(f"{root}/{name}")
        out[name] = digest
        if fingerprint[1] < racy:
            fresh[name] = (*fingerprint, digest)
    if fresh:
        index.remember_hashes(root, fresh)
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
    return CacheKey(_h(components), f"{pipeline_name}\x1f{spec.id}", components, inputs)


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
