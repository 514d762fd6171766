"""The `ansflow` command: run, validate, schema, list, show, logs, cancel, rerun, artifacts,
cache.

Exit codes: 0 success, 1 failed, 2 invalid input (pipeline, arguments or store),
130 cancelled with Ctrl-C (every step process is killed first).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from . import cli_workflow
from .cli_artifacts import add_data_commands, cmd_data
from .cli_logs import cmd_logs
from .errors import AnsFlowError, Conflict, SpecError
from .events import Event, ExecutionStatus

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_INTERRUPTED = 0, 1, 2, 130
CANCEL_WAIT = 30.0  # seconds `ansflow cancel` waits for the owning process to stop it
ID_HELP = "execution id, or any unique prefix of one (as `ansflow list` prints it)"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(
        prog="ansflow", description="Run CI/CD-style pipelines and watch them live."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_db(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--db",
            dest="db_url",
            metavar="URL",
            help="SQLAlchemy URL of the store (default: $ANSFLOW_DB_URL or the SQLite file "
            "the Jupyter server extension uses)",
        )
        p.add_argument(
            "--retention-days",
            type=float,
            metavar="DAYS",
            help="delete finished executions older than this ($ANSFLOW_RETENTION_DAYS)",
        )
        return p

    run = with_db(sub.add_parser("run", help="run a pipeline with a live view"))
    run.add_argument("file", help="pipeline YAML file, or a notebook (.ipynb) run as one step")
    run.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="a notebook parameter, typed as papermill does (repeatable; .ipynb only)",
    )
    run.add_argument("--json", action="store_true", help="print the event stream as JSON lines")
    run.add_argument("--plain", action="store_true", help="plain line output even on a terminal")
    run.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override an environment variable of the pipeline (repeatable)",
    )
    run.add_argument(
        "--max-parallel",
        type=int,
        metavar="N",
        help="steps running at once ($ANSFLOW_MAX_PARALLEL; default: CPU count + 2)",
    )
    run.add_argument(
        "--backend",
        choices=("local", "dask"),
        help="where steps run ($ANSFLOW_BACKEND; default: local)",
    )
    run.add_argument(
        "--dask-address",
        metavar="ADDR",
        help="Dask scheduler ($ANSFLOW_DASK_ADDRESS; default: a local cluster)",
    )
    run.add_argument(
        "--log-line-max-bytes",
        type=int,
        metavar="N",
        help="cut longer log lines ($ANSFLOW_LOG_LINE_MAX_BYTES; default: 65536)",
    )

    run.add_argument("--force", action="store_true", help="bypass the step cache")
    run.add_argument(
        "--force-step",
        action="append",
        default=[],
        metavar="ID",
        help="bypass the step cache for this step (repeatable)",
    )
    add_data_commands(sub, with_db)

    validate = sub.add_parser("validate", help="check a pipeline file and report every error")
    validate.add_argument("file")
    for command in (run, validate):
        cli_workflow.add_arguments(command)
    sub.add_parser("schema", help="print the JSON Schema of pipeline files")

    lst = with_db(sub.add_parser("list", help="executions, newest first"))
    lst.add_argument("--json", action="store_true", help="one JSON object per line")
    lst.add_argument("--status", help="only executions in this state")
    lst.add_argument("--pipeline", help="only executions of this pipeline name")
    lst.add_argument("--limit", type=int, default=20)

    show = with_db(sub.add_parser("show", help="one execution with its steps"))
    show.add_argument("id", help=ID_HELP)
    show.add_argument("--json", action="store_true", help="print the snapshot envelope")

    logs = with_db(sub.add_parser("logs", help="the log lines of an execution"))
    logs.add_argument("id", help=ID_HELP)
    logs.add_argument(
        "--step",
        help="only this step (raw lines), or the legs of this matrix step (prefixed)",
    )
    logs.add_argument("--tail", type=int, metavar="N", help="only the last N lines")
    logs.add_argument(
        "--grep",
        metavar="PATTERN",
        help="only lines containing PATTERN (a regex when written /.../)",
    )
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new lines")

    cancel = with_db(sub.add_parser("cancel", help="cancel a running execution"))
    cancel.add_argument("id", help=ID_HELP)

    rerun = with_db(sub.add_parser("rerun", help="run an execution's pipeline again, live"))
    rerun.add_argument("id", help=ID_HELP)
    rerun.add_argument(
        "--failed",
        action="store_true",
        help="re-run only the steps that did not succeed and their dependents; reuse the rest",
    )
    rerun.add_argument(
        "--force", action="store_true", help="run every step, bypassing any cached result"
    )
    rerun.add_argument("--json", action="store_true", help="print the event stream as JSON lines")
    rerun.add_argument("--plain", action="store_true", help="plain line output even on a terminal")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    # Start-up (imports, SQLAlchemy's tables, the store) makes some 50,000 container objects
    # that live as long as the process; the collector walked them again and again while
    # they were made, about a tenth of a one-step run. Pause it until the store is open,
    # then freeze what start-up made so later collections skip it.
    gc.disable()
    try:
        return _main(argv)
    finally:
        _started()


def _started() -> None:
    """Start-up is over: the collector runs again, over what is made from now on."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "validate":
            return cmd_validate(args.file, args)
        if args.command == "schema":
            from .pipeline import json_schema

            print(json.dumps(json_schema(), indent=2))
            return EXIT_OK
        spec, env = None, {}
        if args.command == "run":  # invalid input must change nothing: parse before the store
            from .settings import env_pairs

            env = env_pairs(args.env)
            workflow = cli_workflow.options(args)
            spec = _load_run_file(os.path.abspath(args.file), args.parameter, env, workflow)
            cli_workflow.check_applies(spec, args)
        return asyncio.run(_dispatch(args, spec, env))
    except SpecError as exc:
        print(_as_typed(exc, getattr(args, "file", None)), file=sys.stderr)
        return EXIT_INVALID
    except AnsFlowError as exc:
        print(f"ansflow: error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `ansflow logs ID | head`
        sys.stderr.close()
        return EXIT_OK


def _as_typed(exc: SpecError, typed: str | None) -> str:
    """The issues, naming the file as the user typed it (`run` resolves it for the store),
    as `ansflow validate` does; other files (a reusable workflow) keep their names."""
    from dataclasses import replace

    if not typed:
        return str(exc)
    full = os.path.abspath(typed)
    return "\n".join(str(replace(i, file=typed) if i.file == full else i) for i in exc.issues)


def _load_run_file(
    path: str, parameters: list[list[str]], env: dict[str, str], workflow: Any
) -> Any:
    """A pipeline or workflow file, or a notebook as a one-step pipeline (`-p` only there)."""
    from .pipeline import load_pipeline_file

    if parameters and not path.endswith(".ipynb"):
        raise AnsFlowError("-p NAME VALUE applies to notebooks (.ipynb) only")
    pairs = [(n, v) for n, v in parameters]
    return load_pipeline_file(path, env=env, parameters=pairs, workflow=workflow)


def cmd_validate(path: str, args: argparse.Namespace | None = None) -> int:
    """`ansflow validate FILE`: every error, located; exit 2 when any (for a workflow file
    also what will run and what is skipped, and why)."""
    from .pipeline import load_pipeline_file, validate

    if path.endswith(".ipynb"):  # a notebook is checked as `ansflow run` reads it
        try:
            load_pipeline_file(path)
        except SpecError as exc:
            print(exc, file=sys.stderr)
            return EXIT_INVALID
        print(f"{path}: ok")
        return EXIT_OK
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        print(f"{path}: cannot read: {exc.strerror}", file=sys.stderr)
        return EXIT_INVALID
    issues = validate(data, path=path)
    for issue in issues:
        print(issue, file=sys.stderr)
    if issues:
        return EXIT_INVALID
    if args is not None and b"jobs" in data:
        spec = load_pipeline_file(path, workflow=cli_workflow.options(args))
        for line in cli_workflow.plan(spec, args.event):
            print(line)
    print(f"{path}: ok")
    return EXIT_OK


async def _dispatch(args: argparse.Namespace, spec: Any, env: dict[str, str]) -> int:
    from .settings import Settings

    flags = {k: v for k, v in vars(args).items() if k in Settings.__dataclass_fields__}
    manager = Settings.load(**flags).make_manager()
    try:
        await manager.start_up()
        _started()
        if spec is not None:
            return await cmd_run(manager, spec, args, env)
        if args.command == "list":
            return await cmd_list(manager, args)
        if args.command == "cache":
            return await cmd_data(manager, args)
        args.id = await manager.resolve_id(args.id)
        if args.command == "artifacts":
            return await cmd_data(manager, args)
        command = {"show": cmd_show, "cancel": cmd_cancel, "rerun": cmd_rerun, "logs": cmd_logs}
        return await command[args.command](manager, args)
    finally:
        await manager.shutdown()


async def cmd_run(manager: Any, spec: Any, args: argparse.Namespace, env: dict[str, str]) -> int:
    """`ansflow run FILE`: start, follow live, map the final status to the exit code."""
    force = True if args.force else list(args.force_step)
    info = await manager.start(
        spec,
        env=env,
        max_parallel=args.max_parallel,
        force=force,
        workflow=cli_workflow.options(args),
    )
    return await follow_run(manager, info["execution_id"], spec, args)


async def cmd_rerun(manager: Any, args: argparse.Namespace) -> int:
    """`ansflow rerun ID [--failed] [--force]`: a new execution of the same pipeline, live."""
    from .run_options import stored_spec

    info = await manager.rerun(args.id, failed_only=args.failed, force=args.force)
    spec = stored_spec(await manager.get(info["execution_id"]))
    print(f"re-running {args.id[:12]} as {info['execution_id'][:12]}", file=sys.stderr)
    return await follow_run(manager, info["execution_id"], spec, args)


async def follow_run(manager: Any, execution_id: str, spec: Any, args: argparse.Namespace) -> int:
    """Follow an execution of this process in a view; Ctrl-C cancels it (exit 130), as do
    SIGTERM (143) and SIGHUP (129)."""
    from .cli_view import make_view

    stopped_by = 0
    # Without handlers SIGTERM (`timeout`, CI runners) and SIGHUP (a closed terminal) ended
    # the process at once: its steps (in sessions of their own) ran on and the run stayed
    # `running` until another process on the store noticed.
    # One that is ignored stays so (`nohup ansflow run …` survives the hangup).
    signals = [signal.SIGINT] + [
        sig for sig in (signal.SIGTERM, signal.SIGHUP) if signal.getsignal(sig) != signal.SIG_IGN
    ]

    def on_signal(signum: int) -> None:
        nonlocal stopped_by
        stopped_by = stopped_by or signum
        manager.cancel_local(execution_id)

    loop = asyncio.get_running_loop()
    for signum in signals:
        loop.add_signal_handler(signum, on_signal, signum)
    view = make_view(spec, execution_id, json_lines=args.json, plain=args.plain)
    try:
        with view:
            # Every event from the first: a step that ends before we subscribe still has
            # its lines in the failure report (a snapshot would only count them).
            async with await manager.subscribe(execution_id, since=0) as stream:
                while batch := await stream.next_batch():
                    view.apply(batch)
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
    status = await manager.wait(execution_id)
    if stopped_by:
        return 128 + stopped_by  # 130 for Ctrl-C (EXIT_INTERRUPTED)
    return EXIT_OK if status is ExecutionStatus.SUCCESS else EXIT_FAILED


async def cmd_list(manager: Any, args: argparse.Namespace) -> int:
    """`ansflow list`: newest first; `--json` one object per line."""
    from .cli_render import print_executions

    rows = await manager.list(status=args.status, pipeline=args.pipeline, limit=args.limit)
    if args.json:
        keys = ("execution_id", "pipeline_name", "status", "started_at", "duration")
        for row in rows:
            print(json.dumps({k: row.get(k) for k in keys}))
    else:
        print_executions(rows)
    return EXIT_OK


async def cmd_show(manager: Any, args: argparse.Namespace) -> int:
    """`ansflow show ID`: the execution and its steps."""
    from .cli_render import print_snapshot

    snapshot: Event = await manager.snapshot(args.id)
    if args.json:
        print(json.dumps(snapshot.to_dict()))
    else:
        print_snapshot(snapshot.data)
        await _print_step_data(manager, snapshot)
    return EXIT_OK


async def _print_step_data(manager: Any, snapshot: Event) -> None:
    """Outputs and step summaries below the steps table (see cli_data.py)."""
    from .cli_data import print_step_data

    steps = snapshot.data["steps"]
    summaries = (
        await manager.summaries(snapshot.execution_id)
        if any(s.get("summary") for s in steps)
        else []
    )
    print_step_data(steps, summaries)


async def cmd_cancel(manager: Any, args: argparse.Namespace) -> int:
    """`ansflow cancel ID`: cancel a running execution wherever it runs (another process
    finds the request in the store within a second); a finished one is left as it is."""
    execution = await manager.get(args.id)
    if ExecutionStatus(execution["status"]).finished:
        print(f"execution {args.id} already ended: {execution['status']}")
        return EXIT_OK
    await manager.cancel(args.id)
    status = await _await_end(manager, args.id, CANCEL_WAIT)
    if not status.finished:
        raise Conflict(f"execution {args.id} is still {status} after {CANCEL_WAIT:g}s")
    print(f"execution {args.id} cancelled")
    return EXIT_OK


async def _await_end(manager: Any, execution_id: str, timeout: float) -> ExecutionStatus:
    """Poll the store until the execution ends or `timeout` passes; its status then."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        status = ExecutionStatus((await manager.get(execution_id))["status"])
        if status.finished or loop.time() > deadline:
            return status
        await asyncio.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main())
