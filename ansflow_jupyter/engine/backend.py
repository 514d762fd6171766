"""The Backend interface: how a step's process is started, streamed and stopped.

The state machine (retries, timeouts, conditions, events) lives in the executor; a backend
only runs one attempt of one step and hands its raw output back.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .environment import StepEnvironment

#: Called with ("stdout" | "stderr", a raw chunk). It returns None, or an awaitable when
#: the consumer is full: the backend then reads no more output until it is done, so a
#: slow consumer slows the step through its pipes and memory stays bounded. (Synchronous
#: on purpose: almost every chunk needs no wait, and a coroutine per chunk would cost
#: more than the rest of the read.)
OutputHandler = Callable[[str, bytes], Awaitable[None] | None]


class SpawnError(Exception):
    """The process could not be started (missing shell, bad working directory, ...)."""


class WorkerLost(Exception):
    """The machine running the attempt went away; its message names the worker."""


class BackendUnavailable(Exception):
    """The backend cannot run anything (e.g. the Dask scheduler is unreachable)."""


@dataclass(frozen=True, slots=True)
class StepLaunch:
    """Everything needed to start one attempt of one step."""

    execution_id: str
    step_id: str
    attempt: int
    argv: Sequence[str]
    env: Mapping[str, str]  # the complete environment of the process, built here
    cwd: str
    #: How `env` was built, for a backend that starts the process elsewhere: a Dask
    #: worker builds it again on top of its own environment. None: use `env` as it is.
    environment: StepEnvironment | None = None
    files: Any = None  # remote.RemoteFiles: artifact work on the worker (remote backends)
    #: Give the process a control pipe (its write end's number in ANSFLOW_CONTROL_FD),
    #: read as the stream "control". A backend without one leaves the variable unset.
    control: bool = False


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    """Where a step runs, recorded so a later start can kill leftovers safely."""

    pid: int
    pgid: int
    host: str
    create_time: float  # the process start time (psutil.Process.create_time())


class StepProcess(abc.ABC):
    """One running attempt."""

    info: ProcessInfo | None
    files: dict[str, Any] | None = None  # remote backends: what the worker collected

    @abc.abstractmethod
    async def wait(self) -> int:
        """Exit code once the process ended and all its output was handed over
        (negative: killed by that signal)."""

    @abc.abstractmethod
    async def terminate(self, grace: float) -> None:
        """SIGTERM the step's whole process tree, SIGKILL what is left after `grace` s."""

    @property
    def exited(self) -> bool:
        """True once the process itself ended, while its output may still be handed over
        (a slow store): a timeout then no longer applies. False when unknown."""
        return False


class Backend(abc.ABC):
    """Runs step attempts somewhere (local processes, a Dask cluster)."""

    #: True when steps may run where the engine cannot see their files: artifacts then
    #: travel through the artifact store, handled on the worker (engine/remote.py).
    moves_files = False

    @abc.abstractmethod
    async def start(self, launch: StepLaunch, on_output: OutputHandler) -> StepProcess:
        """Start the attempt; raise SpawnError when it cannot start."""

    async def open(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Check that steps can run (connect); raise BackendUnavailable, fast, when not."""

    async def worker_hosts(self) -> list[str]:
        """Hosts where steps may run (empty: only this machine)."""
        return []

    async def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release resources; running attempts have been terminated by then."""
