"""The `uses:` actions run locally, and what is decided about them when the file loads."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .context import find_node, find_python, version_from_file
from .evaluate import render_static

#: Actions the job runner implements (the part before `@`).
BUILT_IN = (
    "actions/checkout", "actions/setup-python", "astral-sh/setup-uv", "actions/setup-node",
    "actions/upload-artifact", "actions/download-artifact", "actions/cache",
    "actions/cache/restore", "actions/cache/save", "hynek/build-and-inspect-python-package",
    "snok/install-poetry", "pre-commit/action",
)  # fmt: skip
#: Actions that put uv on PATH (hynek's caches it too: nothing to cache locally).
UV_ACTIONS = ("astral-sh/setup-uv", "hynek/setup-cached-uv")


def action_name(uses: str) -> str:
    """`actions/checkout@v4` -> `actions/checkout`; `owner/repo/path@v1` keeps the path."""
    return uses.split("@", 1)[0].strip().lower()


def classify(
    uses: str, with_: Mapping[str, str], ctx: Mapping[str, Any], repo: Path | None = None
) -> tuple[str, str]:
    """(skip reason, words) for a `uses:` step; ('', '') when it runs."""
    name = action_name(uses)
    if uses.startswith("./"):
        return "", ""  # a local composite action: read from the job's workspace when it runs
    if name == "actions/setup-python":
        version = with_.get("python-version", "")
        rendered = render_static(version, ctx) if version else ""
        file = with_.get("python-version-file", "")
        if not version and file and repo is not None and "${{" not in file:
            try:
                rendered = version_from_file(repo / file)
            except (OSError, IndexError, KeyError, ValueError):
                rendered = ""  # the step says why when it runs
        if rendered is None or not rendered:
            return "", ""  # resolved when the step runs
        # One version a line: '>=3.9 <3.13' on one line is one range, as setup-python reads it.
        for wanted in [line.strip() for line in rendered.splitlines() if line.strip()]:
            if find_python(wanted) is None:
                return "tool-missing", f"no Python {wanted} on PATH or in pyenv"
        return "", ""
    if name in UV_ACTIONS:
        return ("", "") if shutil.which("uv") else ("tool-missing", "uv is not installed")
    if name == "actions/setup-node":
        version = render_static(with_.get("node-version", ""), ctx) or ""
        if find_node(version) is None:
            return "tool-missing", f"no node {version or ''} on PATH".replace("  ", " ")
        return "", ""
    if name in BUILT_IN or name in UV_ACTIONS:
        return "", ""
    return "unsupported-action", f"action {uses} is not supported"
