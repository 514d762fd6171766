"""The executions this process runs: their record, their event sink, what a re-run reuses.

Persist, then publish: the sink commits each batch of events in the store's writer thread
before the bus (and so every live view) sees it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .engine.executor import Executor
from .errors import Conflict
from .events import Event, ExecutionStatus, StepStatus
from .pipeline.spec import PipelineSpec

if TYPE_CHECKING:
    from .service import ExecutionManager


@dataclass
class Run:
    """An execution running in this process."""

    executor: Executor
    task: asyncio.Task[ExecutionStatus] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    cancel_requested: bool = False  # another process asked (through the store)
    abandoned: bool = False  # another process recorded its end: record nothing more


class StoreSink:
    """The executor's sink: commit the batch in the writer thread, then publish it."""

    def __init__(self, manager: ExecutionManager):
        self._manager = manager

    async def write(self, events: list[Event]) -> None:
        manager = self._manager
        execution_id = events[0].execution_id
        run = manager._runs.get(execution_id)
        if not manager._persisting or (run is not None and run.abandoned):
            return  # the store records `interrupted` (we are stopping, or were declared gone)
        try:
            await manager._write(manager.store.append, events)
        except Conflict:
            execution = await manager._read(manager.store.get_execution, execution_id)
            if run is None or not ExecutionStatus(execution["status"]).finished:
                raise
            # Another process recorded the end while we stalled: its record stands.
            run.abandoned = True
            run.executor.cancel(force=True)
            return
        manager.watcher.published(execution_id, events[-1].seq)
        manager.bus.publish(events)

    async def save_summary(
        self, execution_id: str, step_id: str, attempt: int, markdown: str
    ) -> None:
        """Kept by the writer thread, so before the step's final update is stored."""
        if self._manager._persisting:
            await self._manager._write(
                self._manager.store.save_summary, execution_id, step_id, attempt, markdown
            )


def reusable_steps(
    spec: PipelineSpec, steps: Sequence[Mapping[str, Any]], execution_id: str
) -> dict[str, str]:
    """For a re-run of failed steps: every step that succeeded and does not depend on a
    step being re-run, mapped to the execution its result comes from."""
    status = {s["step_id"]: s for s in steps}
    rerun = {
        sid for sid in spec.steps if status.get(sid, {}).get("status") != StepStatus.SUCCESS.value
    }
    grew = True
    while grew:  # add dependents until nothing changes (steps may be written in any order)
        grown = {s.id for s in spec.steps.values() if rerun.intersection(s.needs)}
        grew = not grown <= rerun
        rerun |= grown
    return {
        sid: str(status[sid].get("reused_from") or execution_id)
        for sid in spec.steps
        if sid not in rerun
    }
