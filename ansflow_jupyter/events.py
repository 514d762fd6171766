"""The event envelope shared by every transport (WebSocket, widget messages, CLI --json).

No I/O here: only the states, the envelope and the snapshot reducer, so the executor,
the store, the server and the kernel agree on one definition.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

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
    CACHED = "cached"
    OUTPUT_ERROR = "output-error"


class EventType(enum.StrEnum):
    """The kinds of envelope."""

    SNAPSHOT = "snapshot"
    EXECUTION_UPDATE = "execution_update"
    STEP_UPDATE = "step_update"
    LOG_UPDATE = "log_update"
    HEARTBEAT = "heartbeat"


@dataclass(frozen=True, slots=True)
class Event:
    """One envelope: `seq` grows by 1 per execution from 1 (None for heartbeats)."""

    type: EventType
    execution_id: str
    seq: int | None
    data: dict[str, Any]
    ts: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of SPEC §3."""
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


class SnapshotBuilder:
    """Folds events into the `snapshot` payload (the Python twin of the JS reducer).

    The payload is `{"execution": {...execution_update fields}, "steps": [{...step_update
    fields, "log_lines": n}], "steps_order": [...]}`; `seq` of the snapshot envelope is the
    last event applied.
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
            self.steps.setdefault(data["step_id"], {"log_lines": 0}).update(data)
        elif event.type is EventType.LOG_UPDATE:
            step = self.steps.setdefault(
                data["step_id"], {"step_id": data["step_id"], "log_lines": 0}
            )
            step["log_lines"] = max(step.get("log_lines", 0), data["offset"] + len(data["lines"]))
        elif event.type is EventType.SNAPSHOT:
            self.execution = dict(data["execution"])
            self.steps = {s["step_id"]: dict(s) for s in data["steps"]}

    def payload(self) -> dict[str, Any]:
        """The `data` of a snapshot envelope."""
        return {"execution": dict(self.execution), "steps": [dict(s) for s in self.steps.values()]}

    def event(self) -> Event:
        """A snapshot envelope reflecting everything applied so far."""
        return Event(
            EventType.SNAPSHOT,
            str(self.execution.get("execution_id", "")),
            self.seq,
            self.payload(),
        )
