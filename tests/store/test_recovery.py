"""Recovery at start-up: dead owners' executions become interrupted, leftovers are killed,
and nothing belonging to a live owner or to a reused pid is touched."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import psutil
import pytest
from sqlalchemy import text

from ansflow_jupyter.events import Event, EventType
from ansflow_jupyter.store import Owner, Store

#: The owner: starts a step process group, records it like the executor does, then waits
#: to be killed.
OWNER = textwrap.dedent(
    """
    import socket, subprocess, sys, time
    import psutil
    from ansflow_jupyter.events import Event, EventType
    from ansflow_jupyter.store import Owner, Store

    url, execution_id = sys.argv[1], sys.argv[2]
    store = Store(url)
    steps = [{"step_id": "work", "name": "Work"}, {"step_id": "later", "name": "Later"}]
    store.create_execution(execution_id, "demo", "src", None, Owner.current(), steps)
    proc = subprocess.Popen(["sleep", "300"], start_new_session=True)
    info = {"pid": proc.pid, "pgid": proc.pid, "host": socket.gethostname(),
            "create_time": psutil.Process(proc.pid).create_time()}
    store.append([
        Event(EventType.EXECUTION_UPDATE, execution_id, 1,
              {"execution_id": execution_id, "status": "running", "started_at": time.time()}),
        Event(EventType.STEP_UPDATE, execution_id, 2,
              {"step_id": "work", "name": "Work", "status": "running", "attempt": 1,
               "started_at": time.time(), **info}),
    ])
    print(proc.pid, flush=True)
    time.sleep(300)
    """
)


def gone(pid: int) -> bool:
    """Dead, or a zombie nobody reaped (the leftover's parent was the killed owner)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def dies(pid: int, within: float = 10.0) -> bool:
    """Whether `pid` is gone within `within` seconds: a SIGKILL is sent at once, but the
    process dies when the kernel next runs it (later on a busy machine)."""
    deadline = time.monotonic() + within
    while not gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A process in its own session, as a step runs; killed at the end whatever happens."""
    proc = subprocess.Popen(["sleep", "300"], start_new_session=True)
    yield proc
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def running_step(store: Store, execution_id: str, owner: Owner, **process: object) -> None:
    store.create_execution(
        execution_id, "demo", "src", None, owner, [{"step_id": "work", "name": "Work"}]
    )
    store.append(
        [
            Event(
                EventType.EXECUTION_UPDATE,
                execution_id,
                1,
                {"status": "running", "started_at": 1.0},
            ),
            Event(
                EventType.STEP_UPDATE,
                execution_id,
                2,
                {
                    "step_id": "work",
                    "status": "running",
                    "attempt": 1,
                    "started_at": 2.0,
                    **process,
                },
            ),
        ]
    )


def test_dead_owner_is_interrupted_and_its_leftover_group_killed(
    store: Store, store_url: str
) -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, store_url, "crashed"], stdout=subprocess.PIPE
    )
    try:
        assert owner.stdout is not None
        step_pid = int(owner.stdout.readline())
        assert not gone(step_pid)
        assert store.recover() == []  # the owner is alive: hands off
    finally:
        owner.kill()
        owner.wait()
    try:
        assert store.recover() == ["crashed"]
        assert dies(step_pid)
    finally:
        if not gone(step_pid):
            os.killpg(step_pid, signal.SIGKILL)

    snap = store.snapshot("crashed")
    execution = snap.data["execution"]
    assert execution["status"] == "interrupted"
    assert execution["message"] == f"interrupted: the process running it (pid {owner.pid}) is gone"
    assert execution["finished_at"] is not None
    work, later = snap.data["steps"]
    assert (work["status"], work["reason"], work["attempt"]) == ("failed", "interrupted", 1)
    assert work["finished_at"] is not None
    assert (later["status"], later["reason"]) == ("cancelled", "interrupted")
    # Through the normal path: consecutive seqs, the closing execution_update last.
    tail = store.events_since("crashed", 2)
    assert [e.seq for e in tail] == [3, 4, 5]
    assert [e.type for e in tail] == [
        EventType.STEP_UPDATE,
        EventType.STEP_UPDATE,
        EventType.EXECUTION_UPDATE,
    ]
    assert store.recover() == []  # idempotent


def test_live_owner_is_left_alone(store: Store, sleeper: subprocess.Popen[bytes]) -> None:
    info = psutil.Process(sleeper.pid)
    running_step(
        store,
        "mine",
        Owner.current(),
        pid=sleeper.pid,
        pgid=sleeper.pid,
        host=socket.gethostname(),
        create_time=info.create_time(),
    )
    assert store.recover() == []
    assert store.snapshot("mine").data["execution"]["status"] == "running"
    assert sleeper.poll() is None


def test_reused_pid_is_never_killed(store: Store, sleeper: subprocess.Popen[bytes]) -> None:
    # The owner pid runs but started at another time (a reuse): the owner counts as gone.
    # The step's pid runs too, with another create_time: that is not our process.
    real = psutil.Process(sleeper.pid).create_time()
    dead_owner = Owner(os.getpid(), socket.gethostname(), create_time=1.0)
    running_step(
        store,
        "reused",
        dead_owner,
        pid=sleeper.pid,
        pgid=sleeper.pid,
        host=socket.gethostname(),
        create_time=real - 1000,
    )
    assert store.recover() == ["reused"]
    assert store.snapshot("reused").data["execution"]["status"] == "interrupted"
    assert sleeper.poll() is None
    assert not gone(sleeper.pid)


def test_owner_on_another_host_is_left_alone(store: Store) -> None:
    running_step(store, "remote", Owner(1, "some-other-host.example", 1.0))
    assert store.recover() == []
    assert store.snapshot("remote").data["execution"]["status"] == "running"


def test_finished_executions_are_not_touched(store: Store) -> None:
    running_step(store, "done", Owner(os.getpid(), socket.gethostname(), 1.0))
    store.append([Event(EventType.EXECUTION_UPDATE, "done", 3, {"status": "success"})])
    assert store.recover() == []
    assert store.last_seq("done") == 3


def test_a_stalled_owner_is_interrupted_for_its_silence_not_called_gone(store: Store) -> None:
    # The owner (this test process) is alive but wrote no heartbeat for a minute, as one
    # stopped by SIGSTOP or a debugger: the record says why it was judged gone.
    running_step(store, "stalled", Owner.current())
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE executions SET heartbeat_at = :t"), {"t": time.time() - 60})
    assert store.recover(owner_timeout=10) == ["stalled"]
    execution = store.snapshot("stalled").data["execution"]
    assert execution["status"] == "interrupted"
    assert execution["message"] == (
        f"interrupted: the process running it (pid {os.getpid()}) wrote no heartbeat for 10 s"
    )
