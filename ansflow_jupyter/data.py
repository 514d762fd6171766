"""What the engine needs from the artifact store and the cache index (implemented in store/).

The engine may not import the store, so these are Protocols (in a module importing nothing
of ours); the service hands an implementation to the Executor. Every method is blocking:
the engine calls them from a worker thread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ArtifactFile:
    """One collected file: its path relative to the step's working directory ('/'-separated)."""

    path: str
    size: int
    sha256: str
    media_type: str

    def to_dict(self) -> dict[str, object]:
        """The JSON form (REST, cache entries)."""
        return {
            "path": self.path,
            "size": self.size,
            "sha256": self.sha256,
            "media_type": self.media_type,
        }


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """What a successful cached step left: enough to replay it without running it."""

    key: str
    scope: str  # pipeline name + step id: where a miss looks for the previous entry
    execution_id: str
    step_id: str
    components: Mapping[str, str]  # part of the key -> its hash (tells why a key changed)
    inputs: Mapping[str, str]  # input file -> sha256
    outputs: Mapping[str, str] = field(default_factory=dict)
    artifacts: Sequence[ArtifactFile] = ()


#: A file's stat fingerprint and its sha256, like git's index: (size, mtime_ns, inode, sha256).
StatRow = tuple[int, int, int, str]


class BlobAccess(Protocol):
    """Reading and writing blobs; picklable, so a step on another machine can use it."""

    def put(self, local_path: str) -> tuple[str, int]:
        """Store a file's content once; returns (sha256, size)."""

    def materialize(self, sha256: str, dest: str) -> None:
        """Copy the blob to the local path `dest`."""


class ArtifactStore(BlobAccess, Protocol):
    """Content-addressed blobs plus the per-execution list of collected files."""

    @property
    def location(self) -> str:
        """Where the blobs live (for messages)."""

    def worker_blobs(self) -> BlobAccess:
        """The blobs for steps running on other machines (Dask workers)."""

    def record(self, execution_id: str, step_id: str, files: Sequence[ArtifactFile]) -> None:
        """Persist the metadata rows of a step's artifacts."""


class CacheIndex(Protocol):
    """The cache entries and the stat index of hashed input files."""

    def known_hashes(self, root: str) -> dict[str, StatRow]:
        """The stat index of a folder: relative path -> (size, mtime_ns, inode, sha256)."""

    def remember_hashes(self, root: str, rows: Mapping[str, StatRow]) -> None:
        """Add or replace entries of a folder's stat index."""

    def lookup(self, key: str) -> CacheEntry | None:
        """The entry of this key (marked as used now), or None."""

    def latest(self, scope: str) -> CacheEntry | None:
        """The newest entry of this scope (to tell why a key missed)."""

    def entries(self, scope: str) -> list[CacheEntry]:
        """Every entry of a scope, newest first (prefix matches of `actions/cache`)."""

    def save(self, entry: CacheEntry) -> None:
        """Store an entry (replacing one with the same key) and evict beyond the size limit."""
