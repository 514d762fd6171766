"""Durations such as "90s", "10m", "1h30m", "500ms" or a plain number of seconds."""

from __future__ import annotations

import re

UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}

_NUMBER = r"\d+(?:\.\d+)?"
_PART = re.compile(rf"({_NUMBER})(ms|s|m|h)")
# Also used by the JSON Schema, so editors accept exactly what the loader accepts.
DURATION_PATTERN = rf"^\s*(?:{_NUMBER}|(?:{_NUMBER}(?:ms|s|m|h))+)\s*$"
_WHOLE = re.compile(DURATION_PATTERN)


def parse_duration(value: str | int | float, *, allow_zero: bool = False) -> float:
    """Seconds in a duration; raises ValueError with a user-facing message when invalid."""
    if isinstance(value, bool):
        raise ValueError("a duration must be a number of seconds or a string like '90s'")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = value.strip()
        if not _WHOLE.match(text):
            raise ValueError(
                f"invalid duration {value!r}: use a number of seconds or units like "
                "'500ms', '90s', '10m', '1h30m'"
            )
        if re.fullmatch(_NUMBER, text):
            seconds = float(text)
        else:
            seconds = sum(float(n) * UNITS[u] for n, u in _PART.findall(text))
    if seconds < 0 or (seconds == 0 and not allow_zero):
        shown = repr(value) if isinstance(value, str) else f"{value:g}"
        raise ValueError(f"duration must be {'>= 0' if allow_zero else '> 0'}, got {shown}")
    if seconds != seconds or seconds == float("inf"):
        raise ValueError(f"invalid duration {value!r}")
    return seconds
