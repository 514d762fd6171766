"""The `ansflow` command: run, validate, schema, list, show, logs, artifacts, cache.

Exit codes: 0 success, 1 failed, 2 invalid input (pipeline, arguments or store),
130 cancelled with Ctrl-C (every step process is killed first).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from .cli_data import add_data_commands, cmd_data
from .errors import AnsFlowError, SpecError
from .events import Event, EventType, ExecutionStatus

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_INTERRUPTED = 0, 1, 2, 130


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
    run.add_argument("file", help="pipeline YAML file")
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
        help="steps running at once ($ANSFLOW_MAX_PARALLEL; default: CPU count)",
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
    sub.add_parser("schema", help="print the JSON Schema of pipeline files")

    lst = with_db(sub.add_parser("list", help="executions, newest first"))
    lst.add_argument("--json", action="store_true", help="one JSON object per line")
    lst.add_argument("--status", help="only executions in this state")
    lst.add_argument("--pipeline", help="only executions of this pipeline name")
    lst.add_argument("--limit", type=int, default=20)

    show = with_db(sub.add_parser("show", help="one execution with its steps"))
    show.add_argument("id")
    show.add_argument("--json", action="store_true", help="print the snapshot envelope")

    logs = with_db(sub.add_parser("logs", help="the log lines of an execution (raw)"))
    logs.add_argument("id")
    logs.add_argument("--step", help="only this step")
    logs.add_argument("--tail", type=int, metavar="N", help="only the last N lines")
    logs.add_argument(
        "--grep",
        metavar="PATTERN",
        help="only lines containing PATTERN (a regex when written /.../)",
    )
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new lines")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "validate":
            return cmd_validate(args.file)
        if args.command == "schema":
            from .pipeline import json_schema

            print(json.dumps(json_schema(), indent=2))
            return EXIT_OK
        spec, env = None, {}
        if args.command == "run":  # invalid input must change nothing: parse before the store
            from .pipeline import load_pipeline_file
            from .settings import env_pairs

            env = env_pairs(args.env)
            spec = load_pipeline_file(os.path.abspath(args.file), env=env)
        return asyncio.run(_dispatch(args, spec, env))
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return EXIT_INVALID
    except AnsFlowError as exc:
        print(f"ansflow: error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `ansflow logs ID | head`
        sys.stderr.close()
        return EXIT_OK


def cmd_validate(path: str) -> int:
    """`ansflow validate FILE`: every error, located; exit 2 when any."""
    from .pipeline import validate

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
    print(f"{path}: ok")
    return EXIT_OK


async def _dispatch(args: argparse.Namespace, spec: Any, env: dict[str, str]) -> int:
    from .settings import Settings

    flags = {k: v for k, v in vars(args).items() if k in Settings.__dataclass_fields__}
    manager = Settings.load(**flags).make_manager()
    try:
        await manager.start_up()
        if spec is not None:
            return await cmd_run(manager, spec, args, env)
        if args.command == "list":
            return await cmd_list(manager, args)
        if args.command == "show":
            return await cmd_show(manager, args)
        if args.command in ("artifacts", "cache"):
            return await cmd_data(manager, args)
        return await cmd_logs(manager, args)
    finally:
        await manager.shutdown()


async def cmd_run(manager: Any, spec: Any, args: argparse.Namespace, env: dict[str, str]) -> int:
    """`ansflow run FILE`: start, follow live, map the final status to the exit code."""
    from .cli_view import make_view

    force = True if args.force else list(args.force_step)
    info = await manager.start(spec, env=env, max_parallel=args.max_parallel, force=force)
    execution_id = info["execution_id"]
    interrupted = False

    def on_sigint() -> None:
        nonlocal interrupted
        interrupted = True
        manager.cancel_local(execution_id)

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, on_sigint)
    view = make_view(spec, json_lines=args.json, plain=args.plain)
    try:
        with view:
            async with await manager.subscribe(execution_id) as stream:
                while batch := await stream.next_batch():
                    view.apply(batch)
    finally:
        loop.remove_signal_handler(signal.SIGINT)
    status = await manager.wait(execution_id)
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if status is ExecutionStatus.SUCCESS else EXIT_FAILED


async def cmd_list(manager: Any, args: argparse.Namespace) -> int:
    """`ansflow list`: newest first; `--json` one object per line."""
    from .cli_view import print_executions

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
    from .cli_view import print_snapshot

    snapshot: Event = await manager.snapshot(args.id)
    if args.json:
        print(json.dumps(snapshot.to_dict()))
    else:
        print_snapshot(snapshot)
    return EXIT_OK


async def cmd_logs(manager: Any, args: argparse.Namespace) -> int:
    """`ansflow logs ID`: raw lines; `--follow` keeps printing until the execution ends."""
    out = sys.stdout
    if not args.follow:
        lines = await manager.logs(args.id, step=args.step, tail=args.tail, q=args.grep)
        out.writelines(f"{line['line']}\n" for line in lines)
        return EXIT_OK
    if args.grep:
        raise_usage("--follow cannot be combined with --grep")
    tail: list[str] = []
    async with await manager.subscribe(args.id, since=0) as stream:
        while batch := await stream.next_batch():
            for event in batch:
                if event.type is not EventType.LOG_UPDATE:
                    continue
                if args.step and event.data["step_id"] != args.step:
                    continue
                if stream.replaying and args.tail is not None:
                    tail = (tail + event.data["lines"])[-args.tail :] if args.tail else []
                    continue
                out.writelines(f"{line}\n" for line in [*tail, *event.data["lines"]])
                tail = []
            if not stream.replaying and tail:
                out.writelines(f"{line}\n" for line in tail)
                tail = []
            out.flush()
    out.writelines(f"{line}\n" for line in tail)
    return EXIT_OK


def raise_usage(message: str) -> None:
    """A command-line mistake: exit 2 with the message."""
    from .errors import BadRequest

    raise BadRequest(message)


if __name__ == "__main__":
    sys.exit(main())
