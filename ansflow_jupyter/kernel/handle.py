"""The Python API of the notebook: `run_pipeline(...)` and the `ExecutionHandle` it returns."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import NotFound
from ..events import ExecutionStatus, StepStatus
from ..format import failed_cell, step_reason
from .runner import Runner, get_runner

LOG_TAIL = 20
#: Server mode: the execution the lab extension follows when it renders a saved output
#: (the same name as `kernel.widget.EXECUTION_MIME_TYPE`; that module needs anywidget).
EXECUTION_MIME_TYPE = "application/vnd.ansflow.execution+json"
_POLL_MAX = 1.0


class PipelineFailed(Exception):
    """A waited-for pipeline did not succeed; names the failed steps with their log tails."""

    def __init__(
        self, execution_id: str, status: str, failures: list[dict[str, Any]], message: str = ""
    ):
        self.execution_id = execution_id
        self.status = status
        self.failures = failures
        super().__init__(_failure_message(execution_id, status, failures, message))

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a traceback through our internals: the failed
        # steps and their log tails are what the reader needs (nbclient still fails).
        return [f"PipelineFailed: {self}"]


def _failure_message(
    execution_id: str, status: str, failures: list[dict[str, Any]], message: str
) -> str:
    lines = [f"pipeline {status} (execution {execution_id})" + (f": {message}" if message else "")]
    for failure in failures:
        detail = step_reason(failure)
        lines.append(
            f"step {failure['step_id']!r} {failure['status']}" + (f" ({detail})" if detail else "")
        )
        if failure.get("cell"):
            lines.append(f"  {failure['message']}")  # the failing cell and its exception
        tail = failure.get("tail") or []
        if tail:
            lines.append(f"  last {len(tail)} log lines:")
            lines.extend(f"  | {line}" for line in tail)
    return "\n".join(lines)


class ExecutionHandle:
    """One execution, displayed as the live widget; `.wait()`, `.cancel()`, `.logs()`."""

    def __init__(self, runner: Runner, summary: Mapping[str, Any]):
        self._runner = runner
        self.id: str = str(summary["execution_id"])
        self.pipeline_name: str = str(summary.get("pipeline_name") or "")
        self._last_status = str(summary.get("status") or ExecutionStatus.PENDING.value)
        self._widget: Any = None
        self._shown_in: int | None = None

    @property
    def mode(self) -> str:
        """Either "server" (the Jupyter server runs it) or "embedded" (this kernel does)."""
        return str(self._runner.mode)

    # -- state -----------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The current snapshot envelope (execution fields, every step)."""
        snap = self._runner.snapshot(self.id)
        self._last_status = str(snap["data"]["execution"]["status"])
        return snap

    @property
    def status(self) -> ExecutionStatus:
        """The execution's status, fetched now."""
        return ExecutionStatus(self.snapshot()["data"]["execution"]["status"])

    def steps(self) -> dict[str, dict[str, Any]]:
        """Every step's current fields, by step id."""
        return {s["step_id"]: s for s in self.snapshot()["data"]["steps"]}

    @property
    def outputs(self) -> dict[str, dict[str, str]]:
        """Each step's outputs ($ANSFLOW_OUTPUT) by step id, fetched now; steps without any
        are left out."""
        return {sid: dict(s["outputs"]) for sid, s in self.steps().items() if s.get("outputs")}

    def logs(self, step: str | None = None, tail: int | None = None) -> list[str]:
        """Stored log lines (of one step, or of all), optionally only the last `tail`."""
        return [_line_text(row) for row in self._runner.logs(self.id, step=step, tail=tail)]

    def artifacts(self) -> list[dict[str, Any]]:
        """The files the steps collected: `{step_id, path, size, sha256, media_type}`."""
        return self._runner.artifacts(self.id)

    # -- control ---------------------------------------------------------------------

    def wait(
        self, timeout: float | None = None, *, raise_on_failure: bool = False
    ) -> ExecutionStatus:
        """Block until the execution ends and return its final status.

        TimeoutError after `timeout` seconds; PipelineFailed when `raise_on_failure` and the
        pipeline did not succeed. A kernel interrupt (Ctrl-C) while waiting cancels it."""
        try:
            status = self._wait(timeout)
        except KeyboardInterrupt:
            self.cancel()
            raise
        if self._widget is not None:
            # The displayed output's summary follows (server mode sends the kernel no events).
            self._widget.record_events([self.snapshot()])
        if raise_on_failure and status is not ExecutionStatus.SUCCESS:
            raise self.failure(status)
        return status

    def _wait(self, timeout: float | None) -> ExecutionStatus:
        deadline = None if timeout is None else time.monotonic() + timeout
        wait = getattr(self._runner, "wait", None)
        if wait is not None:  # embedded: wait on the manager rather than polling
            status = ExecutionStatus(wait(self.id, timeout))
            if status.finished:
                self._last_status = status.value
                return status
        delay = 0.1
        while True:
            status = self.status
            if status.finished:
                return status
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"execution {self.id} still {status.value} after {timeout} s")
            pause = delay if deadline is None else min(delay, max(0.0, deadline - time.monotonic()))
            time.sleep(pause)
            delay = min(delay * 1.5, _POLL_MAX)

    def failure(self, status: ExecutionStatus | None = None) -> PipelineFailed:
        """A PipelineFailed describing the failed steps and the tails of their logs."""
        snap = self.snapshot()
        final = status or ExecutionStatus(snap["data"]["execution"]["status"])
        bad = (StepStatus.FAILED.value, StepStatus.CANCELLED.value)
        failures = []
        for step in snap["data"]["steps"]:
            if step.get("status") in bad and not step.get("continue_on_error"):
                tail = self.logs(step["step_id"], tail=LOG_TAIL)
                cell = failed_cell(step.get("message"))
                failures.append({**step, "tail": tail, **({"cell": cell} if cell else {})})
        message = str(snap["data"]["execution"].get("message") or "")
        return PipelineFailed(self.id, final.value, failures, message)

    def cancel(self) -> None:
        """Cancel the execution: every process of every running step is killed."""
        self._runner.cancel(self.id)

    def rerun(
        self, failed_only: bool = False, *, wait: bool = False, display: bool = True
    ) -> ExecutionHandle:
        """A new execution of the same pipeline; `failed_only` re-runs failed steps and
        their dependents and reuses the rest."""
        summary = self._runner.rerun(self.id, failed_only=failed_only)
        return _launch(self._runner, summary, wait=wait, display=display)

    # -- display ---------------------------------------------------------------------

    @property
    def widget(self) -> Any:
        """The live ExecutionWidget (created on first use; None without anywidget)."""
        if self._widget is None:
            from .view import make_widget

            self._widget = make_widget(self._runner, self.id, self.pipeline_name, self._last_status)
        return self._widget

    def __repr__(self) -> str:
        return (
            f"<ExecutionHandle {self.id} pipeline={self.pipeline_name!r} "
            f"status={self._last_status} mode={self.mode}>"
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle: dict[str, Any] = {"text/plain": repr(self)}
        widget = self.widget
        shown = None if widget is None else widget._repr_mimebundle_()
        if shown:
            # ipywidgets answers (data, metadata); its text/plain and text/html summarise
            # the run for renderers without the widget manager (nbconvert, GitHub).
            bundle.update(shown[0] if isinstance(shown, tuple) else shown)
        if self.mode == "server":
            # The lab extension renders the live view from this alone (a reopened notebook
            # has no widget model); also without anywidget. Never in embedded mode: that
            # view needs this kernel's comm.
            bundle.setdefault(
                EXECUTION_MIME_TYPE,
                {"execution_id": self.id, "base_url": getattr(self._runner, "base_path", "/")},
            )
        return bundle

    def _ipython_display_(self) -> None:
        from IPython.display import display

        if self._shown_in is not None and self._shown_in == _execution_count():
            return  # run_pipeline already showed it in this cell; do not show it twice
        bundle = self._repr_mimebundle_()
        widget = self._widget
        if widget is None:
            display(bundle, raw=True)  # type: ignore[no-untyped-call]
            return
        # With a display id the widget re-publishes this output with the final state.
        widget.display_id = widget.display_id or uuid.uuid4().hex
        display(bundle, raw=True, display_id=widget.display_id)  # type: ignore[no-untyped-call]

    def show(self) -> None:
        """Display the live widget now (once per cell)."""
        self._ipython_display_()
        self._shown_in = _execution_count()


def _execution_count() -> int | None:
    from IPython.core.getipython import get_ipython

    shell = get_ipython()  # type: ignore[no-untyped-call]
    return None if shell is None else int(shell.execution_count)


def _line_text(row: Mapping[str, Any] | str) -> str:
    if isinstance(row, str):
        return row
    for key in ("line", "text", "content"):
        if key in row:
            return str(row[key])
    return str(row)


def _launch(
    runner: Runner,
    summary: Mapping[str, Any],
    *,
    wait: bool,
    display: bool,
    raise_on_failure: bool = True,
) -> ExecutionHandle:
    handle = ExecutionHandle(runner, summary)
    if display:
        handle.show()
    if wait:
        handle.wait(raise_on_failure=raise_on_failure)
    return handle


def run_pipeline(
    source: str | Path,
    *,
    wait: bool = False,
    embedded: bool | None = None,
    env: Mapping[str, str] | None = None,
    display: bool = True,
    raise_on_failure: bool = True,
    force: bool | list[str] = False,
    job: str | None = None,
    event: str | None = None,
    inputs: Mapping[str, str | int | float | bool] | None = None,
    strict: bool | None = None,
) -> ExecutionHandle:
    """Start a pipeline from a file path or YAML text (text when it has a newline).

    The Jupyter server runs it when it launched this kernel, else the kernel itself
    (`embedded=True` forces that). With `wait`, block until it ends and raise
    PipelineFailed unless it succeeded (`raise_on_failure=False` only returns). `force`
    bypasses the step cache (True, or a list of step ids). For a GitHub Actions workflow
    file: `job` runs that job and what it needs, `event` is `github.event_name`, `inputs`
    the inputs context, `strict` makes an unsupported action an error."""
    runner = get_runner(embedded)
    given = {"job": job, "event": event, "inputs": inputs, "strict": strict}
    workflow = {k: v for k, v in given.items() if v is not None}
    summary = runner.start(
        **pipeline_source(source), env=dict(env or {}), force=force, workflow=workflow or None
    )
    return _launch(runner, summary, wait=wait, display=display, raise_on_failure=raise_on_failure)


def show_execution(execution_id: str, *, embedded: bool | None = None) -> ExecutionHandle:
    """A handle on an existing execution (re-hydrates its widget)."""
    runner = get_runner(embedded)
    snap = runner.snapshot(execution_id)
    execution = snap["data"]["execution"]
    return ExecutionHandle(runner, {**execution, "execution_id": execution_id})


def pipeline_source(source: str | Path) -> dict[str, str]:
    """`{"yaml": text}` or `{"path": absolute path}`; NotFound for a missing file."""
    if isinstance(source, str) and "\n" in source:
        return {"yaml": source}
    path = Path(source).expanduser()
    if not path.is_file():
        raise NotFound(f"pipeline file not found: {source}")
    # Absolute: the server resolves relative paths against its root, not our cwd.
    return {"path": str(path.resolve())}
