"""The words every view uses: durations, reasons, step suffixes and categories."""

from __future__ import annotations

import pytest

from ansflow_jupyter.events import StepReason
from ansflow_jupyter.format import (
    CATEGORIES,
    count_categories,
    describe_reason,
    format_duration,
    format_limit,
    step_category,
    step_suffix,
)

UPCOMING = [
    "cached",
    "output-error",
    "worker-lost",
    "kernel-died",
    "log-limit",
    "tool-missing",
    "fail-fast",
    "runner-os",
    "unsupported-action",
    "needs-container",
]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, ""),
        (-1.0, ""),
        (float("nan"), ""),
        (0.0, "0.0s"),
        (0.04, "0.0s"),
        (0.42, "0.4s"),
        (9.94, "9.9s"),
        (9.96, "10s"),
        (12.7, "12s"),
        (59.99, "59s"),
        (60.0, "1m 00s"),
        (245.0, "4m 05s"),
        (3599.9, "59m 59s"),
        (3600.0, "1h 00m"),
        (3720.0, "1h 02m"),
        (93600.0, "26h 00m"),
    ],
)
def test_durations(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_limits_drop_zero_parts() -> None:
    assert [format_limit(s) for s in (30, 300, 90, 3600, 5400, 1.5)] == [
        "30s",
        "5m",
        "1m 30s",
        "1h",
        "1h 30m",
        "1.5s",
    ]


@pytest.mark.parametrize("reason", [*(r.value for r in StepReason if r != "exit"), *UPCOMING])
def test_every_reason_has_a_sentence(reason: str) -> None:
    sentence = describe_reason(reason, status="failed")
    assert sentence and sentence != reason and " " in sentence


def test_reason_sentences() -> None:
    assert describe_reason("exit", 1, status="failed") == "exit 1"
    assert describe_reason("exit", 0, status="success") == ""
    assert describe_reason(None, -15, status="failed") == "killed by SIGTERM"
    assert describe_reason("timeout", -9, status="failed", timeout=300) == (
        "killed after the 5m timeout"
    )
    assert describe_reason("needs-failed", status="skipped") == "skipped: a step it needs failed"
    assert describe_reason("exit", 1, status="failed", continue_on_error=True) == (
        "exit 1, allowed to fail"
    )
    assert describe_reason("reused", status="success", source="0123456789abcdef") == (
        "reused from run 0123456789ab"
    )


def test_step_suffix() -> None:
    step = {"status": "failed", "attempt": 2, "duration": 125.0, "reason": "exit", "exit_code": 1}
    assert step_suffix(step) == "attempt 2, 2m 05s, exit 1"
    assert step_suffix({"status": "running", "attempt": 1}) == ""
    assert step_suffix({"status": "success", "duration": 1.25, "exit_code": 0}) == "1.2s"


def test_a_skip_for_a_missing_tool_or_another_runner_names_which() -> None:
    # "skipped: a tool it needs is not installed" left the user to guess: uv? Python 3.14?
    tool = {"status": "skipped", "reason": "tool-missing", "message": "uv is not installed"}
    assert step_suffix(tool) == "skipped: a tool it needs is not installed: uv is not installed"
    arm = "runs-on ubuntu-24.04-arm needs an ARM64 machine; this one is X64"
    assert step_suffix({"status": "skipped", "reason": "runner-os", "message": arm}).endswith(
        f"CPU architecture: {arm}"
    )
    # Other reasons keep their sentence alone (a failed step's message is printed apart).
    failed = {"status": "skipped", "reason": "needs-failed", "message": "x"}
    assert step_suffix(failed) == "skipped: a step it needs failed"


def test_categories_tell_skipped_cancelled_and_allowed_failures_from_success() -> None:
    steps = [
        {"status": "success", "reason": "exit"},
        {"status": "success", "reason": "reused"},
        {"status": "success", "reason": "cached"},
        {"status": "failed", "reason": "exit", "continue_on_error": True},
        {"status": "failed", "reason": "exit"},
        {"status": "skipped", "reason": "needs-failed"},
        {"status": "cancelled"},
        {"status": "running"},
        {},
    ]
    assert [step_category(s) for s in steps] == [
        "success",
        "reused",
        "cached",
        "allowed-failure",
        "failed",
        "skipped",
        "cancelled",
        "running",
        "pending",
    ]
    counts = count_categories(steps)
    assert list(counts) == list(CATEGORIES) and set(counts.values()) == {1}
    assert count_categories([{"status": "skipped"}] * 3) == {"skipped": 3}
