"""The executor with LocalBackend: real processes, process groups, pipes."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest
from _engine_helpers import ListSink, pipeline, run, step

from ansflow_jupyter.engine import Executor, SpawnError, StepLaunch
from ansflow_jupyter.engine.backends import LocalBackend, local
from ansflow_jupyter.events import ExecutionStatus
from ansflow_jupyter.pipeline.spec import PipelineSpec


def execute(spec: PipelineSpec, **kwargs: object) -> tuple[ExecutionStatus, ListSink]:
    sink = ListSink()
    executor = Executor(spec, "local-1", LocalBackend(), sink, **kwargs)  # type: ignore[arg-type]
    status = run(executor.run())
    sink.check_invariants()
    return status, sink


def long_sleep() -> str:
    """A unique `sleep` argument: it marks a test's processes (pids get reused quickly)."""
    return f"60.{uuid.uuid4().int % 10**9:09d}"


def assert_all_gone(pid_file: Path, marker: str) -> None:
    """Every pid written to `pid_file` is dead or no longer ours (zombies count as dead)."""
    pids = [int(p) for p in pid_file.read_text().split()]
    assert pids
    deadline = time.monotonic() + 3
    for pid in pids:
        while _ours_and_alive(pid, (marker, str(pid_file))):
            if time.monotonic() > deadline:
                pytest.fail(f"process {pid} survived")
            time.sleep(0.02)


def _ours_and_alive(pid: int, markers: tuple[str, ...]) -> bool:
    try:
        proc = psutil.Process(pid)
        cmdline = " ".join(proc.cmdline())
        alive = proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
    return alive and any(m in cmdline for m in markers)


def test_shells_exit_codes_env_and_cwd(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    spec = pipeline(
        step(
            "bash",
            'echo "$A $B $C" && pwd && exit 3',
            working_directory="app",
            env={"B": "step", "C": "step"},
            continue_on_error=True,
        ),
        step("sh", "echo sh:$A; false; echo not reached", shell="sh", continue_on_error=True),
        step("py", "import os, sys; print('py', os.environ['A']); sys.exit(0)", shell="python"),
        step("pipefail", "false | true", continue_on_error=True),
        env={"A": "pipe", "B": "pipe"},
        base_dir=tmp_path,
    )
    status, sink = execute(spec, env={"C": "override"})
    assert status is ExecutionStatus.SUCCESS
    assert sink.lines("bash") == ["pipe step override", str(tmp_path / "app")]
    assert sink.final("bash")["exit_code"] == 3
    assert sink.lines("sh") == ["sh:pipe"] and sink.final("sh")["exit_code"] == 1
    assert sink.lines("py") == ["py pipe"] and sink.final("py")["status"] == "success"
    assert sink.final("pipefail")["exit_code"] == 1
    running = next(d for d in sink.steps("py") if d["status"] == "running")
    assert running["pgid"] == running["pid"] and running["host"] and running["create_time"] > 0


def test_signal_exit_code_is_negative() -> None:
    _, sink = execute(pipeline(step("self-kill", "kill -9 $$")))
    assert sink.final("self-kill")["exit_code"] == -9


def test_every_step_reads_an_empty_stdin_and_may_close_it() -> None:
    # The steps share one /dev/null descriptor of ours: closing fd 0 in a step (or the
    # step ending) must leave it usable for the next ones.
    script = "exec 0<&-; read -r x 2>/dev/null || echo eof"
    check = 'if read -r line; then echo "got $line"; else echo eof; fi'
    status, sink = execute(
        pipeline(step("closer", script), step("a", check, needs=["closer"]), step("b", check))
    )
    assert status is ExecutionStatus.SUCCESS
    assert [sink.lines(s, "stdout") for s in ("closer", "a", "b")] == [["eof"]] * 3


def test_spawn_errors(tmp_path: Path) -> None:
    spec = pipeline(step("nodir", working_directory="missing"), base_dir=tmp_path)
    status, sink = execute(spec)
    assert status is ExecutionStatus.FAILED
    assert sink.final("nodir")["reason"] == "spawn-error"
    assert "working directory does not exist" in sink.lines("nodir", "stderr")[0]

    async def missing_shell() -> None:
        launch = StepLaunch("e", "s", 1, ["/no/such/shell", "-c", "true"], {}, str(tmp_path))
        await LocalBackend().start(launch, lambda s, c: asyncio.sleep(0))

    with pytest.raises(SpawnError, match="/no/such/shell"):
        run(missing_shell())


@pytest.mark.parametrize("busy", [False, True], ids=["on-the-loop", "in-threads"])
def test_steps_start_alike_whether_spawned_on_the_loop_or_in_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, busy: bool
) -> None:
    # Steps are spawned on the loop while that is quick, in threads once a spawn was slow
    # (busy CPUs). A threshold below zero makes every spawn slow: all but the first go to
    # the threads.
    if busy:
        monkeypatch.setattr(local, "SLOW_SPAWN", -1.0)
    spec = pipeline(
        step("first", "echo one"),
        step("a", "echo out; echo err >&2", needs=["first"]),
        step("b", "exit 3", needs=["a"]),
        step("nodir", working_directory="missing", needs=["first"]),
        step("c", "echo $ANSFLOW_STEP_ID", needs=["first"]),
        base_dir=tmp_path,
    )
    status, sink = execute(spec)
    assert status is ExecutionStatus.FAILED
    assert sink.lines("a", "stdout") == ["out"] and sink.lines("a", "stderr") == ["err"]
    assert sink.final("b")["exit_code"] == 3
    assert sink.final("nodir")["reason"] == "spawn-error"
    assert "working directory does not exist" in sink.lines("nodir", "stderr")[0]
    assert sink.lines("c", "stdout") == ["c"]


def test_timeout_kills_tree_with_stubborn_grandchild(tmp_path: Path) -> None:
    pids, long = tmp_path / "pids", long_sleep()
    script = f"""
        echo $$ >> {pids}
        bash -c 'trap "" TERM; echo $$ >> {pids}; sleep {long} & echo $! >> {pids}; wait' &
        sleep {long} & echo $! >> {pids}
        wait
    """
    spec = pipeline(step("hang", script, timeout=1.5))
    started = time.monotonic()
    status, sink = execute(spec, kill_grace=0.3)
    assert time.monotonic() - started < 5
    assert status is ExecutionStatus.FAILED
    assert sink.final("hang")["reason"] == "timeout"
    assert len(pids.read_text().split()) == 4
    assert_all_gone(pids, long)


def test_escaped_descendant_is_killed(tmp_path: Path) -> None:
    pids, long = tmp_path / "pids", long_sleep()
    # setsid leaves the step's process group; psutil still finds it as a descendant.
    script = f"setsid bash -c 'trap \"\" TERM; echo $$ >> {pids}; exec sleep {long}' & sleep {long}"
    spec = pipeline(step("escape", script, timeout=1.5))
    status, _ = execute(spec, kill_grace=0.2)
    assert status is ExecutionStatus.FAILED
    assert_all_gone(pids, long)


def test_background_leftovers_die_with_the_step(tmp_path: Path) -> None:
    pids, long = tmp_path / "pids", long_sleep()
    started = time.monotonic()
    status, sink = execute(pipeline(step("bg", f"sleep {long} & echo $! > {pids}; echo done")))
    assert status is ExecutionStatus.SUCCESS and sink.lines("bg") == ["done"]
    assert time.monotonic() - started < 5
    assert_all_gone(pids, long)


def test_cancel_kills_everything(tmp_path: Path) -> None:
    pids, long = tmp_path / "pids", long_sleep()
    spec = pipeline(
        *[
            step(f"s{i}", f"echo $$ >> {pids}; bash -c 'echo $$ >> {pids}; sleep {long}'; true")
            for i in range(3)
        ],
        step("after", needs=["s0"]),
        max_parallel=4,
    )
    sink = ListSink()
    executor = Executor(spec, "e", LocalBackend(), sink, kill_grace=0.5)

    async def scenario() -> ExecutionStatus:
        task = asyncio.ensure_future(executor.run())
        while not pids.exists() or len(pids.read_text().split()) < 6:
            await asyncio.sleep(0.02)
        executor.cancel()
        return await task

    assert run(scenario(), timeout=10) is ExecutionStatus.CANCELLED
    sink.check_invariants()
    assert {sink.final(s)["status"] for s in spec.steps} == {"cancelled"}
    assert_all_gone(pids, long)


def test_output_fidelity() -> None:
    script = r"""
printf 'crlf\r\n'
printf '\033[32mgreen\033[0m\n'
printf '10%%\r50%%\r100%%\n'
printf 'bad \377 byte\n'
printf 'token=%s\n' "$TOKEN"
printf 'bin\000ary\n'
printf 'no newline at end'
"""
    spec = pipeline(step("out", script), env={"TOKEN": "tok-123"}, secrets=["TOKEN", "UNSET"])
    _, sink = execute(spec)
    assert sink.lines("out") == [
        "crlf",
        "\x1b[32mgreen\x1b[0m",
        "100%",
        "bad \ufffd byte",
        "token=***",
        "bin\x00ary",
        "no newline at end",
    ]


def test_fifty_megabytes_without_newline() -> None:
    spec = pipeline(step("huge", "head -c 52428800 /dev/zero | tr '\\0' x; echo; echo after"))
    status, sink = execute(spec, log_line_max_bytes=1000)
    assert status is ExecutionStatus.SUCCESS
    assert sink.lines("huge") == ["x" * 1000 + f"…[truncated {52428800 - 1000} bytes]", "after"]


def test_stderr_flood_and_interleaving() -> None:
    script = "for i in $(seq 1 20000); do echo err$i >&2; done; echo out"
    spec = pipeline(step("flood", script, shell="bash"))
    _, sink = execute(spec)
    assert sink.lines("flood", "stderr") == [f"err{i}" for i in range(1, 20001)]
    assert sink.lines("flood", "stdout") == ["out"]


def test_python_unbuffered_and_large_output() -> None:
    code = "import sys\nfor i in range(200000): sys.stdout.write(f'{i}\\n')"
    _, sink = execute(pipeline(step("py", code, shell="python")))
    lines = sink.lines("py")
    assert len(lines) == 200000 and lines[-1] == "199999"


def test_no_fd_leak() -> None:
    before = len(os.listdir("/proc/self/fd")) if sys.platform == "linux" else 0
    execute(pipeline(*[step(f"s{i}", "echo hi") for i in range(20)]))
    after = len(os.listdir("/proc/self/fd")) if sys.platform == "linux" else 0
    assert after <= before + 2


def test_escaped_daemon_holding_the_pipe_does_not_hang(tmp_path: Path) -> None:
    # The daemon leaves the group (setsid) and keeps stdout open after the step ended:
    # the step still ends shortly after its main process (we stop waiting for EOF).
    pids = tmp_path / "pids"
    script = f"setsid bash -c 'echo $$ > {pids}; exec sleep 30' & sleep 0.3; echo started"
    started = time.monotonic()
    try:
        status, sink = execute(pipeline(step("daemon", script)))
        assert status is ExecutionStatus.SUCCESS and sink.lines("daemon") == ["started"]
        assert time.monotonic() - started < 10
    finally:
        if pids.exists():
            os.kill(int(pids.read_text()), 9)


def test_background_processes_do_not_outlive_a_successful_step(tmp_path: Path) -> None:
    # `setsid cmd &` (keeps the pipes) and a double fork (lets them go) both leave the
    # step's process group; their tag (the step's ids in the environment) still finds them.
    pids, marker = tmp_path / "pids", long_sleep()
    script = (
        f": > {pids}\n"
        f"setsid bash -c 'echo $$ >> {pids}; exec sleep {marker}' &\n"
        f"( setsid bash -c 'echo $$ >> {pids}; exec sleep {marker}' >/dev/null 2>&1 & )\n"
        f"while [ $(wc -l < {pids}) -lt 2 ]; do sleep 0.01; done; echo started"
    )
    status, sink = execute(pipeline(step("bg", script), step("after", "echo after", needs=["bg"])))
    assert status is ExecutionStatus.SUCCESS
    assert sink.lines("bg") == ["started"]  # no marker: the pipes reached EOF
    assert len(pids.read_text().split()) == 2
    assert_all_gone(pids, marker)


def test_escapees_of_parallel_steps_are_swept_while_other_steps_start(tmp_path: Path) -> None:
    # Sweeps skip the pids of our other attempts' leaders: escapees started among them,
    # while many short steps start and end around them, must still all be found.
    pids, marker = tmp_path / "pids", long_sleep()
    own = f"{tmp_path}/own-$ANSFLOW_STEP_ID"
    script = (
        f"( setsid bash -c 'echo $$ >> {pids}; echo $$ > {own}; exec sleep {marker}' "
        ">/dev/null 2>&1 & )\n"
        f'while [ ! -s "{own}" ]; do sleep 0.01; done'
    )
    steps = [step(f"esc{i}", script) for i in range(4)]
    steps += [step(f"short{i}", "true") for i in range(40)]
    status, _ = execute(pipeline(*steps, max_parallel=6))
    assert status is ExecutionStatus.SUCCESS
    assert len(pids.read_text().split()) == 4
    assert_all_gone(pids, marker)


def test_a_retry_keeps_running_while_the_failed_attempt_is_swept(tmp_path: Path) -> None:
    # The sweep of attempt 1 must not touch attempt 2's processes (same step id).
    from ansflow_jupyter.pipeline.spec import RetrySpec

    script = (
        '[ "$ANSFLOW_ATTEMPT" = 1 ] && { setsid sleep 30 >/dev/null 2>&1 & exit 1; }\n'
        "sleep 0.3; echo ok"
    )
    status, sink = execute(
        pipeline(step("flaky", script, retry=RetrySpec(max=1, delay=0.0, backoff=1.0)))
    )
    assert status is ExecutionStatus.SUCCESS and sink.lines("flaky") == ["ok"]


def test_untagged_daemon_holding_the_pipe_is_named_in_the_log(tmp_path: Path) -> None:
    # A daemon that dropped the step's ids escapes the sweep and keeps stdout open: the
    # step still ends, and the log says why reading stopped (never silently).
    pids = tmp_path / "pids"
    script = (
        f"env -u ANSFLOW_EXECUTION_ID setsid bash -c 'echo $$ > {pids}; exec sleep 30' &"
        " sleep 0.3; echo started"
    )
    try:
        status, sink = execute(pipeline(step("daemon", script)))
        assert status is ExecutionStatus.SUCCESS
        assert sink.lines("daemon", "stdout") == ["started"]
        notes = sink.lines("daemon", "stderr")
        assert [n.split()[3] for n in notes] == ["stdout", "stderr"]
        assert all("background process it started still holds it open" in n for n in notes)
    finally:
        if pids.exists():
            os.kill(int(pids.read_text()), 9)


def test_pipeline_file_end_to_end(tmp_path: Path) -> None:
    """The real loader's conditions, matrix and defaults drive the executor."""
    from ansflow_jupyter.pipeline import load_pipeline

    (tmp_path / "app").mkdir()
    spec = load_pipeline(
        """
name: e2e
env: {MODE: prod, TOKEN: s3cret}
secrets: [TOKEN]
steps:
  build: {run: 'echo "building $TOKEN"; exit 1', continue-on-error: true}
  test:
    needs: build
    working-directory: app
    run: basename "$PWD"
  broken: {run: exit 2}
  notify: {needs: broken, if: failure(), run: echo notify}
  after-broken: {needs: broken, run: echo never}
  prod-only: {needs: test, if: "env.MODE == 'dev'", run: echo never}
  deploy:
    needs: test
    matrix: {py: ["3.11", "3.12"]}
    run: echo deploy ${{ matrix.py }}
""",
        base_dir=tmp_path,
    )
    status, sink = execute(spec)
    assert status is ExecutionStatus.FAILED
    got = {sid: (sink.final(sid)["status"], sink.final(sid)["reason"]) for sid in spec.steps}
    assert got == {
        "build": ("failed", "exit"),
        "test": ("success", "exit"),
        "broken": ("failed", "exit"),
        "notify": ("success", "exit"),
        "after-broken": ("skipped", "needs-failed"),
        "prod-only": ("skipped", "condition-false"),
        "deploy[py=3.11]": ("success", "exit"),
        "deploy[py=3.12]": ("success", "exit"),
    }
    assert sink.lines("build") == ["building ***"]
    assert sink.lines("test") == ["app"]
    assert sink.lines("deploy[py=3.12]") == ["deploy 3.12"]
