"""The event envelope shared by every transport (WebSocket, widget messages, CLI --json).

No I/O here: only the states, the envelope and the snapshot reducer, so the executor,
the store, the server and the kernel agree on one definition.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict

ENVELOPE_VERSION = 1


class ExecutionStatus(enum.StrEnum):
    """Lifecycle of one execution."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def finished(self) -> bool:
        """True for the states an execution never leaves."""
        return self not in (ExecutionStatus.PENDING, ExecutionStatus.RUNNING)


class StepStatus(enum.StrEnum):
    """Lifecycle of one step."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"

    @property
    def finished(self) -> bool:
        """True for the states a step never leaves."""
        return self not in (StepStatus.PENDING, StepStatus.RUNNING)


class StepReason(enum.StrEnum):
    """Why a step ended the way it did."""

    EXIT = "exit"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    NEEDS_FAILED = "needs-failed"
    CONDITION_FALSE = "condition-false"
    SPAWN_ERROR = "spawn-error"
    INTERRUPTED = "interrupted"
    REUSED = "reused"
    WORKER_LOST = "worker-lost"
    CACHED = "cached"
    OUTPUT_ERROR = "output-error"
    KERNEL_DIED = "kernel-died"
    # Workflow files: why a job (or a matrix leg) does not run on this machine.
    RUNNER_OS = "runner-os"
    UNSUPPORTED_ACTION = "unsupported-action"
    NEEDS_CONTAINER = "needs-container"
    TOOL_MISSING = "tool-missing"
    FAIL_FAST = "fail-fast"


class EventType(enum.StrEnum):
    """The kinds of envelope."""

    SNAPSHOT = "snapshot"
    EXECUTION_UPDATE = "execution_update"
    STEP_UPDATE = "step_update"
    LOG_UPDATE = "log_update"
    GROUP_UPDATE = "group_update"
    ANNOTATION = "annotation"
    HEARTBEAT = "heartbeat"


# -- payloads: the `data` of each envelope type (openapi.yaml components/schemas has the
# same shapes for the front end). Producers annotate with these; keys marked NotRequired
# appear only when they apply. New kinds (group_update, annotation) add a TypedDict here
# and a schema there.


class ExecutionUpdateData(TypedDict):
    """`execution_update`: the execution's fields after a change."""

    execution_id: str
    pipeline_name: str
    status: str  # ExecutionStatus
    message: str | None
    started_at: float | None
    finished_at: float | None
    duration: float | None
    steps_total: int
    steps_done: int


class ArtifactCounts(TypedDict):
    """How many files a step kept, and their bytes (the list is REST)."""

    count: int
    bytes: int


class StepUpdateData(TypedDict):
    """`step_update`: one attempt of one step after a change."""

    step_id: str
    name: str | None
    template_id: NotRequired[str]  # the id as written, before matrix expansion
    matrix: NotRequired[dict[str, str]]  # this leg's values ({} outside a matrix)
    status: str  # StepStatus
    attempt: int
    exit_code: int | None
    reason: str | None  # StepReason
    started_at: float | None
    finished_at: float | None
    duration: float | None
    pid: NotRequired[int | None]  # while running: where its process tree lives
    pgid: NotRequired[int | None]
    host: NotRequired[str | None]
    create_time: NotRequired[float | None]
    message: NotRequired[str | None]  # the reason in words
    reused_from: NotRequired[str | None]  # the execution whose result a re-run reused
    cached_from: NotRequired[str | None]  # the execution a cache hit came from
    cache_miss: NotRequired[str | None]  # why the cache did not answer
    outputs: NotRequired[dict[str, str] | None]  # what the step wrote to $ANSFLOW_OUTPUT
    summary: NotRequired[int | None]  # bytes of its Markdown summary (the text is REST)
    artifacts: NotRequired[ArtifactCounts | None]
    retry_in: NotRequired[float | None]  # the attempt failed: the next starts in this many s


class LogUpdateData(TypedDict):
    """`log_update`: consecutive lines of one step's stream from line number `offset`."""

    step_id: str
    stream: str  # "stdout" | "stderr"
    offset: int
    lines: list[str]
    ts: list[float]


class AttemptData(TypedDict):
    """An earlier attempt of a retried step, as a snapshot keeps it."""

    attempt: int
    exit_code: int | None
    finished_at: float | None  # when it failed (the retry's wait follows)
    log_lines: int  # the step's lines when it ended: the next attempt's begin here


class SnapshotStep(StepUpdateData):
    """A step in a snapshot: its latest attempt plus what a view needs to draw it."""

    log_lines: int
    attempts: NotRequired[list[AttemptData]]  # the attempts before, oldest first
    needs: NotRequired[list[str]]
    continue_on_error: NotRequired[bool]


class SnapshotData(TypedDict):
    """`snapshot`: the whole state of one execution (steps in pipeline order)."""

    execution: ExecutionUpdateData
    steps: list[SnapshotStep]


class MonitorSnapshotData(TypedDict):
    """`snapshot` on the global monitor socket: recent executions, newest first."""

    executions: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Event:
    """One envelope: `seq` grows by 1 per execution from 1 (None for heartbeats)."""

    type: EventType
    execution_id: str
    seq: int | None
    data: dict[str, Any]
    ts: float = field(default_factory=time.time)

    @property
    def is_final(self) -> bool:
        """True for the event that shows its execution ended (final update or snapshot)."""
        if self.type is EventType.EXECUTION_UPDATE:
            return ExecutionStatus(self.data["status"]).finished
        if self.type is EventType.SNAPSHOT and "execution" in self.data:
            return ExecutionStatus(self.data["execution"]["status"]).finished
        return False

    def to_dict(self) -> dict[str, Any]:
        """The JSON form every transport sends (docs/server.md)."""
        return {
            "v": ENVELOPE_VERSION,
            "seq": self.seq,
            "type": self.type.value,
            "execution_id": self.execution_id,
            "ts": self.ts,
            "data": self.data,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Event:
        """Inverse of `to_dict`."""
        return cls(
            type=EventType(raw["type"]),
            execution_id=str(raw["execution_id"]),
            seq=raw.get("seq"),
            data=dict(raw.get("data") or {}),
            ts=float(raw.get("ts") or 0.0),
        )


def heartbeat(execution_id: str = "") -> Event:
    """A keep-alive envelope; it carries no seq and is never stored."""
    return Event(EventType.HEARTBEAT, execution_id, None, {})


#: A snapshot carries, per step, its last groups and its first annotations, this many.
SNAPSHOT_GROUPS = 1_000
SNAPSHOT_ANNOTATIONS = 100


def fold_mark(step: dict[str, Any], type_: EventType, data: Mapping[str, Any]) -> None:
    """Apply a group_update or annotation to a snapshot step (`groups`, `annotations`)."""
    if type_ is EventType.GROUP_UPDATE:
        groups: list[dict[str, Any]] = step.setdefault("groups", [])
        # Only the newest group changes after it opened: look from the end.
        for i in range(len(groups) - 1, -1, -1):
            if groups[i]["index"] == data["index"]:
                groups[i] = dict(data)
                return
            if groups[i]["index"] < data["index"]:
                break
        groups.append(dict(data))
        if len(groups) > SNAPSHOT_GROUPS:
            del groups[0]
    elif type_ is EventType.ANNOTATION:
        notes: list[dict[str, Any]] = step.setdefault("annotations", [])
        if len(notes) < SNAPSHOT_ANNOTATIONS:
            notes.append(dict(data))


def has_run(step: Mapping[str, Any]) -> bool:
    """A pending step that never started is a placeholder: it adopts the first attempt."""
    status = step.get("status", StepStatus.PENDING)  # a step seen only by its log lines
    return bool(status != StepStatus.PENDING or step.get("started_at") is not None)


def earlier_attempt(step: Mapping[str, Any]) -> AttemptData:
    """What a snapshot keeps of an attempt a newer one replaced."""
    return {
        "attempt": step["attempt"],
        "exit_code": step.get("exit_code"),
        "finished_at": step.get("finished_at"),
        "log_lines": step.get("log_lines", 0),
    }


class SnapshotBuilder:
    """Folds events into the `snapshot` payload (the Python twin of the JS reducer).

    The payload is `{"execution": {...execution_update fields}, "steps": [{...step_update
    fields, "log_lines": n, groups/annotations when any}]}` with the steps in pipeline
    order; `seq` of the snapshot envelope is the last event applied.
    """

    def __init__(self, execution: Mapping[str, Any], steps: Iterable[Mapping[str, Any]]):
        self.execution: dict[str, Any] = dict(execution)
        self.steps: dict[str, dict[str, Any]] = {}
        for step in steps:
            self.steps[step["step_id"]] = {"log_lines": 0, **step}
        self.seq = 0

    def apply(self, event: Event) -> None:
        """Apply one event with a seq; events at or below the current seq are ignored."""
        if event.seq is None or event.seq <= self.seq:
            return
        self.seq = event.seq
        data = event.data
        if event.type is EventType.EXECUTION_UPDATE:
            self.execution.update(data)
        elif event.type is EventType.STEP_UPDATE:
            step = self.steps.setdefault(data["step_id"], {"log_lines": 0})
            attempt = data.get("attempt")
            if attempt is not None and attempt != step.get("attempt") and has_run(step):
                step.setdefault("attempts", []).append(earlier_attempt(step))
            step.update(data)
        elif event.type is EventType.LOG_UPDATE:
            step = self.steps.setdefault(
                data["step_id"], {"step_id": data["step_id"], "log_lines": 0}
            )
            step["log_lines"] = max(step.get("log_lines", 0), data["offset"] + len(data["lines"]))
        elif event.type in (EventType.GROUP_UPDATE, EventType.ANNOTATION):
            step = self.steps.setdefault(
                data["step_id"], {"step_id": data["step_id"], "log_lines": 0}
            )
            fold_mark(step, event.type, data)
        elif event.type is EventType.SNAPSHOT:
            self.execution = dict(data["execution"])
            self.steps = {s["step_id"]: dict(s) for s in data["steps"]}

    def payload(self) -> dict[str, Any]:
        """The `data` of a snapshot envelope."""
        return {"execution": dict(self.execution), "steps": [_copy(s) for s in self.steps.values()]}

    def event(self) -> Event:
        """A snapshot envelope reflecting everything applied so far."""
        return Event(
            EventType.SNAPSHOT,
            str(self.execution.get("execution_id", "")),
            self.seq,
            self.payload(),
        )


def _copy(step: Mapping[str, Any]) -> dict[str, Any]:
    """A step of a snapshot, with its own group, annotation and attempt lists."""
    out = dict(step)
    for key in ("groups", "annotations", "attempts"):
        if key in out:
            out[key] = [dict(item) for item in out[key]]
    return out
