"""Artifact rows, the cache index and the stat index, in the store's database.

`DataStore` implements the engine's ArtifactStore and CacheIndex (engine/data.py) on a
Store (SQL) and a BlobStore (fsspec). Blocking and thread-safe, like Store.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from ..data import ArtifactFile, CacheEntry, StatRow
from ..errors import NotFound
from .artifacts import BlobStore
from .models import CacheRow, FileHash
from .projection import ARTIFACTS, EXECUTIONS
from .store import Store

CACHE = CacheRow
HASHES = FileHash
DEFAULT_CACHE_MAX_BYTES = 10 * 1024**3
#: Least-recently-used order is kept to the minute.
USED_AT_RESOLUTION = 60.0
_CHUNK = 500


class DataStore:
    """Artifacts (blobs + rows) and cache entries of one store."""

    def __init__(
        self, store: Store, blobs: BlobStore, *, cache_max_bytes: int = DEFAULT_CACHE_MAX_BYTES
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.cache_max_bytes = cache_max_bytes

    # -- ArtifactStore -------------------------------------------------------------------

    @property
    def location(self) -> str:
        """Where the blobs live."""
        return self.blobs.location

    def put(self, local_path: str) -> tuple[str, int]:
        """Store a file's content once; (sha256, size)."""
        return self.blobs.put(local_path)

    def materialize(self, sha256: str, dest: str) -> None:
        """The blob as a local file."""
        self.blobs.materialize(sha256, dest)

    def worker_blobs(self) -> BlobStore:
        """The BlobStore itself: it pickles (an fsspec file system and a root)."""
        return self.blobs

    def record(self, execution_id: str, step_id: str, files: Sequence[ArtifactFile]) -> None:
        """Replace the artifact rows of one step of one execution."""
        rows = [{"execution_id": execution_id, "step_id": step_id, **f.to_dict()} for f in files]
        with self.store._write() as conn:
            conn.execute(
                delete(ARTIFACTS).where(
                    ARTIFACTS.c.execution_id == execution_id, ARTIFACTS.c.step_id == step_id
                )
            )
            if rows:
                conn.execute(insert(ARTIFACTS), rows)

    # -- reads for the views -------------------------------------------------------------

    def list_artifacts(self, execution_id: str, step_id: str | None = None) -> list[dict[str, Any]]:
        """Rows `{step_id, path, size, sha256, media_type}` in step then path order."""
        self.store.get_execution(execution_id)  # NotFound for an unknown execution
        stmt = select(ARTIFACTS).where(ARTIFACTS.c.execution_id == execution_id)
        if step_id is not None:
            stmt = stmt.where(ARTIFACTS.c.step_id == step_id)
        with self.store._read() as conn:
            rows = conn.execute(stmt.order_by(ARTIFACTS.c.step_id, ARTIFACTS.c.path)).all()
        return [
            {k: r._mapping[k] for k in ("step_id", "path", "size", "sha256", "media_type")}
            for r in rows
        ]

    def files(self, execution_id: str, step_id: str) -> list[ArtifactFile]:
        """One step's artifacts (to carry them into a re-run that reuses the step)."""
        return [
            ArtifactFile(r["path"], r["size"], r["sha256"], r["media_type"])
            for r in self.list_artifacts(execution_id, step_id)
        ]

    def artifact(self, execution_id: str, step_id: str, path: str) -> dict[str, Any]:
        """One artifact row; NotFound when absent."""
        for row in self.list_artifacts(execution_id, step_id):
            if row["path"] == path:
                return row
        raise NotFound(f"no artifact '{path}' of step {step_id} in execution {execution_id}")

    # -- stat index -----------------------------------------------------------------------

    def known_hashes(self, root: str) -> dict[str, StatRow]:
        """The stat index of a folder: relative path -> (size, mtime_ns, inode, sha256)."""
        with self.store._read() as conn:
            raw = conn.scalar(select(HASHES.c.entries).where(HASHES.c.root == root))
        return _stat_rows(raw)

    def remember_hashes(self, root: str, rows: Mapping[str, StatRow]) -> None:
        """Merge entries into a folder's stat index (one row rewritten)."""
        with self.store._write() as conn:
            raw = conn.scalar(select(HASHES.c.entries).where(HASHES.c.root == root))
            merged = {**_stat_rows(raw), **rows}
            conn.execute(delete(HASHES).where(HASHES.c.root == root))
            conn.execute(
                insert(HASHES),
                {"root": root, "entries": json.dumps(merged), "updated_at": time.time()},
            )

    # -- cache ------------------------------------------------------------------------------

    def lookup(self, key: str) -> CacheEntry | None:
        """The entry of `key`, marked used now; None when absent or a blob is missing."""
        with self.store._read() as conn:
            row = conn.execute(select(CACHE).where(CACHE.c.key == key)).first()
        if row is None:
            return None
        entry = _entry(row)
        if not all(self.blobs.exists(f.sha256) for f in entry.artifacts):
            return None
        now = time.time()
        if now - row.used_at > USED_AT_RESOLUTION:  # a write per hit costs more than it tells
            with self.store._write() as conn:
                conn.execute(update(CACHE).where(CACHE.c.key == key).values(used_at=now))
        return entry

    def latest(self, scope: str) -> CacheEntry | None:
        """The newest entry of a scope."""
        with self.store._read() as conn:
            row = conn.execute(
                select(CACHE)
                .where(CACHE.c.scope == scope)
                .order_by(CACHE.c.created_at.desc())
                .limit(1)
            ).first()
        return None if row is None else _entry(row)

    def entries(self, scope: str) -> list[CacheEntry]:
        """Every entry of a scope, newest first."""
        with self.store._read() as conn:
            rows = conn.execute(
                select(CACHE).where(CACHE.c.scope == scope).order_by(CACHE.c.created_at.desc())
            ).all()
        return [_entry(row) for row in rows]

    def save(self, entry: CacheEntry) -> None:
        """Store an entry, then evict the least recently used beyond cache_max_bytes."""
        now = time.time()
        data = {
            "components": dict(entry.components),
            "inputs": dict(entry.inputs),
            "outputs": dict(entry.outputs),
            "artifacts": [f.to_dict() for f in entry.artifacts],
        }
        row = {
            "key": entry.key,
            "scope": entry.scope,
            "execution_id": entry.execution_id,
            "step_id": entry.step_id,
            "data": json.dumps(data),
            "bytes": sum(f.size for f in entry.artifacts),
            "created_at": now,
            "used_at": now,
        }
        with self.store._write() as conn:
            conn.execute(delete(CACHE).where(CACHE.c.key == entry.key))
            conn.execute(insert(CACHE), row)
            self._evict(conn)

    def _evict(self, conn: Any) -> None:
        total = int(conn.scalar(select(func.coalesce(func.sum(CACHE.c.bytes), 0))) or 0)
        if total <= self.cache_max_bytes:
            return
        doomed: list[str] = []
        for key, size in conn.execute(
            select(CACHE.c.key, CACHE.c.bytes).order_by(CACHE.c.used_at)
        ).all():
            if total <= self.cache_max_bytes:
                break
            doomed.append(key)
            total -= int(size)
        for start in range(0, len(doomed), _CHUNK):
            conn.execute(delete(CACHE).where(CACHE.c.key.in_(doomed[start : start + _CHUNK])))

    def cache_entries(self) -> list[dict[str, Any]]:
        """Every entry, most recently used first (for `ansflow cache list`)."""
        with self.store._read() as conn:
            rows = conn.execute(select(CACHE).order_by(CACHE.c.used_at.desc())).all()
        return [
            {
                "key": r.key,
                "pipeline": r.scope.split("\x1f", 1)[0],
                "step_id": r.step_id,
                "execution_id": r.execution_id,
                "bytes": r.bytes,
                "created_at": r.created_at,
                "used_at": r.used_at,
            }
            for r in rows
        ]

    def clear_cache(self) -> int:
        """Delete every cache entry (their blobs go at the next collection); how many."""
        with self.store._write() as conn:
            return int(conn.execute(delete(CACHE)).rowcount or 0)

    # -- retention ---------------------------------------------------------------------------

    def referenced(self) -> set[str]:
        """Every sha256 an artifact row or a cache entry holds."""
        with self.store._read() as conn:
            shas = set(conn.scalars(select(ARTIFACTS.c.sha256).distinct()))
            for (data,) in conn.execute(select(CACHE.c.data)).all():
                shas.update(f["sha256"] for f in json.loads(data).get("artifacts", []))
        return shas

    def collect_garbage(self, now: float | None = None) -> int:
        """Remove artifact rows of deleted executions and unreferenced blobs; blobs removed."""
        with self.store._write() as conn:
            conn.execute(
                delete(ARTIFACTS).where(ARTIFACTS.c.execution_id.not_in(select(EXECUTIONS.c.id)))
            )
        return self.blobs.remove_unreferenced(self.referenced(), now)


def _stat_rows(raw: str | None) -> dict[str, StatRow]:
    if not raw:
        return {}
    return {k: (int(v[0]), int(v[1]), int(v[2]), str(v[3])) for k, v in json.loads(raw).items()}


def _entry(row: Any) -> CacheEntry:
    data = json.loads(row.data)
    return CacheEntry(
        key=row.key,
        scope=row.scope,
        execution_id=row.execution_id,
        step_id=row.step_id,
        components=data.get("components", {}),
        inputs=data.get("inputs", {}),
        outputs=data.get("outputs", {}),
        artifacts=tuple(
            ArtifactFile(f["path"], f["size"], f["sha256"], f["media_type"])
            for f in data.get("artifacts", [])
        ),
    )
