"""The SQL schema: executions, steps (one row per attempt), events (also the log store), meta.

Events are the source of truth; `executions` and `steps` are projections kept in step by
`Store.append` so list/snapshot queries never replay events. A `log_update` event is one
row holding its whole batch of lines: the `events` table is the chunked log store, there is
no second copy of the lines.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: Bumped on any change of the tables below. Changes are additive only (new tables, new
#: nullable columns): an older store is upgraded when opened (migrate.py), a newer one is
#: refused with a clear error.
#: 2: steps.needs, steps.continue_on_error; 3: owner liveness, cancel; 4: outputs, summaries;
#: 5: artifacts, cache, step messages.
SCHEMA_VERSION = 5


class Base(DeclarativeBase):
    """Declarative base of the store's tables."""


class Meta(Base):
    """Key/value facts about the store itself (`schema_version`)."""

    __tablename__ = "ansflow_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Execution(Base):
    """One run of a pipeline: the projection of its `execution_update` events plus its owner."""

    __tablename__ = "executions"

    # `num` orders executions by creation even when two share a created_at; it is the
    # pagination cursor behind `before=<execution id>`.
    num: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    id: Mapped[str] = mapped_column(String(128), unique=True)
    pipeline_name: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    source_sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32))
    message: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[float | None] = mapped_column(Float)
    finished_at: Mapped[float | None] = mapped_column(Float)
    duration: Mapped[float | None] = mapped_column(Float)
    steps_total: Mapped[int] = mapped_column(Integer, default=0)
    steps_done: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[float] = mapped_column(Float)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    owner_pid: Mapped[int | None] = mapped_column(Integer)
    owner_host: Mapped[str | None] = mapped_column(Text)
    owner_create_time: Mapped[float | None] = mapped_column(Float)
    # The owner proves it is alive by moving heartbeat_at every few seconds; any process
    # on the store marks a run whose owner stopped beating `interrupted`.
    heartbeat_at: Mapped[float | None] = mapped_column(Float)
    # A cancel asked for by another process; the owner sees it and cancels the run.
    cancel_requested_at: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (
        Index("ix_executions_created_at", "created_at"),
        Index("ix_executions_pipeline_name", "pipeline_name"),
        Index("ix_executions_status", "status"),
    )


class Step(Base):
    """One attempt of one step; `latest` marks the attempt a snapshot shows."""

    __tablename__ = "steps"

    execution_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("executions.id"), primary_key=True
    )
    step_id: Mapped[str] = mapped_column(Text, primary_key=True)
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Order of the step in the pipeline (snapshot order); new step ids are appended.
    position: Mapped[int] = mapped_column(Integer)
    latest: Mapped[bool] = mapped_column(Boolean, default=True)
    name: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32))
    exit_code: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[float | None] = mapped_column(Float)
    finished_at: Mapped[float | None] = mapped_column(Float)
    duration: Mapped[float | None] = mapped_column(Float)
    pid: Mapped[int | None] = mapped_column(Integer)
    pgid: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str | None] = mapped_column(Text)
    create_time: Mapped[float | None] = mapped_column(Float)
    log_lines: Mapped[int] = mapped_column(BigInteger, default=0)
    reused_from: Mapped[str | None] = mapped_column(String(128))
    # What views need of the spec, so a snapshot alone draws the DAG and tells a tolerated
    # failure from a fatal one: the needs as a JSON list, and `continue-on-error`.
    needs: Mapped[str | None] = mapped_column(Text)
    continue_on_error: Mapped[bool] = mapped_column(Boolean, default=False)
    # The step's outputs as a JSON object of strings, and its summary's size in bytes.
    outputs: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str | None] = mapped_column(Text)  # the reason in words
    cached_from: Mapped[str | None] = mapped_column(String(128))
    cache_miss: Mapped[str | None] = mapped_column(Text)
    artifacts: Mapped[str | None] = mapped_column(Text)  # json {count, bytes}

    __table_args__ = (Index("ix_steps_latest", "execution_id", "latest", "position"),)


class StepSummary(Base):
    """The Markdown summary of one attempt ($ANSFLOW_STEP_SUMMARY); events carry its size."""

    __tablename__ = "step_summaries"

    execution_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("executions.id"), primary_key=True
    )
    step_id: Mapped[str] = mapped_column(Text, primary_key=True)
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True)
    markdown: Mapped[str] = mapped_column(Text)


class StoredEvent(Base):
    """One envelope with a seq; `log_update` rows also carry step_id/offset/line_count."""

    __tablename__ = "events"

    execution_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("executions.id"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    ts: Mapped[float] = mapped_column(Float)
    payload: Mapped[str] = mapped_column(Text)  # json of event.data (see codec.py)
    ts_blob: Mapped[bytes | None] = mapped_column(LargeBinary)  # log_update timestamps
    step_id: Mapped[str | None] = mapped_column(Text)
    # The line number of lines[0] in its step ("offset" is an SQL keyword).
    line_offset: Mapped[int | None] = mapped_column(BigInteger)
    line_count: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (Index("ix_events_logs", "execution_id", "step_id", "line_offset"),)


class Artifact(Base):
    """One file a step collected; its content is the blob `sha256` of the artifact store."""

    __tablename__ = "artifacts"

    execution_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    step_id: Mapped[str] = mapped_column(Text, primary_key=True)
    path: Mapped[str] = mapped_column(Text, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_artifacts_sha256", "sha256"),)


class CacheRow(Base):
    """A cache entry: the key of a successful step and what replays it (json `data`)."""

    __tablename__ = "cache_entries"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    scope: Mapped[str] = mapped_column(Text)
    execution_id: Mapped[str] = mapped_column(String(128))
    step_id: Mapped[str] = mapped_column(Text)
    data: Mapped[str] = mapped_column(Text)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[float] = mapped_column(Float)
    used_at: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        Index("ix_cache_scope", "scope", "created_at"),
        Index("ix_cache_used_at", "used_at"),
    )


class FileHash(Base):
    """The stat index of one folder's hashed input files, like git's index: one row per
    folder holding json {relative path: [size, mtime_ns, inode, sha256]}. One row reads
    10,000 entries ~10x faster than 10,000 rows."""

    __tablename__ = "file_hashes"

    root: Mapped[str] = mapped_column(Text, primary_key=True)
    entries: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[float] = mapped_column(Float)


#: Field names of the `execution_update` payload, in the seed's order (docs/server.md).
EXECUTION_FIELDS = (
    "execution_id",
    "pipeline_name",
    "status",
    "message",
    "started_at",
    "finished_at",
    "duration",
    "steps_total",
    "steps_done",
)

#: Fields of a `step_update` payload the steps table keeps (plus where its process lives).
STEP_FIELDS = (
    "step_id",
    "name",
    "status",
    "attempt",
    "exit_code",
    "reason",
    "started_at",
    "finished_at",
    "duration",
    "pid",
    "pgid",
    "host",
    "create_time",
    "reused_from",
    "summary",
    "message",
    "cached_from",
    "cache_miss",
)
