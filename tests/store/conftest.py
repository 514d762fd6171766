"""Fixtures for the store tests: an open Store and a builder of realistic event streams."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ansflow_jupyter.events import Event, EventType
from ansflow_jupyter.store import Owner, Store


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An empty store on SQLite or PostgreSQL."""
    opened = Store(store_url)
    yield opened
    opened.close()


class Run:
    """Writes one execution the way the executor would: numbered events, per-step offsets."""

    def __init__(self, store: Store, steps: tuple[str, ...], **create: Any):
        self.store = store
        self.id = uuid.uuid4().hex
        self.seq = itertools.count(1)
        self.offsets = dict.fromkeys(steps, 0)
        self.pending: list[Event] = []
        self.events: list[Event] = []
        create.setdefault("owner", Owner.current())
        self.initial = store.create_execution(
            self.id,
            create.pop("pipeline_name", "demo"),
            create.pop("source", "name: demo\n"),
            create.pop("path", "demo.yml"),
            steps=[{"step_id": s, "name": s.upper()} for s in steps],
            **create,
        )

    def emit(self, type_: EventType, data: dict[str, Any]) -> Event:
        event = Event(type_, self.id, next(self.seq), data, time.time())
        self.pending.append(event)
        return event

    def execution(self, status: str, **fields: Any) -> Event:
        return self.emit(
            EventType.EXECUTION_UPDATE, {"execution_id": self.id, "status": status, **fields}
        )

    def step(self, step_id: str, status: str, attempt: int = 1, **fields: Any) -> Event:
        data = {"step_id": step_id, "name": step_id.upper(), "status": status, "attempt": attempt}
        return self.emit(EventType.STEP_UPDATE, {**data, **fields})

    def log(self, step_id: str, lines: list[str], stream: str = "stdout") -> Event:
        offset = self.offsets.get(step_id, 0)
        self.offsets[step_id] = offset + len(lines)
        now = time.time()
        data = {
            "step_id": step_id,
            "stream": stream,
            "offset": offset,
            "lines": lines,
            "ts": [now] * len(lines),
        }
        return self.emit(EventType.LOG_UPDATE, data)

    def commit(self) -> list[Event]:
        batch, self.pending = self.pending, []
        self.store.append(batch)
        self.events.extend(batch)
        return batch

    def finish(self, status: str = "success", duration: float = 1.0) -> None:
        self.execution(status, started_at=1000.0, finished_at=1000.0 + duration, duration=duration)
        self.commit()


@pytest.fixture
def make_run(store: Store) -> Callable[..., Run]:
    """`make_run(steps=("a", "b"), **create_execution kwargs)` -> Run."""

    def make(steps: tuple[str, ...] = ("a", "b"), **create: Any) -> Run:
        return Run(store, steps, **create)

    return make
