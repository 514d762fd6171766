"""Words and numbers for people: durations, reasons and step categories, for every view.

Pure functions, no I/O. The CLI, the kernel's text summaries and (mirrored in
TypeScript, `labextension/widget/format.ts`) the widget all say the same thing:

Durations (`format_duration`): unknown, negative or not finite -> `""`; under 9.95 s one
decimal (`0.4s`, `9.9s`); then whole seconds, rounded down (`10s`, `12s`); from a minute,
minutes and zero-padded seconds (`2m 05s`); from an hour, hours and zero-padded minutes
(`1h 02m`, `26h 00m`). Limits a user wrote (`timeout: 5m`) drop zero parts (`5m`,
`1m 30s`, `1h`).

Reasons (`describe_reason`): one sentence per StepReason, e.g. `exit 1`,
`killed after the 5m timeout`, `skipped: a step it needs failed`, `reused from run
0123456789ab`; a negative exit code is a signal (`killed by SIGTERM`).

Step suffix (`step_suffix`): the comma-separated details after a step's status:
`attempt 2, 2m 05s, exit 1`.
"""

from __future__ import annotations

import math
import re
import signal
from collections.abc import Iterable, Mapping
from typing import Any

#: Step categories in the order views list their counts.
CATEGORIES = (
    "success",
    "failed",
    "allowed-failure",
    "skipped",
    "cancelled",
    "reused",
    "cached",
    "running",
    "pending",
)

_SENTENCES = {
    "timeout": "killed: it ran past its timeout",
    "cancelled": "cancelled: the run was cancelled",
    "needs-failed": "skipped: a step it needs failed",
    "condition-false": "skipped: its if: condition was false",
    "spawn-error": "could not be started",
    "interrupted": "interrupted: the process running it stopped",
    "reused": "reused from an earlier run",
    "cached": "cached: its inputs did not change",
    "output-error": "failed: its outputs could not be read",
    "worker-lost": "the worker running it was lost",
    "kernel-died": "the notebook kernel running it died",
    "log-limit": "stopped: it wrote more log than allowed",
    "tool-missing": "skipped: a tool it needs is not installed",
    "fail-fast": "cancelled: another matrix leg failed (fail-fast)",
    "runner-os": "skipped: it runs on another operating system or CPU architecture",
    "unsupported-action": "skipped: this action is not supported here",
    "needs-container": "skipped: it needs a container or services",
}


def format_duration(seconds: float | None) -> str:
    """`0.4s`, `12s`, `2m 05s`, `1h 02m`; `""` when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return ""
    if seconds < 9.95:
        return f"{seconds:.1f}s"
    whole = max(int(seconds), 10)  # 9.95-9.99 would print as 10.0s: say 10s
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def format_limit(seconds: float) -> str:
    """A configured limit without zero parts: `30s`, `5m`, `1m 30s`, `1h`, `1h 30m`."""
    whole = int(seconds)
    if whole != seconds or whole < 60:
        return f"{seconds:g}s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    parts.append(f"{secs}s" if secs else "")
    return " ".join(p for p in parts if p)


def describe_exit(exit_code: int) -> str:
    """`exit 1`, or `killed by SIGKILL` for a negative (signal) code."""
    if exit_code < 0:
        try:
            return f"killed by {signal.Signals(-exit_code).name}"
        except ValueError:
            return f"killed by signal {-exit_code}"
    return f"exit {exit_code}"


def describe_reason(
    reason: str | None,
    exit_code: int | None = None,
    *,
    status: str | None = None,
    timeout: float | None = None,
    source: str | None = None,
    continue_on_error: bool = False,
) -> str:
    """The reason a step ended, as a sentence; `""` for a plain success.

    `timeout` (seconds) names the limit, `source` the execution a reused or cached step
    comes from, `continue_on_error` marks a failure that does not fail the pipeline."""
    if reason in (None, "exit"):
        if exit_code is None or (exit_code == 0 and status != "failed"):
            text = ""
        else:
            text = describe_exit(exit_code)
    elif reason == "timeout" and timeout is not None:
        text = f"killed after the {format_limit(timeout)} timeout"
    elif reason in ("reused", "cached") and source:
        text = f"{reason} from run {source[:12]}"
    else:
        text = _SENTENCES.get(reason, reason)
    if status == "failed" and continue_on_error:
        text = f"{text}, allowed to fail" if text else "allowed to fail"
    return text


#: Skips whose step message names what exactly (the tool, the runner, the action).
_SAID_BY_MESSAGE = ("tool-missing", "runner-os", "unsupported-action")


def step_reason(step: Mapping[str, Any], timeout: float | None = None) -> str:
    """`describe_reason` of a step's fields (a step_update or snapshot entry)."""
    source = step.get("reused_from") or step.get("cached_from")
    code = step.get("exit_code")
    text = describe_reason(
        step.get("reason"),
        code if isinstance(code, int) else None,
        status=step.get("status"),
        timeout=timeout,
        source=str(source) if source else None,
        continue_on_error=bool(step.get("continue_on_error")),
    )
    message = step.get("message")
    if step.get("reason") in _SAID_BY_MESSAGE and isinstance(message, str) and message:
        # "a tool it needs is not installed" alone leaves the user to guess which.
        text = f"{text}: {message}"
    return text


def step_suffix(step: Mapping[str, Any], timeout: float | None = None) -> str:
    """`attempt 2, 2m 05s, exit 1`: the details after a step's status ("" when none)."""
    parts = []
    attempt = step.get("attempt")
    if isinstance(attempt, int) and attempt > 1:
        parts.append(f"attempt {attempt}")
    if step.get("status") not in (None, "pending", "running"):
        duration = step.get("duration")
        parts.append(format_duration(duration if isinstance(duration, int | float) else None))
        parts.append(step_reason(step, timeout))
    return ", ".join(p for p in parts if p)


def step_category(step: Mapping[str, Any]) -> str:
    """The category a step counts under (one of CATEGORIES)."""
    status = str(step.get("status") or "pending")
    if status == "success" and step.get("reason") in ("reused", "cached"):
        return str(step["reason"])
    if status == "failed" and step.get("continue_on_error"):
        return "allowed-failure"
    return status if status in CATEGORIES else "failed"


def count_categories(steps: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Steps per category, in CATEGORIES order, without the empty ones."""
    counts = dict.fromkeys(CATEGORIES, 0)
    for step in steps:
        counts[step_category(step)] += 1
    return {k: n for k, n in counts.items() if n}


def describe_counts(counts: Mapping[str, int]) -> str:
    """`3 success, 1 failed, 2 skipped`."""
    return ", ".join(f"{n} {k}" for k, n in counts.items() if n)


# A notebook step's message names its cell (engine/notebook/runner.py writes it):
# "cell 4 (df = load()) failed: KeyError: 'b'" or
# "the kernel died while running cell 4 (df = load())".
_CELL_FAILED = re.compile(r"^cell (\d+) \((.*?)\) failed: (.*)$", re.DOTALL)
_CELL_DIED = re.compile(r"^the kernel died while running cell (\d+) \((.*)\)$", re.DOTALL)


def failed_cell(message: str | None) -> dict[str, Any] | None:
    """`{index, source, error}` of the cell a notebook step's message names, else None."""
    if not message:
        return None
    found = _CELL_FAILED.match(message)
    if found:
        return {"index": int(found[1]), "source": found[2], "error": found[3]}
    found = _CELL_DIED.match(message)
    if found:
        return {"index": int(found[1]), "source": found[2], "error": "the kernel died"}
    return None
