"""Reading logs back out of the `log_update` rows: ranges, tails and server-side search.

Rows are streamed and only the ones a request needs are decoded: a tail reads the table
backwards and stops once it has enough lines, a range uses the (step, offset) index, a
search scans the whole log without ever holding it in memory.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from itertools import count, islice
from typing import Any, Protocol

import re2
from sqlalchemy import Connection, Select, func, select

from ..errors import BadRequest
from ..events import EventType
from . import codec
from .projection import EVENTS

MAX_PATTERN = 1_000
MAX_PAGE = 100_000  # the most lines one request may ask for
TEXT_CHUNK_CHARS = 64 * 1024  # small: a chunk holds the GIL while it is built
# CSI (colours, cursor), OSC (hyperlinks, titles) and the two-character escapes.
ANSI = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()*+][0-~]|[@-Z\\-_])"
)
# Patterns anchored to the whole text cannot be searched over several lines at once.
_ANCHORS = re.compile(r"\\[AzZ]")
LogLine = dict[str, Any]


@dataclass(frozen=True, slots=True)
class LogQuery:
    """What `Store.log_lines` was asked for, checked."""

    execution_id: str
    step: str | None = None
    offset: int = 0
    limit: int | None = None
    tail: int | None = None
    q: str | None = None

    def __post_init__(self) -> None:
        for name in ("offset", "limit", "tail"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise BadRequest(f"{name} must be a non-negative integer, not {value!r}")


class LineMatcher(Protocol):
    """Tells which lines match a search."""

    def __call__(self, line: str) -> bool:
        """True when `line` matches."""
        ...

    def select(self, lines: list[str]) -> list[int]:
        """Indices of the lines of one stored row that match, in order."""
        ...


Matcher = LineMatcher


def compile_query(q: str | None) -> Matcher | None:
    """`/regex/` is a regular expression (RE2 syntax), anything else a plain substring."""
    if not q:
        return None
    if len(q) >= 2 and q.startswith("/") and q.endswith("/"):
        regex = _RegexSearch(q[1:-1])  # checked even when a faster matcher answers
        # The views ask for a case-insensitive substring as /(?i)escaped text/: RE2 would
        # take seconds per million lines, one lower() over the row's text takes ~0.2 s.
        folded = _literal(q[5:-1]) if q.startswith("/(?i)") else None
        return _FoldedSubstring(folded) if folded else regex
    return _Substring(q)


_META = frozenset("^$.|?*+()[]{}")


def _literal(pattern: str) -> str | None:
    """The text a pattern of only literal characters matches (None when it has others)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            if i + 1 >= len(pattern) or pattern[i + 1].isalnum() or pattern[i + 1] == "\n":
                return None
            out.append(pattern[i + 1])
            i += 2
            continue
        if char in _META:
            return None
        out.append(char)
        i += 1
    return "".join(out)


class _Substring:
    """A plain, case-sensitive substring."""

    def __init__(self, needle: str) -> None:
        self._needle = needle

    def __call__(self, line: str) -> bool:
        return self._needle in line

    def select(self, lines: list[str]) -> list[int]:
        needle = self._needle
        if needle not in "\n".join(lines):  # one C search rules out most rows
            return []
        return [i for i, line in enumerate(lines) if needle in line]


class _FoldedSubstring:
    """A substring ignoring case (lower() on both sides)."""

    def __init__(self, needle: str) -> None:
        self._needle = needle.lower()

    def __call__(self, line: str) -> bool:
        return self._needle in line.lower()

    def select(self, lines: list[str]) -> list[int]:
        text = "\n".join(lines).lower()
        if self._needle not in text:
            return []
        # lower() never adds or removes a newline: the split keeps the line numbers.
        return [i for i, line in enumerate(text.split("\n")) if self._needle in line]


class _RegexSearch:
    """A regular expression run by RE2: linear in the text, so no pattern can make a
    search take exponential time (`(a+)+$` on 24 `a`s took 20 s with `re` and froze
    the server, holding the GIL). Lookarounds and backreferences are refused."""

    def __init__(self, pattern: str) -> None:
        if len(pattern) > MAX_PATTERN:
            raise BadRequest(f"a regular expression may have at most {MAX_PATTERN} characters")
        options = re2.Options()
        options.log_errors = False
        try:
            self._line = re2.compile(pattern, options)
            # Per call, RE2's binding costs ~7 µs: a row of lines is searched at once, as
            # one multi-line UTF-8 text (bytes: with str every match offset is converted
            # back to characters, which made a dense search ~4x slower).
            block = (
                None
                if _ANCHORS.search(pattern)
                else re2.compile(f"(?m){pattern}".encode(), options)
            )
            self._block = block
        except re2.error as exc:
            try:
                re.compile(pattern)
            except (re.error, RecursionError, OverflowError) as invalid:
                raise BadRequest(f"invalid regular expression /{pattern}/: {invalid}") from None
            reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
            raise BadRequest(
                f"regular expression /{pattern}/ is not supported: {reason} (searches use "
                "RE2 syntax: no lookarounds or backreferences)"
            ) from None

    def __call__(self, line: str) -> bool:
        return self._line.search(line) is not None

    def select(self, lines: list[str]) -> list[int]:
        if self._block is None:
            return [i for i, line in enumerate(lines) if self._line.search(line) is not None]
        text = "\n".join(lines).encode()
        found: list[int] = []
        pos = line_no = 0
        # Each match of the whole text gives its line (a few C calls per hit, not ~7 µs
        # per line); a match across a newline is not a match of one line: ask per line.
        for match in self._block.finditer(text):
            start, end = match.start(), match.end()
            if text.find(b"\n", start, end) >= 0:
                return [i for i, line in enumerate(lines) if self._line.search(line) is not None]
            line_no += text.count(b"\n", pos, start)
            pos = start
            if not found or found[-1] != line_no:
                found.append(line_no)
        return found


def read_lines(conn: Connection, query: LogQuery) -> list[LogLine]:
    """The lines of one step (offsets are its line numbers) or of all steps in time order
    (then `offset` counts lines of that merged stream)."""
    matcher = compile_query(query.q)
    if query.limit == 0 or query.tail == 0:
        return []
    if query.tail is not None and matcher is None:
        return _tail(conn, query, query.tail)
    lines = _lines(conn, query, matcher, descending=False)
    if query.tail is not None:
        kept = deque(lines, maxlen=query.tail)
        lines = iter(kept)
    if query.limit is not None:
        return [line for line, _ in zip(lines, range(query.limit), strict=False)]
    return list(lines)


def text_chunks(conn: Connection, query: LogQuery, *, prefix: bool, strip: bool) -> Iterator[str]:
    """The lines as text (`step | ` before each line when `prefix`, ANSI escapes removed
    when `strip`), ~64 Ki characters per chunk, in one pass over the rows: each row is decoded once
    and its lines joined in C, never paged by offset (which re-skips from the start)."""
    if query.q or query.tail is not None:
        # Bounded (tail <= 100,000) or filtered line by line anyway.
        lines: Iterable[LogLine] = (
            read_lines(conn, query)
            if query.tail is not None
            else _lines(conn, query, compile_query(query.q), descending=False)
        )
        if query.limit is not None:
            lines = islice(lines, query.limit)
        groups: Iterable[tuple[str, list[str]]] = (
            (line["step_id"], [line["line"]]) for line in lines
        )
    else:
        groups = _row_texts(conn, query)
    pending: list[str] = []
    size = 0
    for step_id, texts in groups:
        if prefix:
            head = f"{step_id} | "
            pending.append(head + ("\n" + head).join(texts) + "\n")
        else:
            pending.append("\n".join(texts) + "\n")
        size += len(pending[-1])
        if size >= TEXT_CHUNK_CHARS:
            yield _finish_chunk(pending, strip)
            pending, size = [], 0
    if pending:
        yield _finish_chunk(pending, strip)


def _finish_chunk(pieces: list[str], strip: bool) -> str:
    text = "".join(pieces)
    return ANSI.sub("", text) if strip and "\x1b" in text else text


def _row_texts(conn: Connection, query: LogQuery) -> Iterator[tuple[str, list[str]]]:
    """(step id, lines) of each row in the range, without building a dict per line."""
    if query.limit == 0:
        return
    skip = query.offset if query.step is None else 0
    left = query.limit
    result = conn.execution_options(stream_results=True, max_row_buffer=256).execute(
        _rows_statement(query, descending=False)
    )
    for step_id, first, payload, _ in result:
        lines: list[str] = codec.decode(payload, None)["lines"]
        if query.step is not None and query.offset > first:
            lines = lines[query.offset - first :]
        elif skip:
            if skip >= len(lines):
                skip -= len(lines)
                continue
            lines, skip = lines[skip:], 0
        if left is not None:
            lines = lines[:left]
            left -= len(lines)
        if lines:
            yield step_id, lines
        if left == 0:
            return


def _tail(conn: Connection, query: LogQuery, count: int) -> list[LogLine]:
    """Read rows newest first and stop as soon as `count` lines are in hand."""
    picked: list[list[LogLine]] = []
    total = 0
    for row_lines in _row_lines(conn, query, descending=True):
        picked.append(row_lines)
        total += len(row_lines)
        if total >= count:
            break
    lines = [line for row_lines in reversed(picked) for line in row_lines][-count:]
    if query.step is None and query.offset:
        # In the merged stream `offset` is a position: lines before it are not part of it.
        before = _merged_count(conn, query) - len(lines)
        lines = lines[max(0, query.offset - before) :]
    if query.limit is not None:
        lines = lines[: query.limit]
    return lines


def count_lines(conn: Connection, query: LogQuery) -> int:
    """The exact number of lines of the whole log (one step or all) that match `q`
    (every line without `q`), whatever `offset`/`limit`/`tail` say."""
    if not query.q:
        stmt = select(func.coalesce(func.sum(EVENTS.c.line_count), 0)).where(
            EVENTS.c.execution_id == query.execution_id,
            EVENTS.c.type == EventType.LOG_UPDATE.value,
        )
        if query.step is not None:
            stmt = stmt.where(EVENTS.c.step_id == query.step)
        return int(conn.scalar(stmt) or 0)
    return search(conn, replace(query, offset=0, limit=0))[1]


def search(conn: Connection, query: LogQuery) -> tuple[list[LogLine], int]:
    """The page of hits `read_lines` gives for `q` (no tail) and the exact number of hits
    in the whole log, in one pass: each row is decoded once (timestamps and a dict only
    for the hits of the page) and searched as one text first."""
    matcher = compile_query(query.q)
    assert matcher is not None and query.tail is None
    # Every row of the step (or of all steps): the total counts lines before `offset` too.
    whole = replace(query, offset=0)
    result = conn.execution_options(stream_results=True, max_row_buffer=256).execute(
        _rows_statement(whole, descending=False)
    )
    page: list[LogLine] = []
    room = query.limit if query.limit is not None else MAX_PAGE
    total = 0
    position = 0  # in the merged stream (all steps), where `offset` is a position
    for step_id, first, payload, ts_blob in result:
        data = codec.decode(payload, None)
        lines: list[str] = data["lines"]
        picked = matcher.select(lines)
        total += len(picked)
        if picked and len(page) < room:
            floor = query.offset - first if query.step is not None else query.offset - position
            wanted = [i for i in picked if i >= floor][: room - len(page)]
            if wanted:
                stamps = codec.unpack_ts(ts_blob) if ts_blob is not None else data.get("ts") or []
                stream = data.get("stream", "stdout")
                page.extend(
                    {
                        "step_id": step_id,
                        "offset": first + i,
                        "stream": stream,
                        "line": lines[i],
                        "ts": stamps[i] if i < len(stamps) else None,
                    }
                    for i in wanted
                )
        position += len(lines)
    return page, total


def _merged_count(conn: Connection, query: LogQuery) -> int:
    stmt = select(func.coalesce(func.sum(EVENTS.c.line_count), 0)).where(
        EVENTS.c.execution_id == query.execution_id,
        EVENTS.c.type == EventType.LOG_UPDATE.value,
    )
    return int(conn.scalar(stmt) or 0)


def _lines(
    conn: Connection, query: LogQuery, matcher: Matcher | None, descending: bool
) -> Iterator[LogLine]:
    if matcher is not None:
        yield from _hits(conn, query, matcher, descending)
        return
    skip = query.offset if query.step is None else 0
    for row_lines in _row_lines(conn, query, descending):
        if skip:
            if skip >= len(row_lines):
                skip -= len(row_lines)
                continue
            row_lines, skip = row_lines[skip:], 0
        yield from row_lines


def _hits(
    conn: Connection, query: LogQuery, matcher: Matcher, descending: bool
) -> Iterator[LogLine]:
    """The matching lines, a dict built only for each hit (a search touches every row)."""
    skip = query.offset if query.step is None else 0
    stmt = _rows_statement(query, descending)
    result = conn.execution_options(stream_results=True, max_row_buffer=256).execute(stmt)
    for step_id, first, payload, ts_blob in result:
        data = codec.decode(payload, None)
        lines: list[str] = data["lines"]
        start = max(0, query.offset - first) if query.step is not None else 0
        if skip:
            if skip >= len(lines):
                skip -= len(lines)
                continue
            start, skip = skip, 0
        picked = matcher.select(lines[start:] if start else lines)
        if not picked:
            continue
        stamps = codec.unpack_ts(ts_blob) if ts_blob is not None else data.get("ts") or []
        stream = data.get("stream", "stdout")
        for i in picked:
            at = start + i
            ts = stamps[at] if at < len(stamps) else None
            yield {
                "step_id": step_id,
                "offset": first + at,
                "stream": stream,
                "line": lines[at],
                "ts": ts,
            }


def _row_lines(conn: Connection, query: LogQuery, descending: bool) -> Iterator[list[LogLine]]:
    """Decoded lines of each matching row; for one step, lines before `offset` are cut."""
    stmt = _rows_statement(query, descending)
    result = conn.execution_options(stream_results=True, max_row_buffer=256).execute(stmt)
    for step_id, first, payload, ts_blob in result:
        data = codec.decode(payload, ts_blob)
        lines, stream = data["lines"], data.get("stream", "stdout")
        stamps = data.get("ts") or []
        if len(stamps) != len(lines):  # not from our executor: pad rather than fail
            stamps = [*stamps[: len(lines)], *[None] * (len(lines) - len(stamps))]
        start = max(0, query.offset - first) if query.step is not None else 0
        if start:
            lines, stamps = lines[start:], stamps[start:]
        yield [
            {"step_id": step_id, "offset": offset, "stream": stream, "line": line, "ts": ts}
            for offset, line, ts in zip(count(first + start), lines, stamps)
        ]


def _rows_statement(query: LogQuery, descending: bool) -> Select[Any]:
    stmt = select(EVENTS.c.step_id, EVENTS.c.line_offset, EVENTS.c.payload, EVENTS.c.ts_blob).where(
        EVENTS.c.execution_id == query.execution_id,
        EVENTS.c.type == EventType.LOG_UPDATE.value,
    )
    if query.step is not None:
        stmt = stmt.where(EVENTS.c.step_id == query.step)
        if query.offset:
            stmt = stmt.where(EVENTS.c.line_offset + EVENTS.c.line_count > query.offset)
    return stmt.order_by(EVENTS.c.seq.desc() if descending else EVENTS.c.seq)
