"""Start-up recovery: executions whose owning process died become `interrupted`, and the
step processes they left behind are killed.

A pid alone proves nothing (pids are reused), so a process counts as "the same one" only
when its psutil create_time matches the recorded one. A step's leader often dies with its
owner (SIGPIPE on its first write) while its background children live on, so leftovers
are also found by the `ANSFLOW_EXECUTION_ID` the executor puts in every step's
environment: a process carrying that id descends from one of this execution's steps.
Only owners on this host can be checked; executions owned by another host are left alone
(that host recovers them).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psutil

from .. import processes
from ..events import Event, EventType, ExecutionStatus, StepReason, StepStatus

log = logging.getLogger("ansflow_jupyter.store")

#: create_time values are stored as floats that round-trip exactly; the tolerance only
#: absorbs clock-tick rounding between psutil versions, far below any pid reuse cycle.
CREATE_TIME_TOLERANCE = 0.01


@dataclass(frozen=True, slots=True)
class Owner:
    """The process that runs an execution (recorded so a later start knows if it died)."""

    pid: int
    host: str
    create_time: float | None

    @classmethod
    def current(cls) -> Owner:
        """This process."""
        return cls(os.getpid(), socket.gethostname(), psutil.Process().create_time())


def same_process(pid: int | None, create_time: float | None) -> bool:
    """True when `pid` runs and is the very process recorded (not a zombie, not a reuse)."""
    if pid is None or pid <= 0:
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        started = proc.create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    return create_time is None or abs(started - create_time) <= CREATE_TIME_TOLERANCE


def owner_gone(row: Any, host: str) -> bool:
    """Is the owner of this executions row dead? Owners on other hosts are never judged."""
    if row.owner_host is not None and row.owner_host != host:
        return False
    return not same_process(row.owner_pid, row.owner_create_time)


def kill_leftover(step: Any, host: str) -> bool:
    """SIGKILL the process group of a step that was running, if it is provably that step's.

    The group leader must be alive with the recorded create_time, so a pid or pgid that
    the system has since given to an unrelated process is never touched.
    """
    if step.host not in (None, host) or step.create_time is None:
        return False
    if not same_process(step.pid, step.create_time):
        return False
    if step.pgid:
        done = processes.signal_group(step.pgid, signal.SIGKILL)
    else:
        done = processes.signal_process(step.pid, signal.SIGKILL)
    if done:
        log.info("killed leftover process group %s of step %s", step.pgid or step.pid, step.step_id)
    return done


def kill_tagged(execution_id: str) -> int:
    """SIGKILL every process on this host whose environment names this execution (the
    descendants of its steps, whichever process group or session they moved to)."""
    killed = processes.kill_tagged(processes.all_pids(), lambda tag: tag[0] == execution_id)
    if killed:
        log.info("killed %d leftover processes of execution %s", killed, execution_id)
    return killed


def closing_events(
    execution: Any,
    steps: list[Any],
    next_seq: Callable[[], int],
    now: float | None = None,
    message: str | None = None,
) -> list[Event]:
    """The step_update events ending every unfinished step, then the final execution_update."""
    now = time.time() if now is None else now
    message = message or f"interrupted: the process running it (pid {execution.owner_pid}) is gone"
    events: list[Event] = []
    for step in steps:
        if step.status == StepStatus.RUNNING:
            status, finished = StepStatus.FAILED, now
        elif step.status == StepStatus.PENDING:
            status, finished = StepStatus.CANCELLED, None
        else:
            continue
        duration = finished - step.started_at if finished and step.started_at else None
        data = {
            "step_id": step.step_id,
            "name": step.name,
            "status": status.value,
            "attempt": step.attempt,
            "exit_code": step.exit_code,
            "reason": StepReason.INTERRUPTED.value,
            "started_at": step.started_at,
            "finished_at": finished,
            "duration": duration,
        }
        events.append(Event(EventType.STEP_UPDATE, execution.id, next_seq(), data, now))
    data = {
        "execution_id": execution.id,
        "pipeline_name": execution.pipeline_name,
        "status": ExecutionStatus.INTERRUPTED.value,
        "message": message,
        "started_at": execution.started_at,
        "finished_at": now,
        "duration": now - execution.started_at if execution.started_at else None,
        "steps_total": execution.steps_total,
        "steps_done": execution.steps_done,
    }
    events.append(Event(EventType.EXECUTION_UPDATE, execution.id, next_seq(), data, now))
    return events
