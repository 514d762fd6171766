"""`strategy.matrix` as GitHub expands it: the product of the lists, minus `exclude`,
plus `include` (added to every leg it does not contradict, else a leg of its own)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any


def expand(
    axes: Mapping[str, Sequence[Any]],
    include: Sequence[Mapping[str, Any]] = (),
    exclude: Sequence[Mapping[str, Any]] = (),
) -> list[dict[str, Any]]:
    """Every leg of a matrix, in GitHub's order."""
    names = list(axes)
    legs = [
        dict(zip(names, values, strict=True))
        for values in itertools.product(*(axes[name] for name in names))
    ]
    if not names:
        legs = []
    legs = [leg for leg in legs if not any(_matches(leg, rule) for rule in exclude)]
    originals = set(names)
    base = list(legs)
    for entry in include:
        added = False
        for leg in base:
            # An include may add keys to a leg, never change one of the original values.
            if all(leg.get(k) == v for k, v in entry.items() if k in originals):
                leg.update(entry)
                added = True
        if not added:
            legs.append(dict(entry))
    return legs


def _matches(leg: Mapping[str, Any], rule: Mapping[str, Any]) -> bool:
    """An exclude entry removes every leg that has all of its values (a partial match)."""
    return all(k in leg and _same(leg[k], v) for k, v in rule.items())


def _same(value: Any, wanted: Any) -> bool:
    if isinstance(wanted, Mapping) and isinstance(value, Mapping):
        return all(k in value and _same(value[k], v) for k, v in wanted.items())
    return bool(value == wanted or text(value) == text(wanted))


def text(value: Any) -> str:
    """A matrix value as a string (objects and lists as JSON, numbers as written)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)
