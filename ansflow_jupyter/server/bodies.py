"""Request bodies: one JSON object of known fields, each checked (types, Unicode, limits).

Pure functions, so a handler can run them off the event loop.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..errors import BadRequest

#: Bodies longer than this are refused (413) from their Content-Length, before reading.
MAX_BODY_BYTES = 4 * 2**20
#: `env` of a start request: variables and bytes (names and values, UTF-8).
MAX_ENV_VARS = 1_000
MAX_ENV_BYTES = 128 * 1024

_Check = tuple[Callable[[Any], bool], str]
_FIELDS: dict[str, _Check] = {
    "path": (lambda v: isinstance(v, str), "a string"),
    "yaml": (lambda v: isinstance(v, str), "a string"),
    "env": (
        lambda v: (
            isinstance(v, dict)
            and all(isinstance(k, str) and isinstance(x, str) for k, x in v.items())
        ),
        "an object of strings",
    ),
    "max_parallel": (
        lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
        "an integer >= 1",
    ),
    "failed_only": (lambda v: isinstance(v, bool), "a boolean"),
    # Workflow files only (the manager refuses them for a native pipeline).
    "job": (lambda v: isinstance(v, str) and 0 < len(v) <= 256, "a non-empty job id"),
    "event": (
        lambda v: isinstance(v, str) and 0 < len(v) <= 256 and v.isprintable(),
        "a non-empty event name",
    ),
    "inputs": (
        lambda v: (
            isinstance(v, dict)
            and len(v) <= MAX_ENV_VARS
            and all(isinstance(k, str) and k and _scalar(x) for k, x in v.items())
        ),
        "an object of input names to strings, numbers or booleans",
    ),
    "strict": (lambda v: isinstance(v, bool), "a boolean"),
    "force": (
        lambda v: (
            isinstance(v, bool) or (isinstance(v, list) and all(isinstance(x, str) for x in v))
        ),
        "a boolean or a list of step ids",
    ),
}


def _scalar(value: Any) -> bool:
    """A workflow input value: text, a number or a boolean (never null or a collection)."""
    return isinstance(value, (str, int, float, bool))


def parse_body(raw: bytes, allowed: tuple[str, ...]) -> dict[str, Any]:
    """The JSON object body with only `allowed` fields, each of the right type and size."""
    raw = raw.strip()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except RecursionError:
        raise BadRequest("request body is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise BadRequest(f"unknown field(s) {unknown}; expected some of {list(allowed)}")
    for name, value in data.items():
        ok, expected = _FIELDS[name]
        if not ok(value):
            raise BadRequest(f"'{name}' must be {expected}")
        _check_unicode(name, value)
    if "env" in data:
        check_env(data["env"])
    return data


def _check_unicode(name: str, value: Any) -> None:
    """JSON may carry lone surrogates (`\\ud800`), which no file, process or store takes."""
    texts = [value] if isinstance(value, str) else []
    if isinstance(value, dict):
        texts = [t for pair in value.items() for t in pair if isinstance(t, str)]
    for text in texts:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise BadRequest(
                f"'{name}' is not valid Unicode (a lone surrogate at character {exc.start})"
            ) from None


def check_env(env: dict[str, str]) -> None:
    """Names and values a process environment can hold, within the documented bounds."""
    if len(env) > MAX_ENV_VARS:
        raise BadRequest(f"'env' may hold at most {MAX_ENV_VARS} variables, got {len(env)}")
    size = sum(len(k.encode()) + len(v.encode()) for k, v in env.items())
    if size > MAX_ENV_BYTES:
        raise BadRequest(f"'env' may hold at most {MAX_ENV_BYTES} bytes, got {size}")
    for key, value in env.items():
        if not key:
            raise BadRequest("'env' names must not be empty")
        if "=" in key:
            raise BadRequest(f"'env' name {key[:60]!r} must not contain '='")
        if "\0" in key or "\0" in value:
            raise BadRequest(f"'env' {key[:60]!r} must not contain NUL characters")
