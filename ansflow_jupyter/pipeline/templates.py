"""The checked, not yet expanded form of a pipeline: what the checker hands to the expander."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from yaml.nodes import Node

from .conditions import ParsedCondition
from .spec import ArtifactsSpec, CacheSpec, RetrySpec


@dataclass(frozen=True, slots=True)
class Text:
    """A string value with the scalar node and key path it came from, to locate later errors."""

    value: str
    node: Node
    path: str


@dataclass(slots=True)
class SubStepTemplate:
    """One sub-step of a native step as written (`steps: [{name, run, ...}]`)."""

    path: str
    anchor: Node
    run: Text
    name: Text | None = None
    condition: ParsedCondition | None = None
    env: dict[str, Text] = field(default_factory=dict)
    shell: str | None = None
    continue_on_error: bool = False
    working_directory: Text | None = None
    timeout: float | None = None


@dataclass(slots=True)
class StepTemplate:
    """One step as written (before matrix expansion); fields are None when absent or invalid."""

    id: str
    path: str
    anchor: Node  # the id's node: where step-level errors point
    name: Text | None = None
    run: Text | None = None
    shell: str | None = None
    needs: list[Text] = field(default_factory=list)
    condition: ParsedCondition | None = None
    env: dict[str, Text] = field(default_factory=dict)
    working_directory: Text | None = None
    timeout: float | None = None
    retry: RetrySpec = field(default_factory=RetrySpec)
    continue_on_error: bool = False
    matrix: list[tuple[str, list[Text]]] = field(default_factory=list)
    env_inherit: bool | None = None
    artifacts: ArtifactsSpec | None = None
    cache: CacheSpec | None = None
    notebook: Text | None = None
    kernel: Text | None = None
    # name -> a string to substitute (Text) or a YAML value kept as it is (number, list...)
    parameters: dict[str, Any] = field(default_factory=dict)
    substeps: list[SubStepTemplate] | None = None  # `steps:` of a step (substeps.py)


@dataclass(slots=True)
class Document:
    """The checked top level; `steps` holds every step whose id could be read."""

    name: str | None = None
    env: dict[str, Text] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)
    max_parallel: int | None = None
    env_inherit: bool = True
    steps: list[StepTemplate] = field(default_factory=list)


def join(path: str, key: str | int) -> str:
    """`steps` + `build` -> `steps.build`; `needs` + 1 -> `needs[1]`."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


#: Word comparisons spent on "did you mean" hints per load. difflib compares a word with
#: every choice: 3,000 unknown names among 3,000 ids (a 100 KB file) took a minute of CPU
#: in `validate()`, which an editor calls on every change. Past the budget, no hints.
HINT_BUDGET = 100_000


@dataclass(slots=True)
class _Hints:
    left: int
    found: dict[tuple[str, tuple[str, ...]], str] = field(default_factory=dict)


_hints: ContextVar[_Hints | None] = ContextVar("ansflow_hints", default=None)


@contextmanager
def hint_budget() -> Iterator[None]:
    """Bound (and remember) the hints computed inside: one pipeline load."""
    token = _hints.set(_Hints(HINT_BUDGET))
    try:
        yield
    finally:
        _hints.reset(token)


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """`; did you mean 'needs'?` or an empty string."""
    state = _hints.get()
    if state is None:
        return _closest(word, choices)
    key = (word, tuple(choices))
    hint = state.found.get(key)
    if hint is None:
        if state.left < len(choices):
            return ""
        state.left -= len(choices)
        hint = state.found[key] = _closest(word, choices)
    return hint


def _closest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""
