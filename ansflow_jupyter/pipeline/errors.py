"""Located pipeline errors: file, line, column, key path and message."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class SpecIssue:
    """One problem in a pipeline file: 1-based `line`/`column`, `path` like `steps.b.needs[1]`."""

    message: str
    line: int
    column: int
    path: str = ""
    file: str | None = None

    def __str__(self) -> str:
        where = self.file or "<pipeline>"
        if self.line > 0:  # line 0: about the whole file (not found, too large)
            where = f"{where}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form used by `POST pipelines/validate` (`{message, line, column, path}`)."""
        return {k: v for k, v in asdict(self).items() if k != "file"}


class SpecError(Exception):
    """A pipeline is invalid; carries every issue found, not only the first."""

    def __init__(self, issues: list[SpecIssue]):
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))
