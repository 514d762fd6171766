"""Every line a step writes is stored, however slow the store (a held lock stalls it)."""

from __future__ import annotations

import asyncio
import textwrap
import threading
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from ansflow_jupyter.events import ExecutionStatus
from ansflow_jupyter.pipeline import load_pipeline
from ansflow_jupyter.service import ExecutionManager
from ansflow_jupyter.store import Store

#: 300 lines one by one (enough batches to fill the event writer, so reading pauses), then
#: 5,000 more at once and exit: that tail sat in the pipe and used to be dropped.
BURST = """\
name: burst
steps:
  burst:
    shell: python
    timeout: 5s
    run: |
      import sys, time
      for i in range(1, 301):
          print(f"first {i}", flush=True)
          time.sleep(0.003)
      sys.stdout.write("".join(f"second {i}\\n" for i in range(1, 5001)))
      sys.exit(1)  # a failure within its timeout: reason `exit`, however slow storing is
"""

HOLD_SECONDS = 8.0  # longer than the timeout: storing must not count as running


class StoreLock:
    """Another connection holding an exclusive lock on the store for a few seconds."""

    def __init__(self, url: str) -> None:
        self._engine = create_engine(url, poolclass=NullPool)
        self._conn = self._engine.connect()
        self._sqlite = url.startswith("sqlite")

    def take(self) -> None:
        """Lock now (on the caller's thread)."""
        if self._sqlite:
            self._conn.exec_driver_sql("BEGIN EXCLUSIVE")
        else:
            self._conn.execute(text("BEGIN"))
            self._conn.execute(text("LOCK TABLE events IN ACCESS EXCLUSIVE MODE"))
            self._conn.execute(text("LOCK TABLE steps IN ACCESS EXCLUSIVE MODE"))

    def release(self) -> None:
        """Unlock and close."""
        self._conn.exec_driver_sql("ROLLBACK") if self._sqlite else self._conn.rollback()
        self._conn.close()
        self._engine.dispose()


def test_no_line_lost_while_the_store_is_locked(store_url: str, tmp_path: Path) -> None:
    async def main() -> tuple[ExecutionStatus, list[str]]:
        manager = ExecutionManager(Store(store_url, busy_timeout=60.0))
        await manager.start_up()
        try:
            spec = load_pipeline(textwrap.dedent(BURST), base_dir=tmp_path)
            lock = StoreLock(store_url)
            info = await manager.start(spec)
            lock.take()  # before the executor's first write: the step runs against a stall
            released = threading.Timer(HOLD_SECONDS, lock.release)
            released.start()
            status = await manager.wait(info["execution_id"])
            released.join()
            lines = await manager.logs(info["execution_id"], step="burst")
            (step,) = (await manager.snapshot(info["execution_id"])).data["steps"]
            assert (step["status"], step["reason"], step["exit_code"]) == ("failed", "exit", 1)
            return status, [line["line"] for line in lines]
        finally:
            await manager.shutdown()

    status, lines = asyncio.run(main())
    assert status is ExecutionStatus.FAILED
    expected = [f"first {i}" for i in range(1, 301)] + [f"second {i}" for i in range(1, 5001)]
    assert len(lines) == len(expected)
    assert lines == expected
