"""Durations: units, plain seconds, and the messages for bad values."""

from __future__ import annotations

import re

import pytest

from ansflow_jupyter.pipeline import parse_duration


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("90s", 90.0),
        ("10m", 600.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("500ms", 0.5),
        ("1m30s", 90.0),
        ("1.5s", 1.5),
        (" 2m ", 120.0),
        ("30", 30.0),
        (45, 45.0),
        (0.25, 0.25),
    ],
)
def test_valid(value: str | float, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("10x", "invalid duration '10x'"),
        ("", "invalid duration ''"),
        ("-1", "invalid duration '-1'"),
        ("1 h", "invalid duration '1 h'"),
        ("m", "invalid duration 'm'"),
        ("0s", "duration must be > 0, got '0s'"),
        (-1, "duration must be > 0, got -1"),
        (0, "duration must be > 0, got 0"),
        (True, "a duration must be a number of seconds"),
    ],
)
def test_invalid(value: str | float, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_duration(value)


def test_zero_allowed_for_delays() -> None:
    assert parse_duration("0s", allow_zero=True) == 0.0
    with pytest.raises(ValueError, match=">= 0"):
        parse_duration(-1, allow_zero=True)
