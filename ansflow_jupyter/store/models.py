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
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

#: Bumped on any change of the tables below. Changes are additive only (new tables, new
#: nullable columns): an older store is upgraded when opened (migrate.py), a newer one is
#: refused with a clear error.
#: 2: steps.needs, steps.continue_on_error; 3: owner liveness, cancel; 4: outputs, summaries;
#: 5: artifacts, cache, step messages; 6: executions.options; 7: steps.template_id, .matrix.
SCHEMA_VERSION = 7


#: Every table of the store. Plain Core tables: the store never maps rows to objects, and
#: sqlalchemy.orm would cost every `ansflow` command a large part of its start-up.
metadata = MetaData()


#: Key/value facts about the store itself (`schema_version`).
Meta = Table(
    "ansflow_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)


#: One run of a pipeline: the projection of its `execution_update` events plus its owner.
Execution = Table(
    "executions",
    metadata,
    # `num` orders executions by creation even when two share a created_at; it is the
    # pagination cursor behind `before=<execution id>`.
    Column(
        "num", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("id", String(128), unique=True, nullable=False),
    Column("pipeline_name", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("source_sha256", String(64), nullable=False),
    Column("path", Text),
    Column("status", String(32), nullable=False),
    Column("message", Text),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("duration", Float),
    Column("steps_total", Integer, default=0, nullable=False),
    Column("steps_done", Integer, default=0, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_seq", BigInteger, default=0, nullable=False),
    Column("owner_pid", Integer),
    Column("owner_host", Text),
    Column("owner_create_time", Float),
    # The owner proves it is alive by moving heartbeat_at every few seconds; any process
    # on the store marks a run whose owner stopped beating `interrupted`.
    Column("heartbeat_at", Float),
    # A cancel asked for by another process; the owner sees it and cancels the run.
    Column("cancel_requested_at", Float),
    # How it was started (JSON: a workflow's job, event, inputs, strict; max_parallel), so
    # a re-run repeats it. NULL: the defaults (and every run recorded before version 6).
    Column("options", Text),
    Index("ix_executions_created_at", "created_at"),
    Index("ix_executions_pipeline_name", "pipeline_name"),
    Index("ix_executions_status", "status"),
)


#: One attempt of one step; `latest` marks the attempt a snapshot shows.
Step = Table(
    "steps",
    metadata,
    Column("execution_id", String(128), ForeignKey("executions.id"), primary_key=True),
    Column("step_id", Text, primary_key=True),
    Column("attempt", Integer, primary_key=True),
    # Order of the step in the pipeline (snapshot order); new step ids are appended.
    Column("position", Integer, nullable=False),
    Column("latest", Boolean, default=True, nullable=False),
    Column("name", Text),
    Column("status", String(32), nullable=False),
    Column("exit_code", Integer),
    Column("reason", String(32)),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("duration", Float),
    Column("pid", Integer),
    Column("pgid", Integer),
    Column("host", Text),
    Column("create_time", Float),
    Column("log_lines", BigInteger, default=0, nullable=False),
    Column("reused_from", String(128)),
    # What views need of the spec, so a snapshot alone draws the DAG and tells a tolerated
    # failure from a fatal one: the needs as a JSON list, and `continue-on-error`.
    Column("needs", Text),
    Column("continue_on_error", Boolean, default=False, nullable=False),
    # The step's outputs as a JSON object of strings, and its summary's size in bytes.
    Column("outputs", Text),
    Column("summary", Integer),
    Column("message", Text),  # the reason in words
    Column("cached_from", String(128)),
    Column("cache_miss", Text),
    Column("artifacts", Text),  # json {count, bytes}
    # The matrix leg a step is (views group legs by them): the id as written, and the
    # leg's values as a JSON object.
    Column("template_id", Text),
    Column("matrix", Text),
    Index("ix_steps_latest", "execution_id", "latest", "position"),
)


#: The Markdown summary of one attempt ($ANSFLOW_STEP_SUMMARY); events carry its size.
StepSummary = Table(
    "step_summaries",
    metadata,
    Column("execution_id", String(128), ForeignKey("executions.id"), primary_key=True),
    Column("step_id", Text, primary_key=True),
    Column("attempt", Integer, primary_key=True),
    Column("markdown", Text, nullable=False),
)


#: One envelope with a seq; `log_update` rows also carry step_id/offset/line_count.
StoredEvent = Table(
    "events",
    metadata,
    Column("execution_id", String(128), ForeignKey("executions.id"), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("type", String(32), nullable=False),
    Column("ts", Float, nullable=False),
    Column("payload", Text, nullable=False),  # json of event.data (see codec.py)
    Column("ts_blob", LargeBinary),  # log_update timestamps
    Column("step_id", Text),
    # The line number of lines[0] in its step ("offset" is an SQL keyword).
    Column("line_offset", BigInteger),
    Column("line_count", Integer),
    Index("ix_events_logs", "execution_id", "step_id", "line_offset"),
)


#: One file a step collected; its content is the blob `sha256` of the artifact store.
Artifact = Table(
    "artifacts",
    metadata,
    Column("execution_id", String(128), primary_key=True),
    Column("step_id", Text, primary_key=True),
    Column("path", Text, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("media_type", Text, nullable=False),
    Index("ix_artifacts_sha256", "sha256"),
)


#: A cache entry: the key of a successful step and what replays it (json `data`).
CacheRow = Table(
    "cache_entries",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("scope", Text, nullable=False),
    Column("execution_id", String(128), nullable=False),
    Column("step_id", Text, nullable=False),
    Column("data", Text, nullable=False),
    Column("bytes", BigInteger, default=0, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("used_at", Float, nullable=False),
    Index("ix_cache_scope", "scope", "created_at"),
    Index("ix_cache_used_at", "used_at"),
)


#: The stat index of one folder's hashed input files, like git's index: one row per
#: folder holding json {relative path: [size, mtime_ns, inode, sha256]}. One row reads
#: 10,000 entries ~10x faster than 10,000 rows.
FileHash = Table(
    "file_hashes",
    metadata,
    Column("root", Text, primary_key=True),
    Column("entries", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
)


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
