"""actions/upload-artifact and actions/download-artifact, on the project's artifact store.

An artifact NAME of a job is stored as the job's artifacts `NAME/<path below its root>`,
so the views, REST and `ansflow artifacts` list it under the uploading job (matrix leg).
A job downloads what the jobs it needs uploaded (the job box lists their files).
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

from .artifacts import media_type
from .jobbox import Box
from .jobsearch import absolute, search

#: Characters GitHub refuses in an artifact name.
BAD_NAME = set('":<>|*?\\/\r\n')
IF_NO_FILES = ("warn", "error", "ignore")
UPLOAD_INPUTS = {"name", "path", "if-no-files-found", "overwrite", "include-hidden-files"}

Output = Callable[[str], None]


def _version(uses: str) -> int:
    """The major version after `@` (`@v3` -> 3; a branch or sha counts as the newest)."""
    ref = uses.partition("@")[2].lstrip("v").split(".")[0]
    return int(ref) if ref.isdigit() else 4


def _true(value: str) -> bool:
    return value.strip().lower() == "true"


def upload(uses: str, with_: dict[str, str], box: Box | None, workspace: Path, out: Output) -> int:
    """Store the files of `path` as the artifact `name`; 1 when the step fails."""
    if box is None:  # an executor without stores (embedded tests): nothing can be kept
        print("::warning::no artifact store reaches this job: nothing uploaded")
        return 0
    name = with_.get("name", "").strip() or "artifact"
    ignored = sorted(set(with_) - UPLOAD_INPUTS)
    if ignored:
        print(f"Ignored locally: {', '.join(ignored)}")
    if BAD_NAME & set(name):
        print(f"::error::invalid artifact name {name!r}: it may not contain {' '.join(BAD_NAME)}")
        return 1
    if not with_.get("path", "").strip():
        print("::error::Input required and not supplied: path")
        return 1
    mode = with_.get("if-no-files-found", "").strip().lower() or "warn"
    if mode not in IF_NO_FILES:
        print(f"::error::if-no-files-found must be one of {', '.join(IF_NO_FILES)}, not {mode}")
        return 1
    # v4.4 and later leave hidden files out unless asked (a notorious change; v3 kept them).
    hidden = _true(with_.get("include-hidden-files", "")) or _version(uses) < 4
    found = search(with_["path"], workspace, hidden=hidden)
    if not found.files:
        message = f"No files were found with the provided path: {with_['path'].strip()}. "
        message += "No artifacts will be uploaded."
        if mode == "error":
            print(f"::error::{message}")
            return 1
        if mode == "warn":
            print(f"::warning::{message}")
        else:
            print(message)
        return 0
    uploads = box.uploads()
    if name in uploads and not _true(with_.get("overwrite", "")) and _version(uses) >= 4:
        print(f"::error::an artifact named {name} was already uploaded by this job (overwrite)")
        return 1
    files: list[dict[str, Any]] = []
    for rel, file in sorted(found.relative().items()):
        sha, size = box.blobs.put(str(file))
        path = f"{name}/{rel}"
        files.append({"path": path, "size": size, "sha256": sha, "media_type": media_type(rel)})
    uploads[name] = files
    box.set_uploads(uploads)
    total = sum(f["size"] for f in files)
    print(f"Root directory: {found.root}")
    print(f"Artifact {name} uploaded: {len(files)} file(s), {total} bytes")
    out(f"artifact-id={name}")
    out("artifact-url=")
    return 0


def _available(box: Box) -> dict[str, list[tuple[str, str]]]:
    """Artifact name -> (path below it, sha256) of every file the needs uploaded."""
    out: dict[str, list[tuple[str, str]]] = {}
    for item in box.needs():
        name, _, rel = str(item["path"]).partition("/")
        if rel:
            out.setdefault(name, []).append((rel, str(item["sha256"])))
    return out


def download(
    with_: dict[str, str],
    box: Box | None,
    workspace: Path,
    env: MutableMapping[str, str],
    out: Output,
) -> int:
    """Write the artifacts of the needs into `path`; 1 when the step fails."""
    if box is None:
        print("::error::no artifact store reaches this job (run it through ansflow)")
        return 1
    for key in ("run-id", "github-token", "repository"):
        if with_.get(key, "").strip():
            print(f"Ignored locally: {key} (only this run's artifacts are here)")
    available = _available(box)
    dest = absolute(with_.get("path", "").strip() or ".", workspace)
    name = with_.get("name", "").strip()
    # upload-artifact's `artifact-id` output is the name here: ids are names.
    ids = [i.strip() for i in with_.get("artifact-ids", "").split(",") if i.strip()]
    if ids and not name:
        missing = [i for i in ids if i not in available]
        if missing:
            print(f"::error::Unable to download artifact(s): no artifact with id {missing[0]}")
            return 1
        chosen = {i: available[i] for i in ids}
        merge = len(ids) == 1 or _true(with_.get("merge-multiple", ""))
    elif name:
        if name not in available:
            known = ", ".join(sorted(available)) or "none"
            print(f"::error::Unable to download artifact(s): Artifact not found for name: {name}")
            print(f"Artifacts of the jobs this one needs: {known}")
            return 1
        chosen = {name: available[name]}
        merge = True
    else:
        pattern = with_.get("pattern", "").strip()
        chosen = {n: f for n, f in available.items() if not pattern or fnmatch.fnmatch(n, pattern)}
        merge = _true(with_.get("merge-multiple", ""))
    for artifact, files in sorted(chosen.items()):
        folder = dest if merge else dest / artifact
        for rel, sha in files:
            target = folder.joinpath(*rel.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".ansflow-download")
            box.blobs.materialize(sha, str(tmp))
            os.chmod(tmp, stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)
            os.replace(tmp, target)
        print(f"Artifact {artifact}: {len(files)} file(s) into {folder}")
    print(f"Total of {len(chosen)} artifact(s) downloaded")
    out(f"download-path={dest}")
    return 0
