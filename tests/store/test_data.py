"""Artifact rows, cache entries and the stat index on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ansflow_jupyter.data import ArtifactFile, CacheEntry
from ansflow_jupyter.errors import NotFound
from ansflow_jupyter.store import Store
from ansflow_jupyter.store.artifacts import BlobStore
from ansflow_jupyter.store.data import DataStore


def _data(store: Store, tmp_path: Path, **kw: int) -> DataStore:
    return DataStore(store, BlobStore(str(tmp_path / "blobs")), **kw)


def test_artifact_rows_per_step(store: Store, tmp_path: Path, make_run: Callable[..., Any]) -> None:
    run = make_run(steps=("a", "b"))
    data = _data(store, tmp_path)
    src = tmp_path / "f.txt"
    src.write_text("hello")
    sha, size = data.put(str(src))
    assert (size, data.put(str(src))) == (5, (sha, 5))  # the same content: the same blob
    files = [ArtifactFile("x/f.txt", 5, sha, "text/plain")]
    data.record(run.id, "a", files)
    data.record(run.id, "b", files)
    data.record(run.id, "b", files)  # recording again replaces, never duplicates
    assert [(r["step_id"], r["path"]) for r in data.list_artifacts(run.id)] == [
        ("a", "x/f.txt"),
        ("b", "x/f.txt"),
    ]
    assert data.files(run.id, "a") == files
    assert data.artifact(run.id, "b", "x/f.txt")["sha256"] == sha
    with pytest.raises(NotFound):
        data.artifact(run.id, "b", "nope")
    with pytest.raises(NotFound):
        data.list_artifacts("unknown")


def test_cache_entries_lookup_latest_and_lru(store: Store, tmp_path: Path) -> None:
    data = _data(store, tmp_path, cache_max_bytes=10)
    assert data.lookup("k1") is None
    one = CacheEntry("k1", "p\x1fs", "e1", "s", {"command": "c1"}, {"a.py": "h1"}, {"v": "1"})
    data.save(one)
    found = data.lookup("k1")
    assert found is not None and found.outputs == {"v": "1"} and found.inputs == {"a.py": "h1"}
    src = tmp_path / "big.txt"
    src.write_text("x" * 8)
    sha, _ = data.put(str(src))
    two = CacheEntry("k2", "p\x1fs", "e2", "s", {}, {}, {}, (ArtifactFile("big", 8, sha, "t"),))
    three = CacheEntry("k3", "p\x1fs", "e3", "s", {}, {}, {}, (ArtifactFile("big2", 8, sha, "t"),))
    data.save(two)
    latest = data.latest("p\x1fs")
    assert latest is not None and latest.key == "k2"
    data.save(three)  # 16 bytes > 10: the least recently used entry with bytes goes
    keys = {e["key"] for e in data.cache_entries()}
    assert "k3" in keys and "k2" not in keys
    assert sha in data.referenced()
    assert data.clear_cache() == len(keys)


def test_stat_index_merges_per_folder(store: Store, tmp_path: Path) -> None:
    data = _data(store, tmp_path)
    assert data.known_hashes("/r") == {}
    data.remember_hashes("/r", {"a": (1, 2, 3, "h")})
    data.remember_hashes("/r", {"b": (4, 5, 6, "i")})
    data.remember_hashes("/other", {"a": (7, 8, 9, "j")})
    assert data.known_hashes("/r") == {"a": (1, 2, 3, "h"), "b": (4, 5, 6, "i")}
