"""Pipeline files under the server's root dir: resolve a user path safely, find pipelines."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from ..errors import BadRequest, NotFound
from .summary import Budget, pipeline_summary

MAX_DEPTH = 6
MAX_FILES = 2_000
MAX_PIPELINE_BYTES = 1_000_000
SKIP_DIRS = frozenset({"node_modules", "__pycache__", "site-packages"})
SUFFIXES = (".yml", ".yaml")
#: The one hidden folder looked into: GitHub Actions workflows live in .github/workflows.
WORKFLOWS = (".github", "workflows")


class OutsideRoot(BadRequest):
    """A path that leaves the server's root dir (answered 403)."""


def resolve_in_root(root_dir: str | Path, path: str) -> Path:
    """The real path of an existing file inside root; OutsideRoot, BadRequest or NotFound."""
    if not isinstance(path, str) or not path.strip():
        raise BadRequest("'path' must be a non-empty string")
    if "\0" in path:
        raise BadRequest("'path' must not contain NUL bytes")
    root = Path(root_dir).resolve()
    # Symlinks are resolved before the check, so a link pointing outside is refused too.
    candidate = Path(path)
    resolved = (candidate if candidate.is_absolute() else root / candidate).resolve()
    if not resolved.is_relative_to(root):
        raise OutsideRoot(f"path {path!r} is outside the server root directory")
    if not resolved.is_file():
        raise NotFound(f"pipeline file {path!r} not found")
    return resolved


def find_pipelines(root_dir: str | Path) -> list[dict[str, Any]]:
    """Pipeline files under root (blocking: run it off the event loop), sorted by path."""
    root = Path(root_dir).resolve()
    found: list[dict[str, Any]] = []
    budget = Budget()
    for file in _candidate_files(root):
        summary = pipeline_summary(file, budget, MAX_PIPELINE_BYTES)
        if summary is not None:
            found.append({"path": file.relative_to(root).as_posix(), **summary})
    return sorted(found, key=lambda p: str(p["path"]))


def _candidate_files(root: Path) -> Iterator[Path]:
    """*.yml / *.yaml files, bounded in depth and count; hidden and vendored dirs skipped."""
    scanned = 0
    for dirpath, dirnames, filenames in os.walk(root):
        depth = len(Path(dirpath).relative_to(root).parts)
        if depth >= MAX_DEPTH:
            dirnames[:] = []
        else:
            dirnames[:] = sorted(
                d
                for d in dirnames
                if (not d.startswith(".") and d not in SKIP_DIRS) or _workflows(dirpath, d)
            )
        for name in sorted(filenames):
            scanned += 1
            if scanned > MAX_FILES:
                return
            if name.endswith(SUFFIXES) and not name.startswith("."):
                file = Path(dirpath) / name
                if _runnable(root, file):
                    yield file


def _workflows(dirpath: str, name: str) -> bool:
    """`.github`, and `workflows` inside it: the hidden folders worth scanning."""
    if name == WORKFLOWS[0]:
        return True
    return name == WORKFLOWS[1] and Path(dirpath).name == WORKFLOWS[0]


def _runnable(root: Path, file: Path) -> bool:
    """What a POST can run: a path JSON can carry (valid UTF-8) that stays inside root
    once symlinks are resolved (`resolve_in_root` refuses the others)."""
    try:
        str(file.relative_to(root)).encode("utf-8")
        return file.resolve().is_relative_to(root)
    except (UnicodeEncodeError, OSError, RuntimeError):
        return False


# The scan parses YAML in Python: on a thread it held the GIL in 5 ms slices and REST p99
# rose to ~0.4 s during a cold listing of 20 big files. A one-process pool keeps it (and
# its mtime cache) away from the event loop's interpreter; spawned, so nothing of the
# server's threads or sockets is inherited.
_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def start_scanner() -> ProcessPoolExecutor:
    """The scanner process pool, started now (warmed up) if it is not running."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
            # Ctrl-C at a terminal reaches the whole foreground group: the scanner would
            # print a KeyboardInterrupt traceback into the server's log (and die, if the
            # user then resumes). Spawned with SIGINT ignored, it keeps ignoring it (an
            # ignored disposition survives exec; Python then installs no handler).
            main = threading.current_thread() is threading.main_thread()
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
            try:
                _pool.submit(os.getpid)  # start the process now, not at the first listing
            finally:
                if previous is not None:
                    signal.signal(signal.SIGINT, previous)
        return _pool


def stop_scanner() -> None:
    """Stop the scanner process (a later listing starts a new one)."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


async def scan_pipelines(root_dir: str | Path) -> list[dict[str, Any]]:
    """`find_pipelines` in the scanner process (restarted if it died or was stopped)."""
    global _pool
    pool = start_scanner()
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(pool, find_pipelines, str(root_dir))
    except BrokenProcessPool:
        with _pool_lock:
            if _pool is pool:
                _pool = None
        return await asyncio.to_thread(find_pipelines, root_dir)
