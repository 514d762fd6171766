"""Values of the expression language: GitHub's coercion, comparison and built-in functions.

Values are None, bool, float, str, list and dict (JSON's). The rules follow GitHub Actions:
strings compare case-insensitively; `==` between different types compares both as numbers
(null 0, true 1, '' 0, a numeric string its number, anything else NaN, which equals
nothing); `<`/`>` compare two strings case-insensitively, anything else as numbers.
"""

from __future__ import annotations

import glob
import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

Value = Any  # None | bool | float | str | list[Value] | dict[str, Value]

_NUMBER = re.compile(
    r"^\s*[+-]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|Infinity)\s*$"
)


class ExpressionRuntimeError(ValueError):
    """An expression that parsed but cannot be evaluated (bad JSON, bad format string)."""


def truthy(value: Value) -> bool:
    """False for null, false, 0, NaN and ''; true for everything else (arrays, objects)."""
    if value is None or value is False:
        return False
    if isinstance(value, bool):
        return True
    if isinstance(value, int):  # never NaN; isnan() would overflow past 1.8e308
        return value != 0
    if isinstance(value, float):
        return value != 0 and not math.isnan(value)
    if isinstance(value, str):
        return value != ""
    return True


def to_number(value: Value) -> float:
    """GitHub's number coercion (NaN when there is no number)."""
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, float | int):
        return _float(value)
    if isinstance(value, str):
        if value.strip() == "":
            return 0.0
        if not _NUMBER.match(value):
            return math.nan
        text = value.strip()
        sign = -1.0 if text.startswith("-") else 1.0
        body = text.lstrip("+-")
        if body[:2].lower() == "0x":
            return sign * _float(int(body[2:], 16))
        if body[:2].lower() == "0o":
            return sign * _float(int(body[2:], 8))
        return float(text)
    return math.nan


def _float(number: float) -> float:
    """A number as a float; an integer past ~1.8e308 (`fromJSON('9…9')`) is infinite."""
    try:
        return float(number)
    except OverflowError:
        return math.inf if number > 0 else -math.inf


def to_text(value: Value) -> str:
    """The string form used by `${{ }}` interpolation, format() and join()."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float | int):
        return format_number(_float(value))
    if isinstance(value, str):
        return value
    return "Array" if isinstance(value, list) else "Object"


def format_number(number: float) -> str:
    """3.0 -> '3', 3.5 -> '3.5', like JavaScript."""
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number == int(number) and abs(number) < 1e21:
        return str(int(number))
    return repr(number)


def loose_equal(left: Value, right: Value, *, bool_text: bool = False) -> bool:
    """`==`: case-insensitive for two strings, numeric when the types differ.

    `bool_text` keeps native pipelines' older rule that `'true' == true`: a string and a
    boolean compare as text there (GitHub would compare NaN with 1)."""
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold() == right.casefold()
    if bool_text and {type(left), type(right)} == {str, bool}:
        return to_text(left).casefold() == to_text(right).casefold()
    if _kind(left) != _kind(right):
        return to_number(left) == to_number(right)
    if isinstance(left, list | dict):
        return left is right  # arrays and objects: only the same instance
    return bool(left == right)


def compare(op: str, left: Value, right: Value) -> bool:
    """`<`, `<=`, `>`, `>=`; NaN on either side is false."""
    if isinstance(left, str) and isinstance(right, str):
        a: Any = left.casefold()
        b: Any = right.casefold()
    else:
        a, b = to_number(left), to_number(right)
        if math.isnan(a) or math.isnan(b):
            return False
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


def _kind(value: Value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, float | int):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def lookup(container: Value, key: Value) -> Value:
    """`a.b` / `a['b']` / `a[0]`: object keys match case-insensitively; misses are null."""
    if isinstance(container, Mapping):
        if not isinstance(key, str):
            key = to_text(key)
        if key in container:
            return container[key]
        folded = key.casefold()
        for name, value in container.items():
            if str(name).casefold() == folded:
                return value
        return None
    if isinstance(container, list) and not isinstance(key, str):
        index = to_number(key)
        if math.isfinite(index) and index == int(index) and 0 <= index < len(container):
            return container[int(index)]
    return None


def star(container: Value) -> list[Value]:
    """`a.*`: the values of an object, the items of an array, nothing otherwise."""
    if isinstance(container, Mapping):
        return list(container.values())
    if isinstance(container, list):
        return list(container)
    return []


# -- functions --------------------------------------------------------------------------------


def _contains(search: Value, item: Value) -> bool:
    if isinstance(search, list):
        return any(loose_equal(element, item) for element in search)
    return to_text(item).casefold() in to_text(search).casefold()


def _starts_with(text: Value, prefix: Value) -> bool:
    return to_text(text).casefold().startswith(to_text(prefix).casefold())


def _ends_with(text: Value, suffix: Value) -> bool:
    return to_text(text).casefold().endswith(to_text(suffix).casefold())


_FORMAT_PART = re.compile(r"\{\{|\}\}|\{(\d+)\}|[{}]")


def _format(template: Value, *values: Value) -> str:
    text = to_text(template)

    def replace(match: re.Match[str]) -> str:
        token = match.group()
        if token in ("{{", "}}"):
            return token[0]
        if match.group(1) is None:
            raise ExpressionRuntimeError(f"format(): unmatched {token!r} in {text!r}")
        digits = match.group(1)
        # int() refuses 4,300 digits; no call has a billion arguments anyway.
        index = int(digits) if len(digits) < 10 else len(values)
        if index >= len(values):
            shown = digits if len(digits) <= 20 else digits[:20] + "…"
            raise ExpressionRuntimeError(
                f"format(): {{{shown}}} but only {len(values)} value(s) given"
            )
        return to_text(values[index])

    return _FORMAT_PART.sub(replace, text)


def _join(items: Value, separator: Value = ",") -> str:
    if isinstance(items, list):
        return to_text(separator).join(to_text(item) for item in items)
    return to_text(items)


def _to_json(value: Value) -> str:
    try:
        return json.dumps(_plain_numbers(value), indent=2, ensure_ascii=False, default=str)
    except RecursionError:  # fromJSON() of ~900 nested arrays
        raise ExpressionRuntimeError("toJSON(): value nested too deeply") from None


def _from_json(text: Value) -> Value:
    try:
        value = json.loads(to_text(text))
    except ValueError as exc:
        raise ExpressionRuntimeError(f"fromJSON(): invalid JSON: {exc}") from None
    except RecursionError:  # `[[[[…` a few thousand deep: json recurses per level
        raise ExpressionRuntimeError("fromJSON(): invalid JSON: nested too deeply") from None
    return value


def _plain_numbers(value: Value) -> Value:
    """3.0 -> 3 so toJSON() writes numbers as JavaScript does."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, list):
        return [_plain_numbers(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain_numbers(v) for k, v in value.items()}
    return value


def hash_files(workdir: Path, patterns: Sequence[Value]) -> str:
    """SHA-256 over the SHA-256 of each matching file (sorted); '' when nothing matches."""
    root = workdir.resolve()
    files: set[Path] = set()
    excluded: set[Path] = set()
    for raw in patterns:
        pattern = to_text(raw)
        target = excluded if pattern.startswith("!") else files
        # include_hidden: GitHub's glob matches names starting with '.' (.github/...).
        found = glob.glob(pattern.lstrip("!"), root_dir=root, recursive=True, include_hidden=True)
        for name in found:
            path = (root / name).resolve()
            # Files outside the working directory are never hashed (GitHub's rule too).
            if path.is_file() and path.is_relative_to(root):
                target.add(path)
    digest = hashlib.sha256()
    matched = sorted(files - excluded)
    for path in matched:
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest() if matched else ""


#: name -> (fewest arguments, most arguments or None, implementation).
FUNCTIONS: dict[str, tuple[int, int | None, Callable[..., Value]]] = {
    "contains": (2, 2, _contains),
    "startsWith": (2, 2, _starts_with),
    "endsWith": (2, 2, _ends_with),
    "format": (1, None, _format),
    "join": (1, 2, _join),
    "toJSON": (1, 1, _to_json),
    "fromJSON": (1, 1, _from_json),
}
STATUS_FUNCTIONS = ("success", "failure", "always", "cancelled")
#: Every function name, spelled as GitHub spells it (calls match case-insensitively).
ALL_FUNCTIONS = (*FUNCTIONS, "hashFiles", *STATUS_FUNCTIONS)
