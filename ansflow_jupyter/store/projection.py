"""`append`: store events and fold them into the executions/steps projections.

One call is one transaction with a handful of statements whatever the batch size:
events go in with one executemany, each touched step row and the execution row are
written once. The folding rules are those of `events.SnapshotBuilder`, so a snapshot read
from the tables equals the events folded in memory.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import BigInteger, Connection, bindparam, case, func, insert, select, update

from ..errors import Conflict, NotFound
from ..events import Event, EventType, StepStatus, has_run
from . import codec
from .models import (
    EXECUTION_FIELDS,
    STEP_FIELDS,
    Artifact,
    Execution,
    Step,
    StepSummary,
    StoredEvent,
)

EXECUTIONS = Execution
STEPS = Step
EVENTS = StoredEvent
SUMMARIES = StepSummary
ARTIFACTS = Artifact

#: execution_update fields the executions row keeps (execution_id is the row's `id`).
_EXECUTION_COLUMNS = tuple(f for f in EXECUTION_FIELDS if f != "execution_id")
_STEP_COLUMNS = tuple(f for f in STEP_FIELDS if f != "step_id")
_STORED_TYPES = (
    EventType.EXECUTION_UPDATE,
    EventType.STEP_UPDATE,
    EventType.LOG_UPDATE,
    EventType.GROUP_UPDATE,
    EventType.ANNOTATION,
)
#: Events that belong to one step but change no column of its row (snapshots read them
#: from the events table: store.Store.snapshot).
MARK_TYPES = (EventType.GROUP_UPDATE, EventType.ANNOTATION)

# Statements are built once: constructing SQLAlchemy statements on every call cost more
# than executing them; these all hit the compiled cache.
_update_step = update(STEPS).where(
    STEPS.c.execution_id == bindparam("k_execution_id"),
    STEPS.c.step_id == bindparam("k_step_id"),
    STEPS.c.attempt == bindparam("k_attempt"),
)
_select_steps = select(STEPS).where(
    STEPS.c.execution_id == bindparam("execution_id"),
    STEPS.c.latest.is_(True),
    STEPS.c.step_id.in_(bindparam("step_ids", expanding=True)),
)
_max_position = select(func.max(STEPS.c.position)).where(
    STEPS.c.execution_id == bindparam("execution_id")
)
_select_last_seq = select(EXECUTIONS.c.last_seq).where(EXECUTIONS.c.id == bindparam("k_id"))
# Moving last_seq only from the value the batch continues is the gap/duplicate check and,
# on PostgreSQL, the row lock that orders two writers of one execution.
_advance = update(EXECUTIONS).where(
    EXECUTIONS.c.id == bindparam("k_id"), EXECUTIONS.c.last_seq == bindparam("k_last")
)
_end = bindparam("end", type_=BigInteger)
_raise_log_lines = (
    update(STEPS)
    .where(
        STEPS.c.execution_id == bindparam("k_execution_id"),
        STEPS.c.step_id == bindparam("k_step_id"),
        STEPS.c.latest.is_(True),
    )
    .values(log_lines=case((STEPS.c.log_lines < _end, _end), else_=STEPS.c.log_lines))
)
_insert_events = insert(EVENTS)
_insert_steps = insert(STEPS)


def append_events(conn: Connection, events: Iterable[Event]) -> None:
    """Insert events (grouped per execution, in order) and apply them to the projections."""
    groups: dict[str, list[Event]] = {}
    for ev in events:
        # Heartbeats and snapshots carry no new facts: they are never stored.
        if ev.seq is not None and ev.type in _STORED_TYPES:
            groups.setdefault(ev.execution_id, []).append(ev)
    for execution_id, group in groups.items():
        _append_one(conn, execution_id, group)


def _append_one(conn: Connection, execution_id: str, events: list[Event]) -> None:
    first = events[0].seq or 0
    for i, ev in enumerate(events):
        if ev.seq != first + i:
            raise Conflict(
                f"execution {execution_id}: event seq {ev.seq} does not follow {first + i - 1}"
            )
    execution: dict[str, Any] = {"last_seq": events[-1].seq}
    for ev in events:
        if ev.type is EventType.EXECUTION_UPDATE:
            execution.update((k, ev.data[k]) for k in _EXECUTION_COLUMNS if k in ev.data)
    # First, so that on PostgreSQL the row lock is held before any step row is read.
    if (
        conn.execute(_advance, {"k_id": execution_id, "k_last": first - 1, **execution}).rowcount
        != 1
    ):
        last_seq = conn.scalar(_select_last_seq, {"k_id": execution_id})
        if last_seq is None:
            raise NotFound(f"execution {execution_id} not found")
        raise Conflict(f"execution {execution_id}: event seq {first} does not follow {last_seq}")

    # Most batches hold only log lines: their step rows need no read, just a SQL max().
    logs_only = all(ev.type is EventType.LOG_UPDATE for ev in events)
    steps = _LogLines() if logs_only else _StepFold(conn, execution_id, events)
    rows: list[dict[str, Any]] = []
    for ev in events:
        data = ev.data
        row: dict[str, Any] = {
            "execution_id": execution_id,
            "seq": ev.seq,
            "type": ev.type.value,
            "ts": ev.ts,
            "payload": None,
            "ts_blob": None,
            "step_id": None,
            "line_offset": None,
            "line_count": None,
        }
        if ev.type is EventType.LOG_UPDATE:
            count = len(data["lines"])
            row.update(step_id=data["step_id"], line_offset=data["offset"], line_count=count)
            row["payload"], row["ts_blob"] = codec.encode(data, is_log=True)
            steps.log_update(data["step_id"], data["offset"] + count)
        else:
            row["payload"] = codec.encode(data, is_log=False)[0]
            if ev.type in MARK_TYPES:
                row["step_id"] = data["step_id"]
            if ev.type is EventType.STEP_UPDATE and isinstance(steps, _StepFold):
                steps.step_update(data)  # (always a _StepFold: the batch is not logs-only)
        rows.append(row)
    conn.execute(_insert_events, rows)

    if isinstance(steps, _LogLines) and not steps.flush(conn, execution_id):
        # A step nobody announced: fold the batch the general way, which creates its row.
        steps = _StepFold(conn, execution_id, events)
        for ev in events:
            steps.log_update(ev.data["step_id"], ev.data["offset"] + len(ev.data["lines"]))
    if isinstance(steps, _StepFold):
        steps.flush()


class _LogLines:
    """The line counts a logs-only batch reaches per step."""

    def __init__(self) -> None:
        self.ends: dict[str, int] = {}

    def log_update(self, step_id: str, end: int) -> None:
        self.ends[step_id] = max(end, self.ends.get(step_id, 0))

    def flush(self, conn: Connection, execution_id: str) -> bool:
        """Raise the counts in SQL; False when a step has no row yet (the caller then
        folds the batch again: max() makes the counts already raised harmless)."""
        for step_id, end in self.ends.items():
            params = {"k_execution_id": execution_id, "k_step_id": step_id, "end": end}
            if conn.execute(_raise_log_lines, params).rowcount != 1:
                return False
        return True


class _StepFold:
    """The latest attempt rows touched by one batch, folded in memory, written at the end."""

    def __init__(self, conn: Connection, execution_id: str, events: Sequence[Event]):
        self.conn = conn
        self.execution_id = execution_id
        wanted = {
            ev.data["step_id"]
            for ev in events
            if ev.type in (EventType.STEP_UPDATE, EventType.LOG_UPDATE)
        }
        self.rows: dict[str, dict[str, Any]] = {}
        if wanted:
            result = conn.execute(
                _select_steps, {"execution_id": execution_id, "step_ids": sorted(wanted)}
            )
            self.rows = {r.step_id: dict(r._mapping) for r in result}
        # The primary key of each stored row, before a placeholder adopts an attempt number.
        self.stored_attempt = {s: row["attempt"] for s, row in self.rows.items()}
        self.dirty: set[str] = set()
        self.new: set[str] = set()
        self.superseded_new: list[dict[str, Any]] = []
        self.superseded_stored: list[dict[str, Any]] = []
        self.next_position: int | None = None

    def step_update(self, data: dict[str, Any]) -> None:
        """Overlay the fields; a new attempt of a step that already ran gets its own row."""
        step_id = data["step_id"]
        row = self.rows.get(step_id) or self._new_row(step_id)
        attempt = data.get("attempt")
        if attempt is not None and attempt != row["attempt"] and has_run(row):
            if step_id in self.new:
                self.superseded_new.append({**row, "latest": False})
            else:
                self.superseded_stored.append(self._change(step_id, {**row, "latest": False}))
                self.new.add(step_id)
            # Start from a copy, as SnapshotBuilder does, so both show the same fields.
            row = self.rows[step_id] = {**row, "latest": True}
        for column in _STEP_COLUMNS:
            if column in data:
                row[column] = data[column]
        if "outputs" in data:
            row["outputs"] = json.dumps(data["outputs"])
        if "artifacts" in data:
            row["artifacts"] = json.dumps(data["artifacts"])
        if step_id in self.new and "template_id" in data:  # a step the run added as it went
            row["template_id"] = data["template_id"]
            row["matrix"] = json.dumps(data.get("matrix") or {})
        self.dirty.add(step_id)

    def log_update(self, step_id: str, end: int) -> None:
        """The step has at least `end` lines (max, as SnapshotBuilder does)."""
        row = self.rows.get(step_id) or self._new_row(step_id)
        if end > row["log_lines"]:
            row["log_lines"] = end
            self.dirty.add(step_id)

    def _new_row(self, step_id: str) -> dict[str, Any]:
        if self.next_position is None:
            top = self.conn.scalar(_max_position, {"execution_id": self.execution_id})
            self.next_position = (top or 0) + 1
        row = new_step_row(self.execution_id, {"step_id": step_id}, self.next_position)
        self.next_position += 1
        self.rows[step_id] = row
        self.new.add(step_id)
        return row

    def _change(self, step_id: str, row: dict[str, Any]) -> dict[str, Any]:
        return {
            "k_execution_id": self.execution_id,
            "k_step_id": step_id,
            "k_attempt": self.stored_attempt[step_id],
            **{c: row[c] for c in _WRITABLE},
        }

    def flush(self) -> None:
        """Write the new rows with one executemany and the changed rows with another."""
        inserts = self.superseded_new + [self.rows[s] for s in self.new]
        if inserts:
            self.conn.execute(_insert_steps, inserts)
        changes = self.superseded_stored + [
            self._change(s, self.rows[s]) for s in self.dirty - self.new
        ]
        if changes:
            self.conn.execute(_update_step, changes)


_WRITABLE = (*_STEP_COLUMNS, "artifacts", "log_lines", "latest", "outputs")


def _key(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("execution_id", "step_id", "attempt")}


def _prefixed_key(row: dict[str, Any]) -> dict[str, Any]:
    return {f"k_{k}": v for k, v in _key(row).items()}


def new_step_row(execution_id: str, step: dict[str, Any], position: int) -> dict[str, Any]:
    """A full steps row for a step seen for the first time (status pending, attempt 0)."""
    row: dict[str, Any] = dict.fromkeys(STEP_FIELDS)
    row.update(
        execution_id=execution_id,
        position=position,
        latest=True,
        status=StepStatus.PENDING.value,
        attempt=0,
        log_lines=0,
    )
    row.update((k, v) for k, v in step.items() if k in STEP_FIELDS or k == "log_lines")
    row["needs"] = json.dumps(list(step.get("needs") or []))
    row["continue_on_error"] = bool(step.get("continue_on_error"))
    row["outputs"] = json.dumps(step["outputs"]) if step.get("outputs") is not None else None
    row["artifacts"] = None
    row["template_id"] = step.get("template_id") or step["step_id"]
    row["matrix"] = json.dumps(step.get("matrix") or {})
    return row


# An expanded id as the pipeline loader writes it: `test[py=3.11,os=linux]`.
_LEG_ID = re.compile(r"^(.+)\[([^=\],]+=[^\],]*(?:,[^=\],]+=[^\],]*)*)\]$")


def legacy_leg(step_id: str) -> tuple[str, dict[str, str]]:
    """Template id and matrix values of a step row written before schema 7 (no columns for
    them): read from its expanded id, as the views did then, so old legs still fold."""
    match = _LEG_ID.match(step_id)
    if match is None:
        return step_id, {}
    pairs = (pair.partition("=") for pair in match.group(2).split(","))
    return match.group(1), {key: value for key, _, value in pairs}
