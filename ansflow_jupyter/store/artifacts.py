"""The content-addressed blob store of artifacts, on any fsspec file system.

Layout: `<root>/blobs/<sha[:2]>/<sha>` (one file per distinct content: the same file
from 100 runs is stored once) and `<root>/tmp/` for uploads in progress, which are
renamed into place once their hash is known, so a blob is never seen half-written.
The default root is `<jupyter data dir>/ansflow/artifacts`, beside the default database.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any

from ..errors import StoreError

ENV_ARTIFACT_URL = "ANSFLOW_ARTIFACT_URL"
#: Big files are read in 4 MiB chunks; hashing a chunk (sha256 releases the GIL) runs
#: while the previous one is written by a second thread, so storing costs about
#: max(hash, write) instead of their sum. Smaller files are read, hashed and written whole.
CHUNK = 4 << 20
#: Blobs younger than this are never collected: an upload may not have its row yet.
GC_GRACE_SECONDS = 3600.0


def _copy_hashing(first: bytes, src: IO[bytes], dst: IO[bytes]) -> tuple[str, int]:
    """Copy `first` and the rest of src to dst; (sha256, size). The hash of a chunk is
    computed while the previous chunk is being written."""
    digest = hashlib.sha256(first)
    dst.write(first)
    size = len(first)
    buffers = (bytearray(CHUNK), bytearray(CHUNK))
    with ThreadPoolExecutor(1, thread_name_prefix="ansflow-blob-write") as writer:
        pending: Future[int | None] | None = None
        turn = 0
        while n := src.readinto(buffers[turn]):  # type: ignore[attr-defined]
            view = memoryview(buffers[turn])[:n]
            digest.update(view)
            if pending is not None:
                pending.result()  # the other buffer is free again
            pending = writer.submit(dst.write, view)
            size += n
            turn ^= 1
        if pending is not None:
            pending.result()
    return digest.hexdigest(), size


def default_artifact_url(sqlite_file: str | None = None) -> str:
    """`artifacts/` beside the SQLite file; without one `<jupyter data dir>/ansflow/artifacts`
    (beside the default SQLite file)."""
    if sqlite_file and sqlite_file != ":memory:" and not sqlite_file.startswith("file:"):
        return os.path.join(os.path.dirname(os.path.abspath(sqlite_file)), "artifacts")
    from jupyter_core.paths import jupyter_data_dir

    return os.path.join(jupyter_data_dir(), "ansflow", "artifacts")


def resolve_artifact_url(explicit: str | None = None, sqlite_file: str | None = None) -> str:
    """An explicit URL wins over `$ANSFLOW_ARTIFACT_URL`, then the default folder."""
    return explicit or os.environ.get(ENV_ARTIFACT_URL) or default_artifact_url(sqlite_file)


class BlobStore:
    """Blobs named by the sha256 of their content."""

    def __init__(
        self, url: str | None = None, *, sqlite_file: str | None = None, **storage_options: Any
    ) -> None:
        self.url = resolve_artifact_url(url, sqlite_file)
        self._fs: Any = None
        self._folders: set[str] = set()
        if not storage_options and not any(m in self.url for m in ("://", "::", "file:")):
            # A plain folder (the default): fsspec, whose import scans every installed
            # package's entry points, is loaded only when a remote-style call needs it.
            self.root = os.path.abspath(os.path.expanduser(self.url)).rstrip("/")
            self.local = True
            return
        import fsspec
        from fsspec.implementations.local import LocalFileSystem

        try:
            fs, root = fsspec.core.url_to_fs(self.url, **storage_options)
        except (ValueError, ImportError) as exc:
            raise StoreError(f"artifact store {self.url!r}: {exc}") from None
        self._fs = fs
        self.root = root.rstrip("/")
        self.local = isinstance(fs, LocalFileSystem)

    @property
    def fs(self) -> Any:
        """The fsspec file system (made on first use for a plain folder)."""
        if self._fs is None:
            from fsspec.implementations.local import LocalFileSystem

            self._fs = LocalFileSystem()
        return self._fs

    @property
    def location(self) -> str:
        """The URL, for messages."""
        return self.url

    def path(self, sha256: str) -> str:
        """Where the blob of this content lives."""
        return f"{self.root}/blobs/{sha256[:2]}/{sha256}"

    # -- writes ------------------------------------------------------------------------

    def put(self, local_path: str) -> tuple[str, int]:
        """Copy a local file in, hashing on the way; returns (sha256, size)."""
        with open(local_path, "rb", buffering=0) as src:
            first = src.read(CHUNK)
            if len(first) < CHUNK:
                # Small: hash first, so known content costs no write at all.
                sha = hashlib.sha256(first).hexdigest()
                if not self._known(sha):
                    self._write_small(sha, first)
                return sha, len(first)
            tmp = f"{self.root}/tmp/{uuid.uuid4().hex}"
            if self.local:
                self._folder(os.path.dirname(tmp))
            with self._open_write(tmp) as dst:
                sha, size = _copy_hashing(first, src, dst)
        try:
            if self._known(sha):
                self.fs.rm_file(tmp)
            elif self.local:
                os.chmod(tmp, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
                os.makedirs(os.path.dirname(self.path(sha)), exist_ok=True)
                os.replace(tmp, self.path(sha))
            else:
                self.fs.mv(tmp, self.path(sha))
        except BaseException:
            with contextlib.suppress(Exception):
                self.fs.rm_file(tmp)
            raise
        return sha, size

    def _known(self, sha: str) -> bool:
        """True when the blob exists (then it is made fresh again: a garbage collection
        running now must not remove content a step is recording)."""
        final = self.path(sha)
        if not self.local:
            return bool(self.fs.exists(final))
        try:
            os.utime(final)
        except FileNotFoundError:
            return False
        return True

    def _write_small(self, sha: str, data: bytes) -> None:
        final = self.path(sha)
        if not self.local:
            self.fs.pipe_file(final, data)  # one PUT: an object store never shows half
            return
        self._folder(os.path.dirname(final))
        tmp = f"{final}.{uuid.uuid4().hex}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        try:
            fd = os.open(tmp, flags, 0o444)
        except FileNotFoundError:  # the folder was removed behind our back
            self._folders.clear()
            self._folder(os.path.dirname(final))
            fd = os.open(tmp, flags, 0o444)
        try:
            with open(fd, "wb", buffering=0, closefd=True) as dst:
                dst.write(data)
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def _folder(self, path: str) -> None:
        """mkdir -p, remembered: the 256 fan-out folders are created once."""
        if path not in self._folders:
            os.makedirs(path, exist_ok=True)
            self._folders.add(path)

    def _open_write(self, path: str) -> IO[bytes]:
        if self.local:
            try:
                return open(path, "wb", buffering=0)
            except FileNotFoundError:  # the folder was removed behind our back
                self._folders.clear()
                self._folder(os.path.dirname(path))
                return open(path, "wb", buffering=0)
        return self.fs.open(path, "wb")  # type: ignore[no-any-return]

    def materialize(self, sha256: str, dest: str) -> None:
        """The blob copied to the local file `dest`.

        Never a hard link: a step running as root ignores read-only modes and would
        change the stored content for every later reader. copyfile() copies in the
        kernel (copy_file_range/sendfile), so the copy costs little."""
        src = self.path(sha256)
        if self.local:
            shutil.copyfile(src, dest)
            return
        self.fs.get_file(src, dest)

    def open(self, sha256: str) -> IO[bytes]:
        """Read a blob (seekable)."""
        if self.local:
            return open(self.path(sha256), "rb")
        return self.fs.open(self.path(sha256), "rb")  # type: ignore[no-any-return]

    def exists(self, sha256: str) -> bool:
        """True when the blob is present."""
        return bool(self.fs.exists(self.path(sha256)))

    # -- garbage collection --------------------------------------------------------------

    def blobs(self) -> Iterator[tuple[str, float | None]]:
        """Every stored blob: (sha256, modification time if known)."""
        base = f"{self.root}/blobs"
        try:
            found = self.fs.find(base, detail=True)
        except FileNotFoundError:
            return
        for path, info in found.items():
            name = path.rsplit("/", 1)[-1]
            if len(name) != 64:
                continue
            mtime = info.get("mtime") or info.get("LastModified") or info.get("created")
            if mtime is not None and not isinstance(mtime, int | float):
                with contextlib.suppress(AttributeError):
                    mtime = mtime.timestamp()
            yield name, float(mtime) if isinstance(mtime, int | float) else None

    def remove_unreferenced(self, referenced: set[str], now: float | None = None) -> int:
        """Delete blobs no row references (older than the grace period); how many."""
        now = time.time() if now is None else now
        removed = 0
        for sha, mtime in list(self.blobs()):
            if sha in referenced or mtime is None or now - mtime < GC_GRACE_SECONDS:
                continue
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(self.path(sha))
                removed += 1
        return removed
