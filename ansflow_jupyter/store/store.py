"""The Store: the durable record of every execution (SQLAlchemy; SQLite or PostgreSQL).

Every method is blocking and thread-safe: the service calls them from a worker thread,
never from the event loop. Each write is one transaction.
"""

from __future__ import annotations

import hashlib
import json
import socket
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select

from ..errors import BadRequest, Conflict, NotFound
from ..events import (
    Event,
    EventType,
    ExecutionStatus,
    StepStatus,
    earlier_attempt,
    fold_mark,
)
from . import codec, liveness, logs, queries
from .db import (
    create_store_engine,
    display_name,
    ensure_schema,
    normalize_url,
    resolve_db_url,
    translate_errors,
)
from .models import EXECUTION_FIELDS, STEP_FIELDS
from .projection import (
    EVENTS,
    EXECUTIONS,
    MARK_TYPES,
    STEPS,
    SUMMARIES,
    append_events,
    legacy_leg,
    new_step_row,
)
from .recovery import Owner, closing_events, kill_leftover, kill_tagged, owner_gone

_ACTIVE = (ExecutionStatus.PENDING.value, ExecutionStatus.RUNNING.value)
_TYPES = {t.value: t for t in EventType}
_NO_LIMIT = 2**62  # a bound LIMIT keeps one cached statement for both cases
_events_since = (
    select(EVENTS.c.seq, EVENTS.c.type, EVENTS.c.ts, EVENTS.c.payload, EVENTS.c.ts_blob)
    .where(EVENTS.c.execution_id == bindparam("execution_id"), EVENTS.c.seq > bindparam("since"))
    .order_by(EVENTS.c.seq)
    .limit(bindparam("limit"))
)
_updates_since = (
    select(EVENTS.c.seq, EVENTS.c.type, EVENTS.c.ts, EVENTS.c.payload, EVENTS.c.ts_blob)
    .where(
        EVENTS.c.execution_id == bindparam("execution_id"),
        EVENTS.c.seq > bindparam("since"),
        EVENTS.c.type == EventType.EXECUTION_UPDATE.value,
    )
    .order_by(EVENTS.c.seq)
)

# Groups and annotations of a snapshot: folded from their events (few, unlike log lines).
# Attempts that a retry replaced (their rows are no longer `latest`), oldest first.
_select_earlier = (
    select(
        STEPS.c.step_id, STEPS.c.attempt, STEPS.c.exit_code, STEPS.c.finished_at, STEPS.c.log_lines
    )
    .where(STEPS.c.execution_id == bindparam("execution_id"), STEPS.c.latest.is_(False))
    .order_by(STEPS.c.position, STEPS.c.attempt)
)
_select_marks = (
    select(EVENTS.c.type, EVENTS.c.payload)
    .where(
        EVENTS.c.execution_id == bindparam("execution_id"),
        EVENTS.c.type.in_([t.value for t in MARK_TYPES]),
    )
    .order_by(EVENTS.c.seq)
)


class Store:
    """Events, execution/step projections and logs of every execution, in one database."""

    def __init__(self, url: str | None = None, *, busy_timeout: float = 10.0):
        """Open (creating if needed) the store at `url` (default: `resolve_db_url()`).

        `busy_timeout` (seconds) bounds how long a write waits for another writer's lock
        before failing with StoreError.
        """
        self.url = normalize_url(resolve_db_url(url))
        self.name = display_name(self.url)
        self.engine = create_store_engine(self.url, busy_timeout)
        try:
            ensure_schema(self.engine, self.name)
        except BaseException:
            self.engine.dispose()
            raise

    def __repr__(self) -> str:
        return f"Store({self.name!r})"

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()

    # -- transactions -------------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with translate_errors(self.name), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with translate_errors(self.name), self.engine.connect() as conn:
            conn.execution_options(ansflow_write=True)
            with conn.begin():
                yield conn

    # -- writes -------------------------------------------------------------------------

    def create_execution(
        self,
        execution_id: str,
        pipeline_name: str,
        source: str,
        path: str | None = None,
        owner: Owner | None = None,
        steps: Sequence[dict[str, Any]] = (),
        created_at: float | None = None,
        options: str | None = None,
    ) -> Event:
        """Record a new pending execution and its pending steps; returns its seq-0 snapshot.

        `steps` are dicts with at least `step_id` and `name`; `owner` defaults to this process;
        `options` is the JSON text of how it was started (kept for re-runs).
        """
        owner = owner or Owner.current()
        execution = {
            "id": execution_id,
            "pipeline_name": pipeline_name,
            "source": source,
            "source_sha256": hashlib.sha256(source.encode("utf-8", "replace")).hexdigest(),
            "path": path,
            "status": ExecutionStatus.PENDING.value,
            "message": None,
            "started_at": None,
            "finished_at": None,
            "duration": None,
            "steps_total": len(steps),
            "steps_done": 0,
            "created_at": time.time() if created_at is None else created_at,
            "last_seq": 0,
            "owner_pid": owner.pid,
            "owner_host": owner.host,
            "owner_create_time": owner.create_time,
            "heartbeat_at": time.time(),
            "cancel_requested_at": None,
            "options": options,
        }
        rows = [new_step_row(execution_id, dict(s), i) for i, s in enumerate(steps, 1)]
        with self._write() as conn:
            conn.execute(insert(EXECUTIONS), execution)
            if rows:
                conn.execute(insert(STEPS), rows)
            liveness.notify(conn, execution_id)
        return _snapshot_event(execution_id, 0, execution, rows)

    def append(self, events: Iterable[Event]) -> None:
        """Persist events and fold them into the projections, all in one transaction.

        Events need consecutive seqs continuing the stored ones (Conflict otherwise);
        heartbeats and snapshots are ignored.
        """
        events = list(events)
        if not events:
            return
        with self._write() as conn:
            append_events(conn, events)
            for execution_id in {event.execution_id for event in events}:
                liveness.notify(conn, execution_id)

    def delete_execution(self, execution_id: str) -> None:
        """Delete an execution with its steps and events; Conflict while it is active."""
        with self._write() as conn:
            status = conn.scalar(select(EXECUTIONS.c.status).where(EXECUTIONS.c.id == execution_id))
            if status is None:
                raise NotFound(f"execution {execution_id} not found")
            if status in _ACTIVE:
                raise Conflict(f"execution {execution_id} is {status}; cancel it first")
            queries.delete_executions(conn, [execution_id])

    def apply_retention(self, days: float | None, max_executions: int | None) -> int:
        """Delete finished executions older than `days` or beyond the newest
        `max_executions`; returns how many were deleted."""
        with self._write() as conn:
            doomed = queries.retention_candidates(conn, days, max_executions, time.time())
            queries.delete_executions(conn, doomed)
        return len(doomed)

    def recover(self, owner_timeout: float | None = None) -> list[str]:
        """Mark executions whose owner is gone `interrupted` and kill the process groups
        their running steps left behind on this host; returns their ids.

        An owner is gone when it is a dead process of this host, or (with `owner_timeout`)
        when its heartbeat is older than that many seconds, wherever it runs.
        """
        host = socket.gethostname()
        with self._read() as conn:
            candidates = list(
                conn.execute(select(EXECUTIONS).where(EXECUTIONS.c.status.in_(_ACTIVE)))
            )
        stale_before = None if owner_timeout is None else time.time() - owner_timeout
        recovered: list[str] = []
        for execution in candidates:
            stale = (
                stale_before is not None
                and execution.heartbeat_at is not None
                and execution.heartbeat_at < stale_before
            )
            gone = owner_gone(execution, host)
            if not stale and not gone:
                continue
            # A live (stopped, frozen) or remote owner is judged by its silence: say so.
            message = None
            if not gone:
                message = (
                    f"interrupted: the process running it (pid {execution.owner_pid}) "
                    f"wrote no heartbeat for {owner_timeout:g} s"
                )
            try:
                if self._interrupt(execution.id, host, message):
                    recovered.append(execution.id)
            except (Conflict, NotFound):
                continue  # another process recovered or deleted it meanwhile
        return recovered

    def interrupt(self, execution_id: str, message: str) -> bool:
        """Mark one unfinished execution `interrupted` now (its owner is stopping without
        finishing it); False when it had already ended."""
        return self._interrupt(execution_id, socket.gethostname(), message)

    def _interrupt(self, execution_id: str, host: str, message: str | None = None) -> bool:
        with self._write() as conn:
            # Re-read under the write lock: another process may have recovered it already.
            execution = _execution_row(conn, execution_id)
            if execution.status not in _ACTIVE:
                return False
            steps = list(_latest_steps(conn, execution_id))
            for step in steps:
                if step.status == StepStatus.RUNNING:
                    kill_leftover(step, host)
            kill_tagged(execution_id)
            seq = iter(range(execution.last_seq + 1, execution.last_seq + len(steps) + 2))
            append_events(
                conn, closing_events(execution, steps, lambda: next(seq), message=message)
            )
            liveness.notify(conn, execution_id)
        return True

    def heartbeat(self, execution_ids: Collection[str]) -> None:
        """Owners prove they are alive: move the heartbeat of their active runs."""
        with self._write() as conn:
            liveness.beat(conn, execution_ids, time.time())

    def request_cancel(self, execution_id: str) -> bool:
        """Ask the process running an execution to cancel it; False if it has ended."""
        with self._write() as conn:
            status = _execution_row(conn, execution_id, EXECUTIONS.c.status).status
            if status not in _ACTIVE:
                return False
            liveness.request_cancel(conn, execution_id, time.time())
            liveness.notify(conn, execution_id)
        return True

    def watch_rows(self, tracked: Collection[str] = ()) -> list[Any]:
        """(id, status, last_seq, cancel_requested_at, created_at) of active executions
        and of `tracked` ones."""
        with self._read() as conn:
            return liveness.watch_rows(conn, tracked)

    def updates_since(self, execution_id: str, since: int) -> list[Event]:
        """Stored execution_update events with seq > since (what the global monitor needs)."""
        with self._read() as conn:
            rows = conn.execute(_updates_since, {"execution_id": execution_id, "since": since})
            decode = codec.decode
            return [
                Event(_TYPES[t], execution_id, seq, decode(p, blob), ts)
                for seq, t, ts, p, blob in rows
            ]

    # -- reads --------------------------------------------------------------------------

    def snapshot(self, execution_id: str) -> Event:
        """The whole state as a SNAPSHOT envelope whose seq is the last event it reflects."""
        with self._read() as conn:
            row = _execution_row(conn, execution_id)
            steps = [s._mapping for s in _latest_steps(conn, execution_id)]
            marks = conn.execute(_select_marks, {"execution_id": execution_id}).all()
            earlier = conn.execute(_select_earlier, {"execution_id": execution_id}).all()
        snapshot = _snapshot_event(execution_id, row.last_seq, dict(row._mapping), steps)
        by_id = {step["step_id"]: step for step in snapshot.data["steps"]}
        for attempt in earlier:
            step = by_id.get(attempt.step_id)
            if step is not None:
                step.setdefault("attempts", []).append(earlier_attempt(dict(attempt._mapping)))
        for type_, payload in marks:
            data = codec.decode(payload, None)
            step = by_id.get(data.get("step_id"))
            if step is not None:
                fold_mark(step, _TYPES[type_], data)
        return snapshot

    def events_since(self, execution_id: str, since: int, limit: int | None = None) -> list[Event]:
        """Stored events with seq > since, in order (at most `limit`)."""
        if limit is not None and limit < 0:
            raise BadRequest(f"limit must be a non-negative integer, not {limit!r}")
        params = {
            "execution_id": execution_id,
            "since": since,
            "limit": _NO_LIMIT if limit is None else limit,
        }
        with self._read() as conn:
            _execution_row(conn, execution_id, EXECUTIONS.c.id)
            rows = conn.execute(_events_since, params).all()
        decode = codec.decode
        return [
            Event(_TYPES[t], execution_id, seq, decode(p, blob), ts) for seq, t, ts, p, blob in rows
        ]

    def last_seq(self, execution_id: str) -> int:
        """The seq of the newest stored event (0 before the first)."""
        with self._read() as conn:
            return int(_execution_row(conn, execution_id, EXECUTIONS.c.last_seq).last_seq)

    def get_execution(self, execution_id: str) -> dict[str, Any]:
        """Execution fields plus source, path, creation time, owner and last seq."""
        with self._read() as conn:
            row = dict(_execution_row(conn, execution_id)._mapping)
        row["execution_id"] = row.pop("id")
        row.pop("num")
        return row

    def resolve_execution_id(self, prefix: str) -> str:
        """The full id of the execution `prefix` names (a whole id or a unique prefix)."""
        with self._read() as conn:
            return queries.resolve_execution_id(conn, prefix)

    def list_executions(
        self,
        status: str | None = None,
        pipeline: str | None = None,
        limit: int | None = 50,
        before: str | None = None,
    ) -> list[dict[str, Any]]:
        """Executions newest first; `before` is the id of the last one of the previous page."""
        with self._read() as conn:
            return queries.list_executions(conn, status, pipeline, limit, before)

    def log_lines(
        self,
        execution_id: str,
        step: str | None = None,
        offset: int = 0,
        limit: int | None = None,
        tail: int | None = None,
        q: str | None = None,
    ) -> list[dict[str, Any]]:
        """Lines as `{step_id, offset, stream, line, ts}`; `q` is a substring or `/regex/`."""
        query = logs.LogQuery(execution_id, step, offset, limit, tail, q)
        logs.compile_query(q)  # a bad regex is a BadRequest even for an unknown execution
        with self._read() as conn:
            _execution_row(conn, execution_id, EXECUTIONS.c.id)
            return logs.read_lines(conn, query)

    def log_search(
        self,
        execution_id: str,
        step: str | None = None,
        offset: int = 0,
        limit: int | None = None,
        tail: int | None = None,
        q: str | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """The lines `log_lines` gives and the exact number of lines of the whole log (of
        `step`, or all) that match `q` (all lines without it)."""
        query = logs.LogQuery(execution_id, step, offset, limit, tail, q)
        logs.compile_query(q)
        with self._read() as conn:
            _execution_row(conn, execution_id, EXECUTIONS.c.id)
            if q and tail is None:
                return logs.search(conn, query)  # one pass for both
            return logs.read_lines(conn, query), logs.count_lines(conn, query)

    def log_text(
        self,
        execution_id: str,
        step: str | None = None,
        offset: int = 0,
        limit: int | None = None,
        tail: int | None = None,
        q: str | None = None,
        *,
        prefix: bool = False,
        strip: bool = False,
    ) -> Iterator[str]:
        """The lines of `log_lines` as text chunks, streamed from one read transaction
        (consume it in one thread; NotFound comes with the first chunk)."""
        query = logs.LogQuery(execution_id, step, offset, limit, tail, q)
        logs.compile_query(q)
        with self._read() as conn:
            _execution_row(conn, execution_id, EXECUTIONS.c.id)
            yield from logs.text_chunks(conn, query, prefix=prefix, strip=strip)

    def stats(self, pipeline: str | None = None) -> dict[str, Any]:
        """Runs, success rate, p50/p95 duration and the recent finished runs."""
        with self._read() as conn:
            return queries.stats(conn, pipeline)

    def step_attempts(self, execution_id: str, step_id: str) -> list[dict[str, Any]]:
        """Every attempt of one step, oldest first (a snapshot shows only the latest)."""
        with self._read() as conn:
            rows = conn.execute(
                select(STEPS)
                .where(STEPS.c.execution_id == execution_id, STEPS.c.step_id == step_id)
                .order_by(STEPS.c.attempt)
            ).all()
            if not rows:
                _execution_row(conn, execution_id, EXECUTIONS.c.id)
                raise NotFound(f"step {step_id} of execution {execution_id} not found")
        return [_step_fields(row._mapping) for row in rows]

    def save_summary(self, execution_id: str, step_id: str, attempt: int, markdown: str) -> None:
        """Keep one attempt's Markdown summary (replacing an earlier save of it)."""
        key = {"execution_id": execution_id, "step_id": step_id, "attempt": attempt}
        with self._write() as conn:
            conn.execute(delete(SUMMARIES).where(*(SUMMARIES.c[k] == v for k, v in key.items())))
            conn.execute(insert(SUMMARIES), {**key, "markdown": markdown})

    def summaries(self, execution_id: str, step_id: str | None = None) -> list[dict[str, Any]]:
        """`{step_id, attempt, markdown}` of each step's latest attempt that wrote one, in
        pipeline order; NotFound for an unknown execution or step."""
        latest = STEPS.c.latest.is_(True)
        with self._read() as conn:
            _execution_row(conn, execution_id, EXECUTIONS.c.id)
            stmt = (
                select(SUMMARIES.c.step_id, SUMMARIES.c.attempt, SUMMARIES.c.markdown)
                .join(
                    STEPS,
                    (STEPS.c.execution_id == SUMMARIES.c.execution_id)
                    & (STEPS.c.step_id == SUMMARIES.c.step_id)
                    & (STEPS.c.attempt == SUMMARIES.c.attempt),
                )
                .where(SUMMARIES.c.execution_id == execution_id, latest)
                .order_by(STEPS.c.position)
            )
            if step_id is not None:
                known = conn.scalar(
                    select(func.count()).where(
                        STEPS.c.execution_id == execution_id, STEPS.c.step_id == step_id
                    )
                )
                if not known:
                    raise NotFound(f"step {step_id} of execution {execution_id} not found")
                stmt = stmt.where(SUMMARIES.c.step_id == step_id)
            return [dict(row._mapping) for row in conn.execute(stmt)]

    def count_executions(self) -> int:
        """How many executions the store holds."""
        return self.count_rows()["executions"]

    def count_rows(self) -> dict[str, int]:
        """Rows per table (for diagnostics and tests)."""
        with self._read() as conn:
            return {
                table.name: int(conn.scalar(select(func.count()).select_from(table)) or 0)
                for table in (EXECUTIONS, STEPS, EVENTS)
            }


def _execution_row(conn: Connection, execution_id: str, *columns: Any) -> Any:
    stmt = select(*columns) if columns else select(EXECUTIONS)
    row = conn.execute(stmt.where(EXECUTIONS.c.id == execution_id)).first()
    if row is None:
        raise NotFound(f"execution {execution_id} not found")
    return row


def _latest_steps(conn: Connection, execution_id: str) -> Iterator[Any]:
    return iter(
        conn.execute(
            select(STEPS)
            .where(STEPS.c.execution_id == execution_id, STEPS.c.latest.is_(True))
            .order_by(STEPS.c.position)
        )
    )


def _step_fields(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A step as snapshots show it: step_update fields plus log_lines."""
    fields = {
        **{f: row[f] for f in STEP_FIELDS},
        "log_lines": row["log_lines"],
        "needs": json.loads(row["needs"]) if row["needs"] else [],
        "continue_on_error": bool(row["continue_on_error"]),
        "outputs": json.loads(row["outputs"]) if row["outputs"] else None,
        "artifacts": json.loads(row["artifacts"]) if row.get("artifacts") else None,
    }
    if row.get("template_id"):
        fields["template_id"] = row["template_id"]
        fields["matrix"] = json.loads(row["matrix"]) if row.get("matrix") else {}
    else:  # a row written before these columns existed
        fields["template_id"], fields["matrix"] = legacy_leg(row["step_id"])
    return fields


def _snapshot_event(
    execution_id: str, seq: int, execution: Mapping[Any, Any], steps: Sequence[Mapping[Any, Any]]
) -> Event:
    """The SnapshotBuilder.payload() shape built from table rows."""
    execution = {**execution, "execution_id": execution_id}
    payload = {
        "execution": {f: execution[f] for f in EXECUTION_FIELDS},
        "steps": [_step_fields(s) for s in steps],
    }
    return Event(EventType.SNAPSHOT, execution_id, seq, payload)


__all__ = ["Owner", "Store"]
