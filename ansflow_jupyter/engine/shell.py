"""The command line that runs a step's script with its shell."""

from __future__ import annotations

import sys

from .backend import SpawnError


def shell_argv(shell: str, script: str) -> list[str]:
    """The command line that runs `script` with one of the supported shells."""
    if shell == "bash":
        return ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script]
    if shell == "sh":
        return ["sh", "-e", "-c", script]
    if shell == "python":
        return [sys.executable, "-u", "-c", script]
    raise SpawnError(f"unknown shell {shell!r} (expected bash, sh or python)")
