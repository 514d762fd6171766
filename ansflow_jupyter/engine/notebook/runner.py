"""Runs one notebook inside a step's process: `python -m ansflow_jupyter.engine.notebook.runner`.

Parameters are injected with papermill (after the cell tagged "parameters"), cells run
with nbclient one by one. Cells, progress and each cell's output travel to the engine as
JSON lines on the control channel (the fd in ANSFLOW_CONTROL_FD); without one (a Dask
worker) the output goes to stdout/stderr with `::group::` lines around each cell. The
executed notebook is rewritten after each cell, every few seconds while output arrives,
and when the run fails, is stopped (SIGTERM) or its kernel dies.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from typing import IO, Any

from .limits import StreamLimit, marker, shrink_rich

#: Rewrite the output notebook at most this often while a cell produces output.
SAVE_EVERY = 2.0
#: The hint added to the error of a cell that called `input()`.
NO_STDIN = "a notebook step has no stdin: pass values as parameters"


class Stopped(Exception):
    """SIGTERM (timeout or cancel): save what ran and leave."""


def first_line(source: str) -> str:
    """The first non-empty line of a cell, cut to 60 characters."""
    for line in source.splitlines():
        if line.strip():
            return line.strip()[:60] + ("…" if len(line.strip()) > 60 else "")
    return ""


class Channel:
    """The control channel (JSON lines), or the step's stdout/stderr when there is none."""

    def __init__(self) -> None:
        raw = os.environ.pop("ANSFLOW_CONTROL_FD", "")  # the kernel must not inherit it
        self.file: IO[bytes] | None = None
        if raw.isdigit():
            fd = int(raw)
            os.set_inheritable(fd, False)
            self.file = os.fdopen(fd, "wb", buffering=0)

    def send(self, **message: Any) -> None:
        """One control message; nothing without a channel."""
        if self.file is not None:
            self.file.write(json.dumps(message).encode() + b"\n")

    def text(self, stream: str, text: str) -> None:
        """Output of a cell, in the order it was printed."""
        if self.file is not None:
            self.send(t="stream", stream=stream, text=text)
        else:
            out = sys.stdout if stream == "stdout" else sys.stderr
            out.write(text)
            out.flush()

    def group(self, title: str | None) -> None:
        """Without a channel, cells become in-band groups."""
        if self.file is None:
            sys.stdout.write(f"::group::{title}\n" if title is not None else "::endgroup::\n")
            sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    """Run the notebook; exit 0 on success, 1 on a failed cell or a dead kernel."""
    parser = argparse.ArgumentParser(prog="ansflow-notebook")
    parser.add_argument("notebook")
    parser.add_argument("--output", required=True)
    parser.add_argument("--kernel", default="")
    parser.add_argument("--parameters", default="{}")
    args = parser.parse_args(argv)
    channel = Channel()

    signalled: list[int] = []

    def stop(signum: int, frame: Any) -> None:
        signalled.append(signum)
        raise Stopped(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    try:
        import nbformat
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError, DeadKernelError
        from papermill.iorw import load_notebook_node
        from papermill.parameterize import parameterize_notebook
    except ImportError as exc:
        need = "notebook steps need papermill: pip install 'ansflow-jupyter[notebook]'"
        channel.text("stderr", f"ansflow: {need} ({exc})\n")
        channel.send(t="failed", message=need)
        return 1

    nb = load_notebook_node(args.notebook)  # papermill's reader (cell tags normalised)
    parameters = json.loads(args.parameters)
    kernel = args.kernel or nb.metadata.get("kernelspec", {}).get("name") or "python3"
    nb.metadata.setdefault("papermill", {})
    if parameters:
        for warning in parameter_warnings(nb, parameters, kernel):
            sys.stdout.write(f"::warning::{warning}\n")  # an annotation, as on GitHub
        sys.stdout.flush()
        nb = parameterize_notebook(nb, parameters, kernel_name=kernel)
    code = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    number = {index: n for n, index in enumerate(code, start=1)}
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    saved = [0.0]
    limit = StreamLimit()
    # The kernel talks to us over Unix sockets in a private folder: over TCP ipykernel
    # prints a warning about unencrypted traffic at the top of every step's log.
    ipc_dir = tempfile.mkdtemp(prefix="ansflow-kernel-") if os.name == "posix" else ""

    def save() -> None:
        tmp = f"{args.output}.tmp"
        nbformat.write(nb, tmp)  # type: ignore[no-untyped-call]
        os.replace(tmp, args.output)
        saved[0] = time.monotonic()

    class Client(NotebookClient):  # type: ignore[misc]
        """Streams each output to the engine as it arrives; the notebook keeps a bounded part."""

        def create_kernel_manager(self) -> Any:
            km = super().create_kernel_manager()
            if ipc_dir and _is_ipykernel(km):
                km.transport, km.ip = "ipc", os.path.join(ipc_dir, "kernel")
            return km

        def output(self, outs: Any, msg: Any, display_id: Any, cell_index: int) -> Any:
            content, kind = msg["content"], msg["msg_type"]
            if kind == "stream":
                text = content.get("text", "")
                channel.text(content.get("name", "stdout"), text)
                content["text"] = limit.keep(cell_index, text)
                result = (
                    super().output(outs, msg, display_id, cell_index) if content["text"] else None
                )
                limit.note(cell_index, outs)
            else:
                if kind in ("display_data", "execute_result"):
                    line = marker(content)
                    if line is not None:
                        channel.text("stdout", line if line.endswith("\n") else line + "\n")
                    shrink_rich(content)
                result = super().output(outs, msg, display_id, cell_index)
            if time.monotonic() - saved[0] > SAVE_EVERY:
                save()
            return result

        def clear_output(self, outs: Any, msg: Any, cell_index: int) -> None:
            limit.clear(cell_index)
            super().clear_output(outs, msg, cell_index)

    client = Client(
        nb,
        kernel_name=kernel,
        timeout=None,
        allow_errors=False,
        resources={"metadata": {"path": os.getcwd()}},
    )
    channel.send(t="start", total=len(code), output=os.path.abspath(args.output))
    save()
    status, message, trace = 0, "", ""
    current: int | None = None
    try:
        with client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                current = index
                title = f"Cell {number[index]} · {first_line(cell.source)}"
                channel.send(t="cell", index=number[index], label=first_line(cell.source))
                channel.group(title)
                client.execute_cell(cell, index)
                channel.group(None)
                channel.send(t="cell_end", index=number[index], status="success")
                current = None
                save()
    except CellExecutionError as exc:
        status = 1
        message, trace = _describe_error(nb, current, number, exc)
    except DeadKernelError:
        status = 1
        where = _where(nb, current, number)
        message = f"the kernel died while running {where}" if where else "the kernel died"
        if not signalled:  # stopped: the signal killed the kernel, not a crash
            channel.send(t="kernel_died", message=message)
    except Stopped as exc:
        status = 143
        message = str(exc)
    finally:
        if signalled:
            # A stop signals the whole process group: the kernel may die of it (and nbclient
            # report a dead kernel or a failed cell) before our own handler runs.
            status, message = 143, f"stopped by signal {signalled[0]}"
        _kill_kernel(client)
        if ipc_dir:
            shutil.rmtree(ipc_dir, ignore_errors=True)
        if current is not None:
            channel.group(None)
            state = "cancelled" if status == 143 else "failed"
            channel.send(t="cell_end", index=number[current], status=state)
        save()
    if status == 1:
        if trace:
            channel.text("stderr", trace if trace.endswith("\n") else trace + "\n")
        channel.text("stderr", f"ansflow: {message}\n")
        channel.send(t="failed", message=message)
    return status


def parameter_warnings(nb: Any, parameters: dict[str, Any], kernel: str) -> list[str]:
    """Parameters the notebook does not declare, or whose type differs from the declared
    default's (papermill runs both anyway)."""
    import ast

    from papermill.translators import papermill_translators
    from papermill.utils import find_first_tagged_cell_index

    index = find_first_tagged_cell_index(nb, "parameters")
    if index < 0:
        return ["the notebook has no cell tagged 'parameters': parameters go first"]
    language = nb.metadata.get("kernelspec", {}).get("language", "python")
    try:
        declared = {
            p.name: p.default
            for p in papermill_translators.find_translator(kernel, language).inspect(
                nb.cells[index]
            )
        }
    except Exception:  # a language papermill cannot inspect: nothing to compare
        return []
    out: list[str] = []
    for name, value in parameters.items():
        if name not in declared:
            out.append(f"parameter '{name}' is not declared in the notebook's parameters cell")
            continue
        try:
            default = ast.literal_eval(declared[name])
        except (ValueError, SyntaxError, TypeError):
            continue  # an expression: its type is unknown before it runs
        if default is None or type(default) is type(value):
            continue
        if isinstance(default, float) and type(value) is int:
            continue  # an int where a float is expected is fine
        out.append(
            f"parameter '{name}' is {type(value).__name__} {value!r}, the notebook's "
            f"default is {type(default).__name__} {default!r}"
        )
    return out


def _where(nb: Any, current: int | None, number: dict[int, int]) -> str:
    if current is None:
        return ""
    return f"cell {number[current]} ({first_line(nb.cells[current].source)})"


def _describe_error(
    nb: Any, current: int | None, number: dict[int, int], exc: Exception
) -> tuple[str, str]:
    """'cell 4 (df = load(...)): ValueError: bad' and the traceback (ANSI colours kept)."""
    ename, evalue, trace = type(exc).__name__, str(exc), ""
    if current is not None:
        for out in nb.cells[current].get("outputs", []):
            if out.get("output_type") == "error":
                ename, evalue = out.get("ename", ename), out.get("evalue", "")
                trace = "\n".join(out.get("traceback", []))
    if ename == "StdinNotImplementedError":
        evalue = f"{evalue} ({NO_STDIN})"
    return f"{_where(nb, current, number)} failed: {ename}: {evalue}", trace


def _is_ipykernel(km: Any) -> bool:
    """Whether the kernel is ipykernel: the one that warns about TCP and surely does IPC
    (other kernels keep TCP, which every kernel supports)."""
    try:
        argv = km.kernel_spec.argv if km.kernel_spec is not None else []
    except Exception:  # no such kernel: nbclient reports it when it starts the kernel
        return False
    return any("ipykernel" in str(arg) for arg in argv)


def _kill_kernel(client: Any) -> None:
    """The kernel lives in a session of its own: end it with us, whatever happened."""
    # Already gone is fine: the engine's sweep of the step's processes is the backstop.
    with contextlib.suppress(Exception):
        process = client.km.provisioner.process if client.km is not None else None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    with contextlib.suppress(Exception):
        client._cleanup_kernel()


if __name__ == "__main__":
    sys.exit(main())
