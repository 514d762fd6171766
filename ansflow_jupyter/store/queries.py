"""Queries over many executions: listing, statistics, retention and deletion."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, select

from ..errors import BadRequest, NotFound
from ..events import ExecutionStatus
from .models import EXECUTION_FIELDS
from .projection import ARTIFACTS, EVENTS, EXECUTIONS, STEPS, SUMMARIES

FINISHED = tuple(s.value for s in ExecutionStatus if s.finished)
RECENT = 20
_LIST_COLUMNS = (
    EXECUTIONS.c.id.label("execution_id"),
    *(EXECUTIONS.c[f] for f in EXECUTION_FIELDS if f != "execution_id"),
    EXECUTIONS.c.path,
    EXECUTIONS.c.created_at,
)
_AMBIGUOUS_SHOWN = 5  # candidates named in the error for an ambiguous id prefix
_DELETE_CHUNK = 500  # ids per IN (...) list: well under every driver's parameter limit


def list_executions(
    conn: Connection,
    status: str | None,
    pipeline: str | None,
    limit: int | None,
    before: str | None,
) -> list[dict[str, Any]]:
    """Newest first; `before` (an execution id) returns the ones created strictly before it."""
    if limit is not None and limit < 0:
        raise BadRequest(f"limit must be a non-negative integer, not {limit!r}")
    if status is not None and status not in {s.value for s in ExecutionStatus}:
        raise BadRequest(f"unknown status {status!r}")
    stmt = select(*_LIST_COLUMNS).order_by(EXECUTIONS.c.num.desc())
    if status is not None:
        stmt = stmt.where(EXECUTIONS.c.status == status)
    if pipeline is not None:
        stmt = stmt.where(EXECUTIONS.c.pipeline_name == pipeline)
    if before is not None:
        cursor = conn.scalar(select(EXECUTIONS.c.num).where(EXECUTIONS.c.id == before))
        if cursor is None:
            raise NotFound(f"execution {before} not found")
        stmt = stmt.where(EXECUTIONS.c.num < cursor)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [dict(row._mapping) for row in conn.execute(stmt)]


def resolve_execution_id(conn: Connection, prefix: str) -> str:
    """The full id of the one execution whose id is or starts with `prefix`.

    NotFound when none matches, BadRequest naming the candidates when several do."""
    if not prefix:
        raise BadRequest("an execution id (or a unique prefix of one) is required")
    if conn.scalar(select(EXECUTIONS.c.id).where(EXECUTIONS.c.id == prefix)) is not None:
        return prefix
    stmt = (
        select(EXECUTIONS.c.id)
        .where(EXECUTIONS.c.id.startswith(prefix, autoescape=True))
        .order_by(EXECUTIONS.c.num.desc())
        .limit(_AMBIGUOUS_SHOWN + 1)
    )
    found = list(conn.scalars(stmt))
    if not found:
        raise NotFound(f"execution {prefix} not found")
    if len(found) > 1:
        more = ", …" if len(found) > _AMBIGUOUS_SHOWN else ""
        shown = ", ".join(found[:_AMBIGUOUS_SHOWN]) + more
        raise BadRequest(f"execution id {prefix!r} is ambiguous ({shown}): give more of it")
    return str(found[0])


def stats(conn: Connection, pipeline: str | None) -> dict[str, Any]:
    """Over finished executions: runs, success rate, p50/p95 duration, the newest runs."""
    stmt = (
        select(
            EXECUTIONS.c.id,
            EXECUTIONS.c.status,
            EXECUTIONS.c.duration,
            EXECUTIONS.c.started_at,
        )
        .where(EXECUTIONS.c.status.in_(FINISHED))
        .order_by(EXECUTIONS.c.num.desc())
    )
    if pipeline is not None:
        stmt = stmt.where(EXECUTIONS.c.pipeline_name == pipeline)
    rows = conn.execute(stmt).all()
    durations = sorted(r.duration for r in rows if r.duration is not None)
    successes = sum(1 for r in rows if r.status == ExecutionStatus.SUCCESS)
    return {
        "runs": len(rows),
        "success_rate": successes / len(rows) if rows else None,
        "p50_duration": percentile(durations, 0.50),
        "p95_duration": percentile(durations, 0.95),
        "recent": [
            {
                "execution_id": r.id,
                "status": r.status,
                "duration": r.duration,
                "started_at": r.started_at,
            }
            for r in rows[:RECENT]
        ],
    }


def percentile(ordered: Sequence[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None when empty."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def retention_candidates(
    conn: Connection, days: float | None, max_executions: int | None, now: float
) -> list[str]:
    """Finished executions older than `days`, or not among the newest `max_executions`
    (active ones count towards that number but are never deleted)."""
    doomed: set[str] = set()
    finished = EXECUTIONS.c.status.in_(FINISHED)
    if days is not None:
        cutoff = now - days * 86400.0
        doomed.update(
            conn.scalars(select(EXECUTIONS.c.id).where(finished, EXECUTIONS.c.created_at < cutoff))
        )
    if max_executions is not None:
        doomed.update(_beyond_newest(conn, max_executions))
    return sorted(doomed)


def _beyond_newest(conn: Connection, keep: int) -> list[str]:
    """Finished executions that are not among the newest `keep` ones."""
    num = EXECUTIONS.c.num
    stmt = select(EXECUTIONS.c.id).where(EXECUTIONS.c.status.in_(FINISHED))
    if keep > 0:
        # The num of the oldest execution still among the newest `keep`.
        floor = conn.scalar(select(num).order_by(num.desc()).offset(keep - 1).limit(1))
        if floor is None:
            return []
        stmt = stmt.where(num < floor)
    return list(conn.scalars(stmt))


def delete_executions(conn: Connection, ids: Sequence[str]) -> None:
    """Delete the events, steps and rows of these executions."""
    for start in range(0, len(ids), _DELETE_CHUNK):
        chunk = list(ids[start : start + _DELETE_CHUNK])
        for table in (EVENTS, STEPS, SUMMARIES, ARTIFACTS):
            conn.execute(delete(table).where(table.c.execution_id.in_(chunk)))
        conn.execute(delete(EXECUTIONS).where(EXECUTIONS.c.id.in_(chunk)))
