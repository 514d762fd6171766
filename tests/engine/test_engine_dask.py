"""The Dask backend: the same executor, steps on a real (in-process) Dask cluster."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import psutil
import pytest
from _engine_helpers import ListSink, run

from ansflow_jupyter.engine import Executor
from ansflow_jupyter.engine.backends.dask import DaskBackend
from ansflow_jupyter.events import ExecutionStatus
from ansflow_jupyter.pipeline import load_pipeline


def execute(
    text: str, tmp_path: Path, *, processes: bool = False
) -> tuple[ExecutionStatus, ListSink]:
    async def main() -> tuple[ExecutionStatus, ListSink]:
        backend = await DaskBackend.local(n_workers=2, processes=processes)
        sink = ListSink()
        try:
            spec = load_pipeline(textwrap.dedent(text), base_dir=tmp_path)
            status = await Executor(spec, "dask-test", backend, sink, kill_grace=1.0).run()
        finally:
            await backend.close()
        return status, sink

    return run(main(), timeout=60)


def test_steps_run_on_workers_with_every_line_in_order(tmp_path: Path) -> None:
    status, sink = execute(
        """\
        name: on dask
        env: {GREETING: hi}
        steps:
          a: {run: "seq 1 3000; echo $GREETING >&2"}
          b: {needs: a, shell: python, run: "print('from python')"}
          bad: {needs: a, run: "exit 7", continue-on-error: true}
        """,
        tmp_path,
    )
    assert status is ExecutionStatus.SUCCESS
    sink.check_invariants()
    assert sink.lines("a", "stdout") == [str(i) for i in range(1, 3001)]
    assert sink.lines("a", "stderr") == ["hi"]
    assert sink.lines("b") == ["from python"]
    assert sink.final("bad")["exit_code"] == 7


def test_timeout_kills_the_step_tree_on_its_worker(tmp_path: Path) -> None:
    marker = f"ansflow-dask-{os.getpid()}"
    started = time.monotonic()
    status, sink = execute(
        f"""\
        name: dask timeout
        steps:
          slow:
            timeout: 1s
            run: |
              bash -c 'trap "" TERM; exec -a {marker} sleep 300' &
              exec -a {marker} sleep 300
        """,
        tmp_path,
    )
    assert status is ExecutionStatus.FAILED
    assert sink.final("slow")["reason"] == "timeout"
    assert time.monotonic() - started < 30
    leftovers = [
        p for p in psutil.process_iter(["cmdline"]) if (p.info["cmdline"] or [""])[0] == marker
    ]
    assert leftovers == []


def test_worker_processes_pickle_the_task(tmp_path: Path) -> None:
    status, sink = execute(
        "name: pickled\nsteps:\n  a: {run: echo across processes}\n", tmp_path, processes=True
    )
    assert status is ExecutionStatus.SUCCESS
    assert sink.lines("a") == ["across processes"]


def test_outputs_pass_between_steps_on_dask_workers(tmp_path: Path) -> None:
    # A LocalCluster shares the engine's filesystem, where the output files live.
    status, sink = execute(
        """\
        name: dask outputs
        steps:
          a:
            matrix: {n: ["1", "2"]}
            run: echo "v=leg${{ matrix.n }}" >> "$ANSFLOW_OUTPUT"
          b:
            needs: a
            run: echo "${{ join(needs.*.outputs.v, ' ') }}"
        """,
        tmp_path,
        processes=True,
    )
    assert status is ExecutionStatus.SUCCESS
    assert sink.final("a[n=2]")["outputs"] == {"v": "leg2"}
    assert sink.lines("b") == ["leg1 leg2"]

def test_worker_processes_use_their_own_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = load_pipeline(
        "name: env\nenv: {FROM_PIPELINE: p}\nsteps:\n  a: {run: 'env -0 > a.env'}\n",
        base_dir=tmp_path,
    )

    async def main() -> ExecutionStatus:
        backend = await DaskBackend.local(n_workers=1, processes=True)
        # Set after the workers started: a variable only the client has.
        monkeypatch.setenv("CLIENT_ONLY", "from-the-client")
        try:
            return await Executor(spec, "dask-env", backend, ListSink()).run()
        finally:
            await backend.close()

    assert run(main(), timeout=60) is ExecutionStatus.SUCCESS
    pairs = (tmp_path / "a.env").read_bytes().split(b"\0")
    env = dict(p.decode().split("=", 1) for p in pairs if b"=" in p)
    assert "CLIENT_ONLY" not in env  # the client's environment is not shipped
    assert (env["FROM_PIPELINE"], env["ANSFLOW_STEP_ID"]) == ("p", "a")
