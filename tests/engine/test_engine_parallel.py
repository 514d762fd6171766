"""Default max-parallel: CPU count + 2, so independent setup steps overlap on small machines."""

from __future__ import annotations

import os
from pathlib import Path

from _engine_helpers import ListSink, pipeline, run, step

from ansflow_jupyter.engine import Executor
from ansflow_jupyter.engine.backends import LocalBackend
from ansflow_jupyter.events import ExecutionStatus

#: Each step says it started, then waits until all three did: with fewer than three slots
#: the third never starts while the others wait, and their timeouts fail the run.
RENDEZVOUS = """\
touch "started-$ANSFLOW_STEP_ID"
until [ "$(ls started-* | wc -l)" -ge 3 ]; do sleep 0.02; done
date +%s.%N > "saw-all-$ANSFLOW_STEP_ID"
"""


def test_three_setup_steps_run_at_once_by_default(tmp_path: Path) -> None:
    spec = pipeline(
        *(step(sid, RENDEZVOUS, timeout=30) for sid in ("env-check", "checkout", "install")),
        base_dir=tmp_path,
    )
    executor = Executor(spec, "parallel", LocalBackend(), ListSink())
    assert executor.max_parallel == (os.cpu_count() or 1) + 2
    assert run(executor.run(), timeout=60) is ExecutionStatus.SUCCESS
    assert len(list(tmp_path.glob("saw-all-*"))) == 3  # each saw the other two running
