"""What masking a secret means: each line of its value, at least 3 characters, as `***`.

Shared by the loader (step names built with `${{ env.X }}`) and the engine (log lines).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

MASK = "***"
#: Shorter values are not masked: replacing every `ab` in a log would corrupt it while
#: hiding nothing (GitHub Actions has the same rule). The run's log says so.
MIN_SECRET_LENGTH = 3


def secret_parts(value: str) -> tuple[list[str], bool]:
    """The strings to mask for one secret value, and whether a part was too short.

    A multi-line value is masked line by line (a trailing newline is not part of any
    line), since logs are split into lines before they are masked.
    """
    parts: list[str] = []
    short = False
    for line in value.split("\n"):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        if len(line) < MIN_SECRET_LENGTH:
            short = True
            continue
        parts.append(line)
    return parts, short


def mask_patterns(values: Iterable[str]) -> list[str]:
    """Every part of `values` to mask, longest first (so a part containing another wins)."""
    parts = {part for value in values for part in secret_parts(value)[0]}
    return sorted(parts, key=len, reverse=True)


def short_secrets(secrets: Mapping[str, str]) -> list[str]:
    """Names of the secrets (name -> value) with a part too short to be masked."""
    return [name for name, value in secrets.items() if value and secret_parts(value)[1]]


def mask(text: str, patterns: Iterable[str]) -> str:
    """`text` with every pattern replaced by `***`."""
    for pattern in patterns:
        if pattern in text:
            text = text.replace(pattern, MASK)
    return text
