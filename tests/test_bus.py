"""The bus: fan-out by execution, global updates only, bounded queues that cut laggards."""

from __future__ import annotations

import asyncio

import pytest

from ansflow_jupyter.bus import Bus, SubscriberLagged
from ansflow_jupyter.events import Event, EventType


def ev(execution_id: str, seq: int, kind: EventType = EventType.STEP_UPDATE) -> Event:
    return Event(kind, execution_id, seq, {"step_id": "a"})


def test_subscribers_get_only_their_execution_in_order() -> None:
    async def main() -> None:
        bus = Bus()
        a, b = bus.subscribe("a"), bus.subscribe("b")
        bus.publish([ev("a", 1), ev("b", 1), ev("a", 2)])
        assert [e.seq for e in a.pending()] == [1, 2]
        assert [(e.execution_id, e.seq) for e in b.pending()] == [("b", 1)]

    asyncio.run(main())


def test_global_subscribers_receive_execution_updates_only() -> None:
    async def main() -> None:
        bus = Bus()
        everyone = bus.subscribe(None)
        bus.publish([ev("a", 1, EventType.LOG_UPDATE), ev("a", 2, EventType.EXECUTION_UPDATE)])
        assert [e.type for e in everyone.pending()] == [EventType.EXECUTION_UPDATE]

    asyncio.run(main())


def test_a_full_queue_cuts_the_subscriber_but_never_the_publisher() -> None:
    async def main() -> None:
        bus = Bus()
        slow, fast = bus.subscribe("a", maxsize=3), bus.subscribe("a", maxsize=100)
        bus.publish([ev("a", i) for i in range(1, 11)])
        assert slow.lagged
        with pytest.raises(SubscriberLagged):
            await slow.__anext__()
        assert [e.seq for e in fast.pending()] == list(range(1, 11))

    asyncio.run(main())


def test_close_ends_iteration_and_unregisters() -> None:
    async def main() -> None:
        bus = Bus()
        sub = bus.subscribe("a")

        async def consume() -> list[int]:
            return [e.seq or 0 async for e in sub]

        task = asyncio.create_task(consume())
        bus.publish([ev("a", 1)])
        await asyncio.sleep(0)
        sub.close()
        assert await asyncio.wait_for(task, 1) == [1]
        assert bus.subscriber_count("a") == 0

    asyncio.run(main())
