"""Opening a database: URL resolution, engine setup, schema creation and version check.

Every driver error is turned into one `StoreError` line naming the database (file path,
or the URL without its password) so users see what to fix instead of a traceback.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, insert, inspect, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from ..errors import Conflict, StoreError
from .migrate import SCHEMA_LOCK, migrate
from .models import SCHEMA_VERSION, Meta, metadata

ENV_DB_URL = "ANSFLOW_DB_URL"


def default_db_url() -> str:
    """The SQLite file in the Jupyter data dir shared by the server extension and the CLI."""
    from jupyter_core.paths import jupyter_data_dir

    folder = Path(jupyter_data_dir()) / "ansflow"
    with contextlib.suppress(OSError):  # Store() reports an unusable folder clearly
        folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'ansflow.sqlite'}"


def resolve_db_url(explicit: str | None = None) -> str:
    """An explicit URL (`--db`, traitlet) wins over `$ANSFLOW_DB_URL`, then the default."""
    return explicit or os.environ.get(ENV_DB_URL) or default_db_url()


def normalize_url(raw: str) -> URL:
    """Parse a URL; plain `postgresql://` means psycopg 3 (the driver we ship)."""
    try:
        url = make_url(raw)
    except ArgumentError as exc:
        raise StoreError(f"{raw!r}: not a database URL ({exc})") from None
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url


def display_name(url: URL) -> str:
    """How errors name the store: the SQLite file path, or the URL without the password."""
    if url.get_backend_name() == "sqlite":
        return url.database or ":memory:"
    return url.render_as_string(hide_password=True)


def create_store_engine(url: URL, busy_timeout: float) -> Engine:
    """An engine safe to share between threads, tuned per backend."""
    name = display_name(url)
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            try:
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"{name}: cannot create the folder ({exc.strerror})") from None
        connect_args = {"check_same_thread": False, "timeout": busy_timeout}
        if database in ("", ":memory:"):
            # One shared connection: each new connection would be a new, empty database.
            engine = create_engine(url, connect_args=connect_args, poolclass=StaticPool)
        else:
            engine = create_engine(url, connect_args=connect_args, pool_size=8, max_overflow=16)
        _tune_sqlite(engine, busy_timeout)
        return engine
    server_args: dict[str, Any] = {}
    if url.get_backend_name() == "postgresql":
        # Fail fast on an unreachable server; wait at most busy_timeout for row/table locks.
        server_args = {
            "connect_timeout": max(1, int(busy_timeout)),
            "options": f"-c lock_timeout={int(busy_timeout * 1000)}",
        }
    try:
        # pre_ping: a pooled connection survives a server restart instead of failing once.
        return create_engine(url, connect_args=server_args, pool_pre_ping=True)
    except (NoSuchModuleError, ImportError) as exc:
        raise StoreError(f"{name}: unsupported database ({exc})") from None


def _tune_sqlite(engine: Engine, busy_timeout: float) -> None:
    """WAL + NORMAL sync (durable across process crashes, fast), FKs on, BEGIN IMMEDIATE
    for writers so a read-then-write transaction waits for the lock instead of failing
    with SQLITE_BUSY the moment another writer committed in between."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, record: ConnectionPoolEntry) -> None:
        # Driver autocommit: we emit BEGIN ourselves in the "begin" hook below.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            # Checkpoints are the only fsyncs under NORMAL: every 16 MiB of log, not 4 MiB.
            cursor.execute("PRAGMA wal_autocheckpoint = 4000")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get("ansflow_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


@contextlib.contextmanager
def translate_errors(name: str) -> Iterator[None]:
    """Turn driver errors into one-line domain errors naming the store."""
    try:
        yield
    except IntegrityError as exc:
        raise Conflict(f"{name}: {_first_line(exc)}") from None
    except DBAPIError as exc:
        raise StoreError(f"{name}: {_explain(exc)}") from None


def _first_line(exc: DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)


def _explain(exc: DBAPIError) -> str:
    """A short reason plus a hint for the failures users actually meet."""
    detail = _first_line(exc)
    lowered = detail.lower()
    if "not a database" in lowered or "malformed" in lowered:
        return f"not an SQLite database or corrupt ({detail}); move it away to start afresh"
    if "locked" in lowered or "busy" in lowered or "lock timeout" in lowered:
        return f"the store is locked by another process ({detail})"
    if "unable to open" in lowered or "readonly" in lowered or "read-only" in lowered:
        return f"cannot open or write the store ({detail}); is the location writable?"
    return detail


def ensure_schema(engine: Engine, name: str) -> None:
    """Create the tables of a new store, upgrade an older one, refuse a newer one."""
    with translate_errors(name):
        version = _read_version(engine)
        if version is None:
            # Conflict: another process created it at the same moment; check its version.
            created = False
            with contextlib.suppress(Conflict):
                created = _create(engine, name)
            # Only a store another process made is read again: ours is current (start-up).
            version = SCHEMA_VERSION if created else _read_version(engine)
        if version is not None and 0 < version < SCHEMA_VERSION:
            migrate(engine, name)
            version = _read_version(engine)
    if version != SCHEMA_VERSION:
        raise StoreError(
            f"{name}: store schema version {version}, this ansflow-jupyter needs "
            f"{SCHEMA_VERSION}; use a matching ansflow-jupyter or point --db/"
            f"{ENV_DB_URL} at another store"
        )


def _read_version(engine: Engine) -> int | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table(Meta.name):
            return None
        raw = conn.scalar(select(Meta.c.value).where(Meta.c.key == "schema_version"))
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return -1


_CREATE_LOCK = SCHEMA_LOCK  # creators and upgraders queue on the same lock


def _create(engine: Engine, name: str) -> bool:
    """Create every table in one transaction; False when another process was first."""
    with engine.connect() as conn:
        conn = conn.execution_options(ansflow_write=True)
        with conn.begin():
            if conn.dialect.name == "postgresql":
                # SQLite's BEGIN IMMEDIATE queues creators; PostgreSQL needs a lock for it,
                # else two creators collide on a catalog unique index (a traceback).
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_CREATE_LOCK})")
            if inspect(conn).has_table(Meta.name):
                return False  # another process created it while we waited for the write lock
            existing = set(inspect(conn).get_table_names())
            ours = {t.name for t in metadata.sorted_tables}
            if existing & ours - {Meta.name}:
                raise StoreError(
                    f"{name}: has tables {sorted(existing & ours)} but no ansflow schema "
                    "version; not an ansflow store"
                )
            # Under the lock none of our tables can appear after the check above: skip
            # create_all's per-table existence queries (start-up time).
            metadata.create_all(conn, checkfirst=False)
            conn.execute(insert(Meta), {"key": "schema_version", "value": str(SCHEMA_VERSION)})
    return True
