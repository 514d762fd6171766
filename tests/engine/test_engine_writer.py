"""EventWriter: an event after a quiet spell is written at once; events of a burst reach
the sink as one batch (one store transaction), without holding up a full queue or the
close."""

from __future__ import annotations

import asyncio

import pytest

from ansflow_jupyter.engine import writer
from ansflow_jupyter.engine.writer import EventWriter
from ansflow_jupyter.events import Event, EventType


class Batches:
    """A sink that keeps each write as one batch."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.wrote = asyncio.Event()

    async def write(self, events: list[Event]) -> None:
        self.batches.append([e.seq or 0 for e in events])
        self.wrote.set()


def _log(w: EventWriter, n: int) -> None:
    w.emit(EventType.LOG_UPDATE, {"step_id": "s", "offset": n, "lines": ["x"]})


async def _turns(n: int) -> None:
    """Let the loop run other tasks (the writer's) n times."""
    for _ in range(n):
        await asyncio.sleep(0)


def test_a_quiet_event_goes_at_once_and_a_burst_after_it_as_one_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A long window: what ends it here is close(), not a clock.
    monkeypatch.setattr(writer, "LINGER", 30.0, raising=False)

    async def main() -> list[list[int]]:
        sink = Batches()
        w = EventWriter("e", sink)
        w.start()
        _log(w, 0)
        await asyncio.wait_for(sink.wrote.wait(), 10)  # the first line is not held up
        _log(w, 1)  # within the window of that write: these two wait for company
        await _turns(5)
        _log(w, 2)
        await _turns(5)
        assert sink.batches == [[1]]
        await asyncio.wait_for(w.close(), 10)
        return sink.batches

    assert asyncio.run(main()) == [[1], [2, 3]]


def test_a_full_queue_is_written_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer, "LINGER", 30.0, raising=False)

    async def main() -> tuple[list[list[int]], bool]:
        sink = Batches()
        w = EventWriter("e", sink, max_pending=4)
        w.start()
        for n in range(4):
            _log(w, n)
        # Producers now wait for room: the writer must not sit out its window.
        await asyncio.wait_for(sink.wrote.wait(), 10)
        await asyncio.wait_for(w.room(), 10)
        room = not w.full
        await asyncio.wait_for(w.close(), 10)
        return sink.batches, room

    assert asyncio.run(main()) == ([[1, 2, 3, 4]], True)


class GatedBatches(Batches):
    """A sink whose first write lasts until the test opens the gate (a slow store)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def write(self, events: list[Event]) -> None:
        await super().write(events)
        await self.gate.wait()


def test_events_emitted_during_a_write_gather_again_before_the_next_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What arrives while the store is busy waits for more company, as after a quiet spell:
    # writing it at once meant one transaction per step or two in a busy run.
    monkeypatch.setattr(writer, "LINGER", 30.0, raising=False)

    async def main() -> list[list[int]]:
        sink = GatedBatches()
        w = EventWriter("e", sink, max_pending=2)
        w.start()
        _log(w, 0)
        _log(w, 1)  # full: written at once, and the write hangs on the gate
        await asyncio.wait_for(sink.wrote.wait(), 10)
        _log(w, 2)  # arrives during the write
        sink.gate.set()
        await _turns(5)  # the write ended...
        _log(w, 3)  # ...and this one still joins the next write
        await asyncio.wait_for(w.close(), 10)
        return sink.batches

    assert asyncio.run(main()) == [[1, 2], [3, 4]]
