"""Shared live fan-out: one bus subscription per running execution, however many sockets follow it.

With a subscription per socket, every event costs a queue put and a task wake-up per
client; a hub reads the bus once and hands each batch to its followers synchronously, so
the per-client cost of a batch is one frame write.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from ..bus import Bus, SubscriberLagged
from ..events import Event

log = logging.getLogger(__name__)


class Follower(Protocol):
    """A socket following one execution live."""

    def deliver(self, batch: Sequence[Event]) -> None:
        """Take a batch of committed events (in seq order); must not block."""

    def hub_ended(self, lagged: bool) -> None:
        """The hub stopped (its bus subscription lagged or the server shuts down)."""


class Hub:
    """The bus subscription of one execution, shared by its followers."""

    def __init__(self, bus: Bus, execution_id: str, registry: dict[str, Hub]):
        self.execution_id = execution_id
        self.followers: set[Follower] = set()
        self._registry = registry
        self._sub = bus.subscribe(execution_id)
        self._task = asyncio.create_task(self._run())

    def leave(self, follower: Follower) -> None:
        """Stop delivering to `follower`; the last one out closes the hub."""
        self.followers.discard(follower)
        if not self.followers:
            self.close()

    def close(self) -> None:
        """Release the bus subscription."""
        if self._registry.get(self.execution_id) is self:
            del self._registry[self.execution_id]
        self._sub.close()

    async def _run(self) -> None:
        lagged = False
        try:
            while True:
                try:
                    first = await self._sub.__anext__()
                except StopAsyncIteration:
                    break
                batch = [first, *self._sub.pending()]
                for follower in list(self.followers):
                    try:
                        follower.deliver(batch)
                    except Exception:  # one broken socket must not stop the others
                        log.exception("ansflow: dropping a follower of %s", self.execution_id)
                        self.followers.discard(follower)
        except SubscriberLagged:
            lagged = True
        finally:
            self.close()
            for follower in list(self.followers):
                follower.hub_ended(lagged)


def join(settings: dict[str, Any], bus: Bus, execution_id: str, follower: Follower) -> Hub:
    """The hub of an execution (created on first use), with `follower` in it."""
    registry: dict[str, Hub] = settings.setdefault("ansflow_hubs", {})
    hub = registry.get(execution_id)
    if hub is None:
        hub = registry[execution_id] = Hub(bus, execution_id, registry)
    hub.followers.add(follower)
    return hub
