"""What `GET pipelines` shows of a file (`{name, steps}`; a GitHub Actions workflow:
`{name, steps: job ids, kind: "workflow"}`), read cheaply and cached.

Parsing every YAML file under the root with PyYAML's pure-Python loader took 239 s for
20 files of 0.9 MB. Here a file is read as libyaml events (no Python object per node,
nothing built), only its first HEAD_BYTES, and the result is cached by (mtime, size);
once the scan's time budget is spent, the remaining files are read only up to
BUDGET_HEAD_BYTES. So a listing costs milliseconds per file, whatever the tree.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    CollectionStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
)
from yaml.nodes import ScalarNode

HEAD_BYTES = 16 * 1024  # step ids beyond this are not listed (the run reads the whole file)
BUDGET_HEAD_BYTES = 4 * 1024
SCAN_BUDGET = 0.25  # seconds of full-head reads per listing (they hold the GIL)
CACHE_MAX = 4_000
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVER = yaml.resolver.Resolver()
_STR = "tag:yaml.org,2002:str"

Summary = dict[str, Any]
_cache: dict[Path, tuple[int, int, int, Summary | None]] = {}
_cache_lock = threading.Lock()


class Budget:
    """The time a listing may spend reading file heads in full."""

    def __init__(self, seconds: float = SCAN_BUDGET) -> None:
        self._deadline = time.monotonic() + seconds

    def head_bytes(self) -> int:
        """How much of the next file to read."""
        return HEAD_BYTES if time.monotonic() < self._deadline else BUDGET_HEAD_BYTES


def pipeline_summary(file: Path, budget: Budget, max_bytes: int) -> Summary | None:
    """`{name, steps: [ids]}` when the file is a mapping with a string `name` and `steps`."""
    try:
        stat = file.stat()
    except OSError:
        return None
    if stat.st_size > max_bytes:
        return None
    key = (stat.st_mtime_ns, stat.st_size)
    with _cache_lock:
        cached = _cache.get(file)
    if cached is not None and cached[:2] == key and cached[2] >= min(stat.st_size, HEAD_BYTES):
        return cached[3]
    head = budget.head_bytes()
    try:
        with file.open("rb") as f:
            data = f.read(head)
    except OSError:
        return None
    summary = summarize(data.decode("utf-8", errors="replace"), complete=len(data) < head)
    if summary is not None and not summary["name"]:
        summary["name"] = file.name  # a workflow without `name:` shows its file name
    with _cache_lock:
        if len(_cache) >= CACHE_MAX:
            _cache.clear()
        _cache[file] = (*key, len(data), summary)
    return summary


def summarize(text: str, complete: bool = True) -> Summary | None:
    """Name and step ids from the event stream; a cut-off head keeps what it saw. A
    workflow (`on:` and `jobs:`, no `steps:`) lists its job ids; its name may be ''."""
    name: str | None = None
    steps: list[str] | None = None
    jobs: list[str] | None = None
    trigger = False
    events = _events(text)
    try:
        if not _expect_top_mapping(events):
            return None
        while True:
            key = next(events)
            if isinstance(key, MappingEndEvent):
                break
            value = next(events)
            key_text = key.value if isinstance(key, ScalarEvent) else None
            if key_text == "name" and isinstance(value, ScalarEvent):
                name = value.value if _is_str(value) else None
            elif key_text == "steps" and isinstance(value, CollectionStartEvent):
                steps = []
                _step_ids(value, events, steps)
            elif key_text == "jobs" and isinstance(value, MappingStartEvent):
                jobs = []
                _step_ids(value, events, jobs)
            elif key_text == "on":
                trigger = True
                _skip(value, events)
            else:
                _skip(value, events)
    except (StopIteration, yaml.YAMLError, RecursionError):
        if complete:
            return None  # the whole file was read and is not valid YAML
    if steps is None and jobs is not None and trigger:
        return {"name": name or "", "steps": jobs, "kind": "workflow"}
    if name is None or steps is None:
        return None
    return {"name": name, "steps": steps}


def _events(text: str) -> Iterator[Event]:
    for event in yaml.parse(text, Loader=_LOADER):
        if not isinstance(event, AliasEvent):
            yield event
        else:
            yield ScalarEvent(None, None, (True, False), "", event.start_mark, event.end_mark)


def _expect_top_mapping(events: Iterator[Event]) -> bool:
    for event in events:
        if isinstance(event, (yaml.StreamStartEvent, yaml.DocumentStartEvent)):
            continue
        return isinstance(event, MappingStartEvent)
    return False


def _is_str(event: ScalarEvent) -> bool:
    if event.tag and event.tag != "!":
        return bool(event.tag == _STR)
    if not event.implicit[0]:
        return True  # quoted
    resolve: Any = _RESOLVER.resolve
    return bool(resolve(ScalarNode, event.value, (True, False)) == _STR)


def _step_ids(start: Event, events: Iterator[Event], out: list[str]) -> None:
    """Keys of a steps mapping, or the `id` (else the index) of each item of a list."""
    if isinstance(start, MappingStartEvent):
        while not isinstance(key := next(events), MappingEndEvent):
            out.append(key.value if isinstance(key, ScalarEvent) else str(len(out)))
            _skip(next(events), events)
        return
    index = 0
    while not isinstance(item := next(events), SequenceEndEvent):
        step_id = str(index)
        if isinstance(item, MappingStartEvent):
            while not isinstance(key := next(events), MappingEndEvent):
                value = next(events)
                is_id = isinstance(key, ScalarEvent) and key.value == "id"
                if is_id and isinstance(value, ScalarEvent):
                    step_id = value.value
                _skip(value, events)
        else:
            _skip(item, events)
        out.append(step_id)
        index += 1


def _skip(event: Event, events: Iterator[Event]) -> None:
    """Consume the rest of a value that starts with `event`."""
    if not isinstance(event, CollectionStartEvent):
        return
    depth = 1
    while depth:
        nxt = next(events)
        if isinstance(nxt, CollectionStartEvent):
            depth += 1
        elif isinstance(nxt, (MappingEndEvent, SequenceEndEvent)):
            depth -= 1


__all__ = ["Budget", "pipeline_summary", "summarize"]
