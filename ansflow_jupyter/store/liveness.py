"""Runs shared between processes: owner heartbeats, cancel requests and change signals.

Every process on a store sees every run: the owner writes `heartbeat_at` every few
seconds and reads `cancel_requested_at` (set by whoever pressed Cancel); the others
watch the `executions` rows of active runs to relay their events. Waking up is cheap:
on PostgreSQL every write transaction sends a NOTIFY on commit; on SQLite a dedicated
connection polls `PRAGMA data_version`, which moves whenever another connection commits.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Collection
from typing import Any

from sqlalchemy import Connection, bindparam, or_, select, text, update
from sqlalchemy.engine import URL

from ..events import ExecutionStatus
from .projection import EXECUTIONS

log = logging.getLogger("ansflow_jupyter.store")

CHANNEL = "ansflow"
ACTIVE = (ExecutionStatus.PENDING.value, ExecutionStatus.RUNNING.value)

_watch_active = select(
    EXECUTIONS.c.id,
    EXECUTIONS.c.status,
    EXECUTIONS.c.last_seq,
    EXECUTIONS.c.cancel_requested_at,
    EXECUTIONS.c.created_at,
).where(EXECUTIONS.c.status.in_(ACTIVE))
_watch_tracked = select(
    EXECUTIONS.c.id,
    EXECUTIONS.c.status,
    EXECUTIONS.c.last_seq,
    EXECUTIONS.c.cancel_requested_at,
    EXECUTIONS.c.created_at,
).where(
    or_(
        EXECUTIONS.c.status.in_(ACTIVE),
        EXECUTIONS.c.id.in_(bindparam("ids", expanding=True)),
    )
)
_beat = (
    update(EXECUTIONS)
    .where(
        EXECUTIONS.c.id.in_(bindparam("ids", expanding=True)),
        EXECUTIONS.c.status.in_(ACTIVE),
    )
    .values(heartbeat_at=bindparam("now"))
)
_request_cancel = (
    update(EXECUTIONS)
    .where(
        EXECUTIONS.c.id == bindparam("k_id"),
        EXECUTIONS.c.status.in_(ACTIVE),
        EXECUTIONS.c.cancel_requested_at.is_(None),
    )
    .values(cancel_requested_at=bindparam("now"))
)
_notify = text(f"SELECT pg_notify('{CHANNEL}', :payload)")


def watch_rows(conn: Connection, tracked: Collection[str]) -> list[Any]:
    """(id, status, last_seq, cancel_requested_at, created_at) of active runs and of
    `tracked` ones."""
    if tracked:
        return list(conn.execute(_watch_tracked, {"ids": list(tracked)}))
    return list(conn.execute(_watch_active))


def beat(conn: Connection, execution_ids: Collection[str], now: float) -> None:
    """Move the heartbeat of the active runs among `execution_ids`."""
    if execution_ids:
        conn.execute(_beat, {"ids": list(execution_ids), "now": now})


def request_cancel(conn: Connection, execution_id: str, now: float) -> None:
    """Record a cancel request for an active run (kept if one is already there)."""
    conn.execute(_request_cancel, {"k_id": execution_id, "now": now})


def notify(conn: Connection, execution_id: str) -> None:
    """Wake every watcher on PostgreSQL when this transaction commits (no-op elsewhere)."""
    if conn.dialect.name == "postgresql":
        conn.execute(_notify, {"payload": execution_id})


class ChangeSignal:
    """Calls `on_change` (from a daemon thread) soon after another connection commits.

    Without a way to watch (an in-memory database) it never fires: the caller's periodic
    tick is then the only wake-up."""

    def __init__(self, url: URL, on_change: Callable[[], None], poll_interval: float = 0.05):
        self._url = url
        self._on_change = on_change
        self._poll = poll_interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Begin watching in a daemon thread (it never delays the process's exit)."""
        backend = self._url.get_backend_name()
        target: Callable[[], None] | None = None
        if backend == "postgresql":
            target = self._listen
        elif backend == "sqlite" and self._url.database not in (None, "", ":memory:"):
            target = self._poll_sqlite
        if target is not None:
            self._thread = threading.Thread(target=target, name="ansflow-store-watch", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop watching (the thread ends at its next poll)."""
        self._stop.set()

    def _poll_sqlite(self) -> None:
        # data_version is per connection and changes when ANOTHER connection commits, so
        # one private connection sees every writer (this process's pool included).
        database = str(self._url.database)
        uri = database.startswith("file:")
        while not self._stop.is_set():
            try:
                conn = sqlite3.connect(database, uri=uri, check_same_thread=False, timeout=1)
            except sqlite3.Error:
                self._stop.wait(1.0)
                continue
            try:
                last = None
                while not self._stop.wait(self._poll):
                    version = conn.execute("PRAGMA data_version").fetchone()[0]
                    if version != last:
                        if last is not None:
                            self._on_change()
                        last = version
            except sqlite3.Error as exc:
                log.debug("ansflow: store watch failed (%s); reconnecting", exc)
                self._on_change()  # we may have missed a change
            finally:
                conn.close()

    def _listen(self) -> None:
        import psycopg

        dsn = self._url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._stop.is_set():
            try:
                with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._on_change()  # anything committed before LISTEN took effect
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=0.5, stop_after=1):
                            self._on_change()
            except psycopg.Error as exc:
                log.debug("ansflow: LISTEN failed (%s); reconnecting", exc)
                with contextlib.suppress(Exception):
                    self._on_change()
                self._stop.wait(1.0)
