"""setup-python's version ranges, as node-semver reads them: '>=3.9 <3.13' (every
comparator holds), '3.10 - 3.12' (both ends included), 'a || b' (either)."""

from __future__ import annotations

import re

Release = tuple[int, int, int]

_COMPARATOR = re.compile(r"(<=|>=|<|>|=)?\s*v?(\d+(?:\.(?:\d+|[xX*]))*)(?:-[0-9A-Za-z.]+)?")


def is_range(text: str) -> bool:
    """Whether a python-version is a range (comparators, a hyphen range, `||`)."""
    return bool(re.search(r"[<>=|]|\s-\s", text))


def satisfies(release: Release, spec: str) -> bool:
    """Whether an interpreter's release satisfies a range."""
    return any(_every(release, alternative) for alternative in spec.split("||"))


def _every(release: Release, alternative: str) -> bool:
    hyphen = re.fullmatch(r"\s*(\S+)\s+-\s+(\S+)\s*", alternative)
    if hyphen:
        return _holds(release, ">=", hyphen[1]) and _holds(release, "<=", hyphen[2])
    comparators = _COMPARATOR.findall(alternative)
    return bool(comparators) and all(_holds(release, op or "=", v) for op, v in comparators)


def _holds(release: Release, op: str, text: str) -> bool:
    parts: list[int] = []
    for part in re.sub(r"-.*", "", text.lstrip("v")).split("."):
        if not part.isdigit():
            break  # 3.x and 3.* stop here: a partial version
        parts.append(int(part))
    if not parts:
        return True  # '*' or 'x': any release
    low: Release = (*parts, 0, 0, 0)[:3]  # type: ignore[assignment]
    # A partial version is a span: <=3.12 takes every 3.12.x, >3.12 starts at 3.13.0.
    high: Release | None = None
    if len(parts) < 3:
        bumped = [*parts[:-1], parts[-1] + 1]
        high = (*bumped, 0, 0, 0)[:3]  # type: ignore[assignment]
    if op == ">=":
        return release >= low
    if op == "<":
        return release < low
    if op == ">":
        return release >= high if high else release > low
    if op == "<=":
        return release < high if high else release <= low
    return low <= release < high if high else release == low
