"""The command line that runs a step's script with its shell."""

from __future__ import annotations

from .backend import SpawnError


def shell_argv(shell: str, script: str) -> list[str]:
    """The command line that runs `script` with one of the supported shells."""
    if shell == "bash":
        return ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script]
    if shell == "sh":
        return ["sh", "-e", "-c", script]
    if shell == "python":
        # The step's python3 (its PATH decides, like a CI runner's), not ours: ansflow's
        # own interpreter would hand a step ansflow's virtualenv and its packages.
        return ["python3", "-u", "-c", script]
    raise SpawnError(f"unknown shell {shell!r} (expected bash, sh or python)")
