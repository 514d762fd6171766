"""`%ansflow` / `%%ansflow`: run, list, show, cancel and read the logs of pipelines."""

from __future__ import annotations

import argparse
import html
import shlex
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class

from ..errors import AnsFlowError
from ..pipeline.errors import SpecError
from ..settings import env_pairs
from .handle import ExecutionHandle, run_pipeline, show_execution
from .runner import get_runner

USAGE = """\
%ansflow run FILE [--wait] [--embedded] [--force] [--env K=V ...]
    [--job ID] [--event NAME] [--input K=V ...] [--strict]  (workflow files)
%%ansflow run [--wait] [--embedded] [--force] [--env K=V ...]  (pipeline YAML in the cell)
%ansflow list [--limit N] [--status S] [--embedded]
%ansflow show ID [--embedded]
%ansflow cancel ID [--embedded]
%ansflow logs ID [--step S] [--tail N] [--embedded]"""


class _Parser(argparse.ArgumentParser):
    """argparse that reports mistakes as UsageError instead of exiting the kernel."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message}\nusage:\n{USAGE}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise UsageError(message or USAGE)


def _parser() -> _Parser:
    parser = _Parser(prog="%ansflow", add_help=False)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", add_help=False)
    run.add_argument("file", nargs="?")
    run.add_argument("--wait", action="store_true")
    run.add_argument("--force", action="store_true", help="bypass the step cache")
    run.add_argument("--env", action="append", default=[], metavar="K=V")
    run.add_argument("--job")
    run.add_argument("--event")
    run.add_argument("--input", action="append", default=[], metavar="K=V")
    run.add_argument("--strict", action="store_true", default=None)
    for name in ("list", "show", "cancel", "logs"):
        cmd = sub.add_parser(name, add_help=False)
        if name != "list":
            cmd.add_argument("id")
    sub.choices["list"].add_argument("--limit", type=int, default=20)
    sub.choices["list"].add_argument("--status")
    sub.choices["logs"].add_argument("--step")
    sub.choices["logs"].add_argument("--tail", type=int)
    for cmd in sub.choices.values():
        cmd.add_argument("--embedded", action="store_true", default=None)
    return parser


def _user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Show a user's mistake (bad file, invalid YAML, unknown id) without a traceback."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SpecError as exc:
            count = len(exc.issues)
            head = f"invalid pipeline ({count} problem{'s' if count != 1 else ''}):"
            raise UsageError(head + "\n" + str(exc)) from None
        except AnsFlowError as exc:
            raise UsageError(str(exc)) from None

    wrapper.__doc__ = fn.__doc__
    wrapper.__name__ = fn.__name__
    return wrapper


@magics_class
class AnsFlowMagics(Magics):
    """The `%ansflow` line magic and `%%ansflow` cell magic."""

    @line_cell_magic  # type: ignore[untyped-decorator]
    def ansflow(self, line: str, cell: str | None = None) -> Any:
        """Run and follow pipelines; `%ansflow` alone prints the usage."""
        return _dispatch(line, cell)


@_user_errors
def _dispatch(line: str, cell: str | None) -> Any:
    try:
        argv = shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"cannot parse {line!r}: {exc}") from None
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return None
    args = _parser().parse_args(argv)
    command: Callable[[argparse.Namespace, str | None], Any] = COMMANDS[args.command]
    return command(args, cell)


def _run(args: argparse.Namespace, cell: str | None) -> ExecutionHandle:
    if cell is not None and args.file:
        raise UsageError("%%ansflow run takes the pipeline from the cell, not a FILE")
    if cell is None and not args.file:
        raise UsageError("%ansflow run needs a FILE (or use %%ansflow run with YAML in the cell)")
    if cell is not None and not cell.strip():
        raise UsageError("%%ansflow run: the cell is empty; write the pipeline YAML in it")
    # A one-line cell is still YAML, never a path: keep the newline that marks it as text.
    source: str = args.file if cell is None else cell if "\n" in cell else cell + "\n"
    return run_pipeline(
        source,
        wait=args.wait,
        embedded=args.embedded,
        env=env_pairs(args.env),
        force=args.force,
        job=args.job,
        event=args.event,
        inputs=env_pairs(args.input) if args.input else None,
        strict=args.strict,
    )


def _list(args: argparse.Namespace, cell: str | None) -> None:
    from IPython.display import display

    rows = get_runner(args.embedded).list_executions(limit=args.limit, status=args.status)
    display(ExecutionTable(rows))  # type: ignore[no-untyped-call]


def _show(args: argparse.Namespace, cell: str | None) -> ExecutionHandle:
    handle = show_execution(args.id, embedded=args.embedded)
    handle.show()
    return handle


def _cancel(args: argparse.Namespace, cell: str | None) -> None:
    status = show_execution(args.id, embedded=args.embedded).status
    if status.finished:  # as `ansflow cancel` says: nothing was asked of anyone
        print(f"execution {args.id} already ended: {status}")
        return
    get_runner(args.embedded).cancel(args.id)
    print(f"cancel requested for execution {args.id}")


def _logs(args: argparse.Namespace, cell: str | None) -> None:
    handle = show_execution(args.id, embedded=args.embedded)
    if args.step is None:
        legs = None
    else:
        # The store answers an unknown step with no lines: say so, as `ansflow logs` does.
        steps = handle.steps()
        legs = [args.step] if args.step in steps else _legs(steps, args.step)
        if not legs:
            raise UsageError(f"unknown step {args.step!r}; the steps are: {', '.join(steps)}")
    if legs is None or legs == [args.step]:
        for text in handle.logs(step=args.step, tail=args.tail):
            print(text)
        return
    for leg in legs:  # a matrix step: the lines of each of its legs
        for text in handle.logs(step=leg, tail=args.tail):
            print(f"{leg} | {text}")


def _legs(steps: dict[str, dict[str, Any]], template: str) -> list[str]:
    return [sid for sid, s in steps.items() if s.get("template_id") == template and sid != template]


COMMANDS: dict[str, Callable[[argparse.Namespace, str | None], Any]] = {
    "run": _run,
    "list": _list,
    "show": _show,
    "cancel": _cancel,
    "logs": _logs,
}


class ExecutionTable:
    """`%ansflow list` output: an HTML table in notebooks, aligned text elsewhere."""

    COLUMNS = ("execution_id", "pipeline_name", "status", "started_at", "duration")

    def __init__(self, rows: Sequence[dict[str, Any]]):
        self.rows = [[_cell(row.get(c), c) for c in self.COLUMNS] for row in rows]

    def __repr__(self) -> str:
        if not self.rows:
            return "no executions yet"
        table = [list(self.COLUMNS), *self.rows]
        widths = [max(len(r[i]) for r in table) for i in range(len(self.COLUMNS))]
        return "\n".join(
            "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in table
        )

    def _repr_html_(self) -> str:
        if not self.rows:
            return "<p>no executions yet</p>"
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.COLUMNS)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>"
            for row in self.rows
        )
        return f'<table class="ansflow-list"><tr>{head}</tr>{body}</table>'


def _cell(value: Any, column: str) -> str:
    if value is None:
        return ""
    if column == "started_at" and isinstance(value, int | float):
        import datetime

        return datetime.datetime.fromtimestamp(value).strftime("%Y-%m-%d %H:%M:%S")
    if column == "duration" and isinstance(value, int | float):
        from ..format import format_duration

        return format_duration(value)
    return str(value)


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics on an IPython shell."""
    ipython.register_magics(AnsFlowMagics)
