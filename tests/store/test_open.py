"""Opening stores: URLs, schema versions and the failures users meet (one clear line each)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from ansflow_jupyter.errors import StoreError
from ansflow_jupyter.events import Event, EventType
from ansflow_jupyter.store import SCHEMA_VERSION, Owner, Store, default_db_url, resolve_db_url


def test_url_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ANSFLOW_DB_URL", raising=False)
    default = default_db_url()
    assert default == f"sqlite:///{tmp_path / 'data' / 'ansflow' / 'ansflow.sqlite'}"
    assert (tmp_path / "data" / "ansflow").is_dir()
    assert resolve_db_url(None) == default
    monkeypatch.setenv("ANSFLOW_DB_URL", "sqlite:///env.sqlite")
    assert resolve_db_url(None) == "sqlite:///env.sqlite"
    assert resolve_db_url("sqlite:///explicit.sqlite") == "sqlite:///explicit.sqlite"


def test_schema_version_mismatch_is_refused(store_url: str) -> None:
    store = Store(store_url)
    name = store.name
    newer = SCHEMA_VERSION + 1
    with store.engine.begin() as conn:
        conn.execute(
            text("UPDATE ansflow_meta SET value = :v WHERE key = 'schema_version'"),
            {"v": str(newer)},
        )
    store.close()
    with pytest.raises(StoreError) as info:
        Store(store_url)
    message = str(info.value)
    expected = f"{name}: store schema version {newer}, this ansflow-jupyter needs {SCHEMA_VERSION};"
    assert message.startswith(expected)
    assert "\n" not in message


def test_an_older_store_is_upgraded_in_place(store_url: str) -> None:
    store = Store(store_url)
    store.create_execution("old", "demo", "src", None, owner=Owner.current(), steps=[])
    with store.engine.begin() as conn:
        # What an older version wrote: a column of today missing, an older version number.
        conn.execute(text("ALTER TABLE steps DROP COLUMN continue_on_error"))
        conn.execute(text("UPDATE ansflow_meta SET value = '1' WHERE key = 'schema_version'"))
    store.close()
    upgraded = Store(store_url)
    assert upgraded.get_execution("old")["pipeline_name"] == "demo"
    with upgraded.engine.connect() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("steps")}
        version = conn.scalar(text("SELECT value FROM ansflow_meta WHERE key = 'schema_version'"))
    assert "continue_on_error" in columns
    assert version == str(SCHEMA_VERSION)
    upgraded.close()


def test_reopening_keeps_the_data(store_url: str) -> None:
    first = Store(store_url)
    first.create_execution("e1", "demo", "src", None, owner=Owner.current(), steps=[])
    first.close()
    second = Store(store_url)
    assert second.get_execution("e1")["pipeline_name"] == "demo"
    second.close()


def test_foreign_tables_are_not_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE executions (x INTEGER)")
    with pytest.raises(StoreError, match=f"^{path}: .*not an ansflow store"):
        Store(f"sqlite:///{path}")


def test_folder_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    path = blocker / "sub" / "ansflow.sqlite"
    with pytest.raises(StoreError, match=f"^{path}: cannot create the folder"):
        Store(f"sqlite:///{path}")


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_folder_where_no_file_can_be_created() -> None:
    # /proc refuses new files even to root, unlike a chmod-ed folder.
    with pytest.raises(StoreError) as info:
        Store("sqlite:////proc/ansflow.sqlite")
    assert str(info.value) == (
        "/proc/ansflow.sqlite: cannot open or write the store (unable to open database file);"
        " is the location writable?"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders anyway")
def test_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(StoreError, match=f"^{folder / 'a.sqlite'}: cannot open"):
            Store(f"sqlite:///{folder / 'a.sqlite'}")
    finally:
        folder.chmod(0o700)


def test_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "ansflow.sqlite"
    path.write_bytes(b"this is not a database\x00\xff" * 512)
    with pytest.raises(StoreError) as info:
        Store(f"sqlite:///{path}")
    message = str(info.value)
    assert message.startswith(f"{path}: not an SQLite database or corrupt")
    assert "\n" not in message


def test_locked_database_fails_after_the_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "ansflow.sqlite"
    store = Store(f"sqlite:///{path}", busy_timeout=0.3)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        with pytest.raises(StoreError, match=f"^{path}: the store is locked"):
            store.create_execution("e1", "demo", "src", None, steps=[])
        assert time.monotonic() - started < 5
        assert store.list_executions() == []  # WAL: reading still works meanwhile
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    store.create_execution("e1", "demo", "src", None, steps=[])  # the lock is gone: fine
    store.close()


def test_password_is_never_shown() -> None:
    # Port 1 refuses at once: the connection error must not echo the password.
    with pytest.raises(StoreError) as info:
        Store("postgresql://ansflow:s3cret-pw@127.0.0.1:1/ansflow", busy_timeout=1)
    message = str(info.value)
    assert "s3cret-pw" not in message
    assert message.startswith("postgresql+psycopg://ansflow:***@127.0.0.1:1/ansflow: ")


def test_not_a_url() -> None:
    with pytest.raises(StoreError, match="not a database URL"):
        Store("no scheme here")


def test_two_stores_on_one_database_write_concurrently(store_url: str) -> None:
    # Two processes (the server and `ansflow run`) share the default SQLite file: WAL and
    # BEGIN IMMEDIATE make their writers queue instead of failing.
    stores = [Store(store_url), Store(store_url)]
    errors: list[BaseException] = []

    def writer(store: Store, execution_id: str) -> None:
        try:
            store.create_execution(execution_id, "demo", "src", None, steps=[{"step_id": "a"}])
            for seq in range(1, 201):
                data = {"step_id": "a", "stream": "stdout", "offset": seq - 1, "lines": ["x"]}
                store.append([Event(EventType.LOG_UPDATE, execution_id, seq, data)])
                store.snapshot(execution_id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(s, f"e{i}")) for i, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for store in stores:
        assert [store.last_seq(f"e{i}") for i in range(2)] == [200, 200]
        store.close()
    if store_url.startswith("sqlite"):
        engine = create_engine(store_url)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        engine.dispose()


def test_processes_creating_one_new_store_at_once_all_open_it(store_url: str) -> None:
    # Four `ansflow run`s started together on a store nobody has created yet: each opens
    # it (one creates the tables, the others wait for it or find them), none fails.
    code = "import sys; from ansflow_jupyter.store import Store; Store(sys.argv[1]).close()"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, store_url], stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    errors = [proc.communicate()[1].decode() for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 4, errors
    store = Store(store_url)
    with store.engine.connect() as conn:
        version = conn.execute(text("SELECT value FROM ansflow_meta")).scalars().all()
    store.close()
    assert version == [str(SCHEMA_VERSION)]
