"""`path:` inputs of upload-artifact and cache, matched as GitHub's @actions/glob does.

One pattern a line; `!` excludes (the last pattern matching a file decides); `~` is the
home folder; a relative pattern starts at the job's workspace; a pattern matching a folder
takes everything below it; `**` any depth, `*`/`?`/`[..]` within a name. The artifact's
root is the least common ancestor of the patterns' literal prefixes ("search paths"); a
single file named without a wildcard is stored without its folders.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .cache import _translate

_GLOB = re.compile(r"[*?\[]")


@dataclass(slots=True)
class Search:
    """What a `path:` input found."""

    root: Path
    files: list[Path] = field(default_factory=list)
    search_paths: list[Path] = field(default_factory=list)

    def relative(self) -> dict[str, Path]:
        """'/' paths below the root -> files."""
        return {os.path.relpath(f, self.root).replace(os.sep, "/"): f for f in self.files}


@dataclass(frozen=True, slots=True)
class _Pattern:
    negate: bool
    search: Path  # the literal prefix
    regex: re.Pattern[str] | None  # for the rest ('/' relative to search); None: literal


def absolute(line: str, base: Path) -> Path:
    """A pattern line as an absolute, normalized path (`~` expanded)."""
    expanded = os.path.expanduser(line)
    return Path(os.path.normpath(os.path.join(base, expanded)))


def _pattern(line: str, base: Path) -> _Pattern:
    negate = line.startswith("!")
    text = str(absolute(line[1:] if negate else line, base))
    parts = text.split(os.sep)
    literal: list[str] = []
    for part in parts:
        if _GLOB.search(part):
            break
        literal.append(part)
    rest = parts[len(literal) :]
    search = Path(os.sep.join(literal) or os.sep)
    # A folder match takes everything below it (implicit descendants).
    regex = re.compile(_translate(rest) + "(?:/.*)?") if rest else None
    return _Pattern(negate, search, regex)


def _matches(pattern: _Pattern, path: Path) -> bool:
    try:
        rel = path.relative_to(pattern.search)
    except ValueError:
        return False
    if pattern.regex is None:
        return True  # the path itself or below it
    text = rel.as_posix()
    return text != "." and pattern.regex.fullmatch(text) is not None


def _walk(root: Path, hidden: bool) -> list[Path]:
    """Every file at or below root (links followed to files; linked folders not walked)."""
    if not hidden and root.name.startswith("."):
        return []
    if root.is_file():
        return [root]
    out: list[Path] = []
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for entry in entries:
            if not hidden and entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            elif entry.is_file():
                out.append(Path(entry.path))
    return out


def lowest_common_ancestor(paths: list[Path]) -> Path:
    """The deepest folder holding every path."""
    return Path(os.path.commonpath([str(p) for p in paths]))


def search(text: str, base: Path, *, hidden: bool = True) -> Search:
    """The files a multi-line `path:` input names, and the root they are stored below."""
    lines = [line.strip() for line in text.splitlines()]
    patterns = [_pattern(line, base) for line in lines if line and not line.startswith("#")]
    includes = [p for p in patterns if not p.negate]
    found: dict[Path, None] = {}
    for pattern in includes:
        for file in _walk(pattern.search, hidden):
            decided = False
            for other in patterns:
                if _matches(other, file):
                    decided = not other.negate
            if decided:
                found.setdefault(file, None)
    # Search paths: the includes' literal prefixes, without those below another one.
    unique = sorted({p.search for p in includes}, key=lambda p: (len(p.parts), str(p)))
    searches: list[Path] = []
    for path in unique:
        if not any(path == s or s in path.parents for s in searches):
            searches.append(path)
    files = sorted(found)
    if not searches:
        return Search(base, files, searches)
    if len(searches) > 1:
        root = lowest_common_ancestor(searches)
    elif len(files) == 1 and searches[0] == files[0]:
        root = files[0].parent  # one file named without a wildcard: no folders kept
    else:
        root = searches[0]
    return Search(root, files, searches)
