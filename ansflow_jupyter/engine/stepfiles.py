"""The files a step writes for the engine: `$ANSFLOW_OUTPUT` and `$ANSFLOW_STEP_SUMMARY`.

Each attempt gets fresh, empty files in a folder of the execution (removed at its end).
Outputs use GitHub's `GITHUB_OUTPUT` syntax: `key=value` lines and `key<<DELIMITER` blocks
ending with a line that is exactly DELIMITER. Both files are bounded: an output file over
OUTPUT_MAX_BYTES or with a malformed line fails the step (reason `output-error`); a summary
over SUMMARY_MAX_BYTES is cut with a note.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from ..events import StepStatus
from ..pipeline.expr_values import Value
from ..pipeline.expressions import Scope
from ..pipeline.interpolate import missing_outputs
from ..pipeline.secrets import mask as mask_text
from ..pipeline.secrets import mask_patterns
from ..pipeline.spec import StepSpec
from .output import LineProcessor

OUTPUT_MAX_BYTES = 1 << 20
SUMMARY_MAX_BYTES = 1 << 20
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
#: GitHub's words for a need's result (`needs.ID.result == 'failure'`).
_RESULTS = {StepStatus.FAILED: "failure"}


class OutputError(Exception):
    """The output file cannot be used; the message says why (and where)."""


class SummarySink(Protocol):
    """Where step summaries are kept (the store, through the service)."""

    async def save_summary(
        self, execution_id: str, step_id: str, attempt: int, markdown: str
    ) -> None:
        """Persist one attempt's summary before the step is reported finished."""


class AttemptFiles:
    """The two files of one attempt."""

    __slots__ = ("_untouched", "output_path", "summary_path")

    def __init__(self, output_path: str, summary_path: str) -> None:
        self.output_path = output_path
        self.summary_path = summary_path
        self._untouched = 0  # files found as they were handed out (empty, ours, 0600)

    @property
    def untouched(self) -> bool:
        """Both files were read and found exactly as handed out: they can be handed out
        again instead of removed and created anew (4 syscalls and 2 inodes fewer)."""
        return self._untouched == 2

    def env(self) -> dict[str, str]:
        """The variables that point the step at them."""
        return {"ANSFLOW_OUTPUT": self.output_path, "ANSFLOW_STEP_SUMMARY": self.summary_path}

    def _size(self, path: str) -> int | None:
        """The size of `path` when it holds data to read; None when it is empty."""
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            info = os.stat(path)  # the step replaced it with a link: read what it points at
        elif info.st_size == 0 and _as_handed_out(info):
            self._untouched += 1
            return None
        if info.st_size == 0 and stat.S_ISREG(info.st_mode):
            return None
        return info.st_size

    def outputs(self) -> dict[str, str]:
        """The outputs the attempt wrote; raises OutputError."""
        try:
            size = self._size(self.output_path)
            if size is None:
                return {}  # most steps write nothing: no open/read/close per attempt
            if size > OUTPUT_MAX_BYTES:
                raise OutputError(
                    f"$ANSFLOW_OUTPUT holds {size} bytes, more than the limit of "
                    f"{OUTPUT_MAX_BYTES} bytes (1 MiB)"
                )
            with open(self.output_path, "rb") as file:
                data = file.read()
        except FileNotFoundError:
            return {}  # the step removed it: nothing written
        except OSError as exc:
            raise OutputError(f"cannot read $ANSFLOW_OUTPUT: {exc.strerror or exc}") from None
        return parse_outputs(data.decode("utf-8", errors="replace"))

    def summary(self) -> str:
        """The Markdown the attempt wrote ('' when none), cut at SUMMARY_MAX_BYTES."""
        try:
            if self._size(self.summary_path) is None:
                return ""  # most steps write none: no open/read/close per attempt
            with open(self.summary_path, "rb") as file:
                data = file.read(SUMMARY_MAX_BYTES + 1)
        except OSError:
            return ""
        if len(data) <= SUMMARY_MAX_BYTES:
            return data.decode("utf-8", errors="replace")
        kept = data[:SUMMARY_MAX_BYTES].decode("utf-8", errors="ignore")
        return kept + f"\n\n*(summary cut at {SUMMARY_MAX_BYTES} bytes)*\n"


class StepFiles:
    """The folder of one execution's step files, created on first use.

    It lives on a memory filesystem (/dev/shm) when there is one: on a disk, creating and
    removing these files cost ~3 ms per attempt (measured with bench_step_overhead.py),
    more than starting the step's process. Files an attempt left untouched (most steps
    write neither) are handed to a later attempt instead of being removed and created.
    """

    def __init__(self) -> None:
        self._root: str | None = None
        self._count = 0
        self._free: list[tuple[str, str]] = []  # untouched pairs, empty and ready

    def attempt(self) -> AttemptFiles:
        """Fresh empty files for one attempt (give them back with `discard`)."""
        if self._free:
            return AttemptFiles(*self._free.pop())
        if self._root is None:
            self._root = tempfile.mkdtemp(prefix="ansflow-step-files-", dir=_memory_dir())
        self._count += 1
        files = AttemptFiles(
            f"{self._root}/{self._count}-output", f"{self._root}/{self._count}-summary.md"
        )
        for path in (files.output_path, files.summary_path):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return files

    def discard(self, files: AttemptFiles) -> None:
        """Take an attempt's files back once they have been read."""
        if files.untouched and self._root is not None:
            self._free.append((files.output_path, files.summary_path))
            return
        for path in (files.output_path, files.summary_path):
            with contextlib.suppress(OSError):
                os.unlink(path)

    def remove(self) -> None:
        """Delete every file (the execution ended)."""
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None
            self._free.clear()


def _as_handed_out(info: os.stat_result) -> bool:
    """A regular file with mode 0600 and a single name, as `StepFiles.attempt` makes."""
    return stat.S_ISREG(info.st_mode) and info.st_nlink == 1 and stat.S_IMODE(info.st_mode) == 0o600


def _memory_dir() -> str | None:
    """/dev/shm when it is a writable folder, else None (the system's temporary folder)."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None


def parse_outputs(text: str) -> dict[str, str]:
    """`key=value` lines and `key<<DELIM` blocks; raises OutputError naming the line."""
    outputs: dict[str, str] = {}
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    i = 0
    while i < len(lines):
        line = lines[i].removesuffix("\r")
        number = i + 1
        i += 1
        if not line.strip():
            continue
        equals, heredoc = line.find("="), line.find("<<")
        if heredoc != -1 and (equals == -1 or heredoc < equals):
            name, delimiter = line[:heredoc], line[heredoc + 2 :]
            if not delimiter:
                raise OutputError(f"$ANSFLOW_OUTPUT line {number}: empty delimiter after '<<'")
            body: list[str] = []
            while i < len(lines) and lines[i].removesuffix("\r") != delimiter:
                body.append(lines[i].removesuffix("\r"))
                i += 1
            if i == len(lines):
                raise OutputError(
                    f"$ANSFLOW_OUTPUT line {number}: no line '{delimiter}' ends the value of "
                    f"'{name}'"
                )
            i += 1
            value = "\n".join(body)
        elif equals != -1:
            name, value = line[:equals], line[equals + 1 :]
        else:
            raise OutputError(
                f"$ANSFLOW_OUTPUT line {number}: expected 'name=value' or 'name<<DELIMITER', "
                f"got {line[:80]!r}"
            )
        if not _NAME.match(name):
            raise OutputError(
                f"$ANSFLOW_OUTPUT line {number}: invalid output name {name[:80]!r} (use letters, "
                "digits, '_', '-' and '.', starting with a letter or '_')"
            )
        outputs[name] = value
    return outputs


def mask(text: str, secrets: Iterable[str]) -> str:
    """Every secret value (each line of a multi-line one, as in logs) replaced by ***."""
    return mask_text(text, mask_patterns(secrets))


def needs_context(steps: Iterable[Any]) -> dict[str, Value]:
    """The `needs` context of a step from its needs' StepStates: result and outputs by leg
    id, and by the id as written when that step has a single leg."""
    states = list(steps)
    legs: dict[str, int] = {}
    for state in states:
        legs[state.spec.template_id] = legs.get(state.spec.template_id, 0) + 1
    context = _Aliased()
    for state in states:
        outputs: Mapping[str, str] = state.extra.get("outputs") or {}
        entry = {
            "result": _RESULTS.get(state.status, state.status.value),
            "outputs": dict(outputs),
        }
        context[state.spec.id] = entry
        if state.spec.template_id and legs[state.spec.template_id] == 1:
            context.aliases.setdefault(state.spec.template_id, entry)
    return context


class _Aliased(dict[str, Value]):
    """A dict that also answers to aliases, which `needs.*` does not list twice."""

    def __init__(self) -> None:
        super().__init__()
        self.aliases: dict[str, Value] = {}

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key) or key in self.aliases

    def __missing__(self, key: str) -> Value:
        return self.aliases[key]


def render_runtime(
    spec: StepSpec,
    env: dict[str, str],
    scope: Scope,
    keep: Iterable[str],
    log: LineProcessor,
) -> str:
    """The script with its `needs` reads filled in, and env values likewise into `env`
    (except the names in `keep`: run-time overrides win). Missing outputs read as '' with
    a warning line in the step's log; raises ExpressionRuntimeError."""
    needs = scope.contexts.get("needs") or {}
    for template in spec.runtime.values():
        for name in missing_outputs(template, needs):
            log.add_line("stderr", f"ansflow: warning: {name} is not set; it reads as ''")
    kept = set(keep)
    for key, template in spec.runtime.items():
        name = key.removeprefix("env.")
        if key.startswith("env.") and name not in kept:
            env[name] = template.render(scope)
    return spec.runtime["run"].render(scope) if "run" in spec.runtime else spec.run


def collect_outputs(extra: dict[str, Any], files: AttemptFiles, secrets: Iterable[str]) -> str:
    """Put the attempt's outputs (secrets masked) into the step's update fields; returns
    why they cannot be used ('' when fine)."""
    # An earlier attempt's outputs are replaced, by {} if need be, so that views (which
    # fold updates) show what dependents will read.
    had = extra.pop("outputs", None) is not None
    try:
        outputs = files.outputs()
    except OutputError as exc:
        outputs, problem = {}, str(exc)
    else:
        problem = ""
    if outputs or had:
        extra["outputs"] = {k: mask(v, secrets) for k, v in outputs.items()}
    return problem
