"""Turns a step's raw output chunks into masked, bounded text lines batched for `log_update`.

The hot path handles a whole run of complete lines at once (one decode, one split, one
secret replace per chunk) because per-line Python work caps throughput far below the
goal of a million lines per second. Only a run that contains `::` goes line by line,
looking for workflow commands (groups, annotations, add-mask: engine/commands.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..events import EventType
from ..pipeline.secrets import (
    MASK,
    MIN_SECRET_LENGTH,
    mask,
    mask_patterns,
    secret_parts,
    short_secrets,
)
from .commands import LEVELS, Command, Groups, annotation, parse

STREAMS = ("stdout", "stderr")
BATCH_MAX_BYTES = 64 * 1024
BATCH_MAX_DELAY = 0.025
#: Batches of one step leave at most this often. A quiet step's line goes out on the next
#: loop iteration (no fixed wait: a fixed 25 ms window alone put p99 latency at ~30 ms);
#: a busy step's lines gather for up to this long, so it costs ≤ 200 events/s.
BATCH_MIN_INTERVAL = 0.005

#: Receives the `data` of one log_update event.
LogEmitter = Callable[[dict[str, Any]], None]
#: Receives the other events of a step's output (group_update, annotation).
EventEmitter = Callable[[EventType, dict[str, Any]], object]


def _last_state(line: bytes) -> bytes:
    """What a terminal shows after `\\r` rewrites: the last non-empty segment.

    Trailing `\\r`s (CRLF, or a bar that ends with a carriage return) do not erase the line.
    """
    core = line.rstrip(b"\r")
    cut = core.rfind(b"\r")
    return core if cut < 0 else core[cut + 1 :]


def _char_boundary(data: bytes | bytearray, limit: int) -> int:
    """The largest cut <= limit that does not split a UTF-8 sequence."""
    if limit >= len(data):
        return len(data)
    cut = limit
    # Back up over at most three continuation bytes (0b10xxxxxx).
    while cut > 0 and limit - cut < 3 and (data[cut] & 0xC0) == 0x80:
        cut -= 1
    return cut if (data[cut] & 0xC0) != 0x80 else limit


class _Partial:
    """The unfinished last line of one stream, never more than `limit` bytes in memory."""

    __slots__ = ("data", "dropped")

    def __init__(self) -> None:
        self.data = bytearray()
        self.dropped = 0  # bytes of this line beyond the limit, counted but not kept

    def reset(self) -> None:
        """Forget the line (it was emitted)."""
        self.data = bytearray()
        self.dropped = 0


class LineProcessor:
    """Splits, decodes, masks, cuts and batches the lines of one step (all its attempts)."""

    def __init__(
        self,
        step_id: str,
        emit: LogEmitter,
        *,
        max_line_bytes: int = 65536,
        secrets: Mapping[str, str] | Iterable[str] = (),
        batch_bytes: int = BATCH_MAX_BYTES,
        batch_delay: float = BATCH_MAX_DELAY,
        on_event: EventEmitter | None = None,
    ) -> None:
        self.step_id = step_id
        self.offset = 0  # line number of the next line to be batched (both streams)
        self._emit = emit
        self._on_event = on_event
        self._groups = Groups(step_id)
        self._limit = max(1, max_line_bytes)
        named = dict(secrets) if isinstance(secrets, Mapping) else {}
        # Each line of each value, longest first (a secret containing another is masked whole).
        self._secrets = mask_patterns(named.values() if named else secrets)
        self._batch_bytes = batch_bytes
        self._batch_delay = batch_delay
        self._partials = {name: _Partial() for name in STREAMS}
        self._stream = ""
        self._lines: list[str] = []
        self._ts: list[float] = []
        self._size = 0
        self._timer: asyncio.TimerHandle | None = None
        self._last_flush = 0.0
        for name in short_secrets(named):
            self._warn(
                f"ansflow: warning: secret {name} (or a line of it) is shorter than "
                f"{MIN_SECRET_LENGTH} characters and is not masked"
            )

    @property
    def lines_total(self) -> int:
        """Lines emitted or batched so far."""
        return self.offset + len(self._lines)

    # -- input ------------------------------------------------------------------------

    def feed(self, stream: str, chunk: bytes) -> None:
        """Take one raw chunk of `stream`; complete lines go to the current batch."""
        if not chunk:
            return
        now = time.time()
        partial = self._partials[stream]
        end = chunk.rfind(b"\n")
        if end < 0:
            self._grow(partial, chunk)
            return
        if partial.dropped:
            # The unfinished line was already cut: finish it on its own, slowly.
            first = chunk.find(b"\n")
            self._grow(partial, chunk[:first])
            self._add(stream, [self._finish_partial(partial)], now, first + 1)
            start = first + 1
        else:
            start = 0
        if start <= end:
            run = (
                chunk[start : end + 1]
                if not partial.data
                else bytes(partial.data) + chunk[start : end + 1]
            )
            partial.reset()
            if run.startswith(b"::") or b"\n::" in run:  # `std::io` stays on the fast path
                self._add_with_commands(stream, run, now)
            else:
                self._add(stream, self._split(run), now, len(run))
        rest = chunk[end + 1 :]
        if rest:
            self._grow(partial, rest)

    def add_line(self, stream: str, text: str) -> None:
        """Append one message line of our own (e.g. a spawn error), masked like the rest."""
        self._add(stream, [self._mask(text)], time.time(), len(text))

    def finish(self, *, failed: bool = False) -> None:
        """End of an attempt: emit unfinished last lines, then the pending batch, then
        close a group left open (failed with the attempt, or not)."""
        for stream in STREAMS:
            partial = self._partials[stream]
            if partial.data.startswith(b"::") and not partial.dropped:
                data = bytes(partial.data) + b"\n"
                partial.reset()
                self._add_with_commands(stream, data, time.time())
            elif partial.data or partial.dropped:
                size = len(partial.data)
                self._add(stream, [self._finish_partial(partial)], time.time(), size)
        self.flush()
        status = "failed" if failed else "success"
        ended = self._groups.end_job_step(self.offset, status, "step-ended")
        self._send(EventType.GROUP_UPDATE, ended)

    def add_mask(self, value: str) -> None:
        """Mask `value` (each of its lines) in every line from now on."""
        parts, short = secret_parts(value)
        if short:
            self._warn(
                f"ansflow: warning: a value given to ::add-mask:: is shorter than "
                f"{MIN_SECRET_LENGTH} characters and is not masked"
            )
        if parts:
            self._secrets = sorted({*self._secrets, *parts}, key=len, reverse=True)

    def start_group(self, title: str, *, kind: str = "group") -> None:
        """Open a group of `kind` at the next line (the lines before it are emitted first);
        for groups that do not come from `::group::` lines (a notebook cell)."""
        self._flush_partials()
        self.flush()
        self._send(EventType.GROUP_UPDATE, self._groups.start(self._mask(title), self.offset, kind))

    def end_group(self, status: str = "success") -> None:
        """Close the open group after the lines so far."""
        self._flush_partials()
        self.flush()
        self._send(EventType.GROUP_UPDATE, self._groups.end(self.offset, status))

    def _flush_partials(self) -> None:
        for stream in STREAMS:
            partial = self._partials[stream]
            if partial.data or partial.dropped:
                size = len(partial.data)
                self._add(stream, [self._finish_partial(partial)], time.time(), size)

    # -- workflow commands --------------------------------------------------------------

    def _add_with_commands(self, stream: str, run: bytes, now: float) -> None:
        """The slow path for a run of complete lines that may hold commands."""
        for raw in run[:-1].split(b"\n"):
            command = parse(raw.decode("utf-8", "replace")) if raw.startswith(b"::") else None
            if command is None:
                self._add(stream, [self._one_line(raw)], now, len(raw) + 1)
            else:
                self._command(stream, command, now)

    def _command(self, stream: str, command: Command, now: float) -> None:
        name = command.name
        if name == "add-mask":
            self.add_mask(command.message)  # the marker line itself is never stored
            return
        self.flush()  # the lines before it are emitted before the event about them
        if name == "group":
            title = self._mask(command.message)
            self._send(EventType.GROUP_UPDATE, self._groups.start(title, self.offset))
        elif name == "endgroup":
            self._send(EventType.GROUP_UPDATE, self._groups.end(self.offset))
        elif name == "job-step":
            title = self._mask(command.message)
            self._send(EventType.GROUP_UPDATE, self._groups.start(title, self.offset, "job-step"))
        elif name == "end-job-step":
            status = command.properties.get("status", "success")
            reason = command.properties.get("reason") or None
            self._send(
                EventType.GROUP_UPDATE, self._groups.end_job_step(self.offset, status, reason)
            )
        elif name in LEVELS:
            message = self._mask(command.message)
            offset = self.offset
            lines = [line.rstrip("\r") for line in message.split("\n")]
            self._add(stream, lines, now, len(message))
            self.flush()
            properties = {k: self._mask(v) for k, v in command.properties.items()}
            data = annotation(self.step_id, offset, name, message, properties)
            self._send(EventType.ANNOTATION, [data])

    def _warn(self, message: str) -> None:
        """A warning of ours: a stderr line and a warning annotation pointing at it."""
        offset = self.lines_total
        self.add_line("stderr", message)
        self.flush()
        self._send(EventType.ANNOTATION, [annotation(self.step_id, offset, "warning", message, {})])

    def _send(self, type_: EventType, payloads: list[dict[str, Any]]) -> None:
        if self._on_event is not None:
            for data in payloads:
                self._on_event(type_, data)

    # -- lines ------------------------------------------------------------------------

    def _split(self, run: bytes) -> list[str]:
        """Lines of a run of complete lines (the run ends with a newline)."""
        limit = self._limit
        if len(run) > limit:
            # Only a run longer than the limit can hold a long line. Cheap checks first: the
            # first line (it carries the previous partial) and the length of the rest.
            first = run.find(b"\n")
            if first > limit or len(run) - first - 1 > limit:
                raw_lines = run[:-1].split(b"\n")
                if max(map(len, raw_lines)) > limit:
                    return [self._one_line(raw) for raw in raw_lines]
        text = run[:-1].decode("utf-8", "replace")
        text = self._mask(text)
        if "\r" not in text:
            return text.split("\n")
        return [_last_state_str(line) if "\r" in line else line for line in text.split("\n")]

    def _one_line(self, raw: bytes) -> str:
        """The slow path for one complete line that may be over the limit."""
        raw = _last_state(raw)
        if len(raw) <= self._limit:
            return self._mask(raw.decode("utf-8", "replace"))
        cut = _char_boundary(raw, self._limit)
        return self._cut_text(raw[:cut], len(raw) - cut)

    def _grow(self, partial: _Partial, data: bytes) -> None:
        """Append to an unfinished line, keeping at most `limit` bytes of it in memory."""
        limit = self._limit
        if not partial.dropped and len(partial.data) + len(data) <= limit:
            partial.data += data
            return
        if partial.dropped:
            cr = data.rstrip(b"\r").rfind(b"\r")
            if cr < 0:
                partial.dropped += len(data)
                return
            # A progress bar rewrote the line: the text before (kept or dropped) is gone.
            partial.reset()
            data = data[cr + 1 :]
        combined = bytes(partial.data) + data
        cr = combined.rstrip(b"\r").rfind(b"\r")
        if cr >= 0:
            combined = combined[cr + 1 :]
        if len(combined) <= limit:
            partial.data = bytearray(combined)
            return
        cut = _char_boundary(combined, limit)
        partial.data = bytearray(combined[:cut])
        partial.dropped = len(combined) - cut

    def _finish_partial(self, partial: _Partial) -> str:
        """The text of an unfinished (maybe cut) line; resets it."""
        raw = bytes(partial.data)
        dropped = partial.dropped
        partial.reset()
        return self._one_line(raw) if not dropped else self._cut_text(raw, dropped)

    def _cut_text(self, kept: bytes, dropped: int) -> str:
        """A truncated line: masked kept part, no half secret at the cut, and the marker."""
        text = self._mask(kept.rstrip(b"\r").decode("utf-8", "replace"))
        for secret in self._secrets:
            for size in range(len(secret) - 1, 0, -1):
                if text.endswith(secret[:size]):
                    text = text[:-size] + MASK
                    break
        return f"{text}…[truncated {dropped} bytes]"

    def _mask(self, text: str) -> str:
        return mask(text, self._secrets)

    # -- batches ----------------------------------------------------------------------

    def _add(self, stream: str, lines: list[str], now: float, size: int) -> None:
        if self._lines and (stream != self._stream or self._size + size > self._batch_bytes):
            self.flush()
        if not self._lines:
            self._stream = stream
            self._lines = lines
            self._ts = [now] * len(lines)
            self._size = size
            self._arm_timer()
        else:
            self._lines += lines
            self._ts += [now] * len(lines)
            self._size += size
        if self._size >= self._batch_bytes:
            self.flush()

    def _arm_timer(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # used synchronously (tests, tools): the caller flushes
            return
        wait = self._last_flush + BATCH_MIN_INTERVAL - time.monotonic()
        self._timer = loop.call_later(min(self._batch_delay, max(0.0, wait)), self.flush)

    def flush(self) -> None:
        """Emit the pending batch now (timer, size, stream switch or end)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._lines:
            return
        lines, ts = self._lines, self._ts
        self._lines, self._ts, self._size = [], [], 0
        self._last_flush = time.monotonic()
        data = {
            "step_id": self.step_id,
            "stream": self._stream,
            "offset": self.offset,
            "lines": lines,
            "ts": ts,
        }
        self.offset += len(lines)
        self._emit(data)


def _last_state_str(line: str) -> str:
    core = line.rstrip("\r")
    cut = core.rfind("\r")
    return core if cut < 0 else core[cut + 1 :]
