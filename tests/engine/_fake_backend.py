"""A scripted in-memory backend: state-machine tests without processes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ansflow_jupyter.engine.backend import (
    Backend,
    OutputHandler,
    ProcessInfo,
    SpawnError,
    StepLaunch,
    StepProcess,
)


@dataclass(frozen=True, slots=True)
class FakeStep:
    """What one attempt does: write `output`, take `duration` s (or hang), exit `exit_code`."""

    exit_code: int = 0
    output: Sequence[tuple[str, bytes]] = ()
    duration: float = 0.0
    hang: bool = False  # run until terminated
    ignore_term: bool = False  # when terminated, only die after the grace period (SIGKILL)
    spawn_error: str | None = None


@dataclass(slots=True)
class FakeRecord:
    """One attempt as the backend saw it (loop times)."""

    step_id: str
    attempt: int
    launch: StepLaunch
    started: float
    ended: float | None = None
    exit_code: int | None = None
    terminated: bool = False


class FakeProcess(StepProcess):
    """Plays one FakeStep."""

    def __init__(
        self, backend: FakeBackend, record: FakeRecord, script: FakeStep, on_output: OutputHandler
    ) -> None:
        pid = 100000 + len(backend.records)
        self.info = ProcessInfo(pid=pid, pgid=pid, host="fake", create_time=record.started)
        self._backend = backend
        self._record = record
        self._script = script
        self._stop = asyncio.Event()
        self._kill_code: int | None = None
        self._task = asyncio.ensure_future(self._play(on_output))

    async def _play(self, on_output: OutputHandler) -> int:
        for stream, chunk in self._script.output:
            if (wait := on_output(stream, chunk)) is not None:
                await wait
        if self._script.hang:
            await self._stop.wait()
        elif self._script.duration > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._script.duration)
        code = self._kill_code if self._kill_code is not None else self._script.exit_code
        loop = asyncio.get_running_loop()
        self._record.ended = loop.time()
        self._record.exit_code = code
        self._backend.running -= 1
        return code

    async def wait(self) -> int:
        """The scripted exit code (or -15/-9 when terminated)."""
        return await asyncio.shield(self._task)

    async def terminate(self, grace: float) -> None:
        """Like SIGTERM then SIGKILL: `ignore_term` attempts survive the grace period."""
        if self._task.done():
            return
        self._record.terminated = True
        if self._script.ignore_term:
            await asyncio.sleep(grace)
            self._kill_code = -9
        else:
            self._kill_code = -15
        self._stop.set()
        await asyncio.shield(self._task)


@dataclass
class FakeBackend(Backend):
    """Scripts per step id: one FakeStep for every attempt, or a list (one per attempt)."""

    scripts: Mapping[str, FakeStep | Sequence[FakeStep]] = field(default_factory=dict)
    records: list[FakeRecord] = field(default_factory=list)
    running: int = 0
    max_running: int = 0

    async def start(self, launch: StepLaunch, on_output: OutputHandler) -> StepProcess:
        """Play the script of `launch.step_id` (default: succeed at once)."""
        script = self._script(launch.step_id, launch.attempt)
        if script.spawn_error is not None:
            raise SpawnError(script.spawn_error)
        record = FakeRecord(
            launch.step_id, launch.attempt, launch, asyncio.get_running_loop().time()
        )
        self.records.append(record)
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        return FakeProcess(self, record, script, on_output)

    def _script(self, step_id: str, attempt: int) -> FakeStep:
        script = self.scripts.get(step_id, FakeStep())
        if isinstance(script, FakeStep):
            return script
        return script[min(attempt, len(script)) - 1]

    def attempts(self, step_id: str) -> list[FakeRecord]:
        """The recorded attempts of one step, in order."""
        return [r for r in self.records if r.step_id == step_id]
