"""A step's environment: what it inherits, what it never sees, and what we add.

The same rules apply whichever front door started the run (server, kernel, CLI) and on
whichever machine the step runs: the inherited part is computed where the process
starts (on a Dask worker: from the worker's environment), the rest travels with the step.
docs/pipelines.md ("A step's environment") is the user-facing description.
"""

from __future__ import annotations

import functools
import os
import pwd
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

#: Never inherited. Our credentials (a server token in a step's log answers REST),
#: Jupyter's process bookkeeping, and what ipykernel sets for its own output channel
#: (TERM=xterm-color, forced colours, `cat` pagers), which would make a step behave
#: differently from a notebook than from a terminal.
DENIED = frozenset(
    {
        "JUPYTER_TOKEN",
        "TERM",
        "PAGER",
        "GIT_PAGER",
        "FORCE_COLOR",
        "CLICOLOR",
        "CLICOLOR_FORCE",
        "PY_COLORS",
        "PY_FORCE_COLOR",
        "TTY_COMPATIBLE",
    }
)
DENIED_PREFIXES = ("ANSFLOW_SERVER_", "JPY_")

#: What `env-inherit: false` keeps: enough for a fresh CI runner to find tools, write
#: temporary files, speak the right locale and reach package indexes through a proxy.
MINIMAL = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "NODE_EXTRA_CA_CERTS",
    }
)
MINIMAL_PREFIXES = ("LC_", "PIP_", "UV_")
MINIMAL_SUFFIXES = ("_proxy", "_PROXY")


def denied(name: str, value: str) -> bool:
    """True for a variable of the owning process that a step must never inherit."""
    if name in DENIED or name.startswith(DENIED_PREFIXES):
        return True
    if name == "MPLBACKEND":
        return value.startswith("module://")  # a kernel's inline backend, not a user choice
    if name == "ANSFLOW_DB_URL":
        return bool(_password(value))
    return False


def _password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def minimal(name: str) -> bool:
    """True for a variable `env-inherit: false` keeps."""
    return name in MINIMAL or name.startswith(MINIMAL_PREFIXES) or name.endswith(MINIMAL_SUFFIXES)


@functools.cache
def own_virtualenv() -> str | None:
    """The virtualenv this interpreter runs from (None outside one)."""
    if sys.prefix == sys.base_prefix:
        return None
    return os.path.realpath(sys.prefix)


@functools.lru_cache(maxsize=64)  # realpath per PATH entry per step cost ~0.3 ms
def _without_venv_bins(path: str, venvs: frozenset[str]) -> str:
    """PATH minus the bin directories of `venvs` (what `activate` prepended)."""
    if not venvs:
        return path
    bins = {os.path.join(venv, "bin") for venv in venvs}
    kept = [d for d in path.split(os.pathsep) if not d or os.path.realpath(d) not in bins]
    return os.pathsep.join(kept)


def inherited(base: Mapping[str, str], inherit: bool = True) -> dict[str, str]:
    """The part of `base` (the owning process's environment) a step starts from.

    `inherit=True`: everything but the deny-list, and not our own virtualenv (a step's
    `pip install` must not land in the environment ansflow runs from). `inherit=False`:
    the minimal set, with no virtualenv activation at all, plus HOME/USER if missing.
    """
    own = own_virtualenv()
    venvs = {own} if own else set()
    active = base.get("VIRTUAL_ENV")
    if inherit:
        env = {k: v for k, v in base.items() if not denied(k, v)}
        if active and own and os.path.realpath(active) == own:
            del env["VIRTUAL_ENV"]
    else:
        env = {k: v for k, v in base.items() if minimal(k) and not denied(k, v)}
        if active:
            venvs.add(os.path.realpath(active))
        _fill_account(env)
    env["PATH"] = _without_venv_bins(env.get("PATH", os.defpath), frozenset(venvs))
    return env


def _fill_account(env: dict[str, str]) -> None:
    """HOME, USER and SHELL from the password database when the owner lacks them."""
    if {"HOME", "USER", "SHELL"} <= env.keys():
        return
    try:
        entry = pwd.getpwuid(os.getuid())
    except KeyError:  # a uid without an entry (some containers)
        return
    env.setdefault("HOME", entry.pw_dir)
    env.setdefault("USER", entry.pw_name)
    env.setdefault("SHELL", entry.pw_shell or "/bin/sh")


@dataclass(frozen=True, slots=True)
class StepEnvironment:
    """How to build one attempt's environment: inherit (or not), then apply `overrides`.

    `overrides` hold the pipeline's and step's `env`, run-time overrides, declared
    secrets and our ANSFLOW_* variables: all that travels to a remote worker.
    """

    inherit: bool
    overrides: Mapping[str, str]

    def resolve(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The complete environment on top of `base` (default: this process's)."""
        env = inherited(os.environ if base is None else base, self.inherit)
        env.update(self.overrides)
        return env


class ExecutionEnvironment:
    """Builds the environment of every step of one execution (inherited parts computed once:
    copying os.environ per step costs ~0.1 ms)."""

    def __init__(
        self,
        execution_id: str,
        pipeline_env: Mapping[str, str],
        secrets: Sequence[str],
        overrides: Mapping[str, str],
        *,
        inherit: bool = True,
        base: Mapping[str, str] | None = None,
    ) -> None:
        base = os.environ if base is None else base
        self.inherit = inherit
        self._inherited = {True: inherited(base, True), False: inherited(base, False)}
        # Declared secrets travel with the step (to a worker too), also with env-inherit false.
        found = {name: base[name] for name in secrets if name in base}
        self._common = {k: v for k, v in found.items() if not denied(k, v)}
        self._common.update(pipeline_env)
        self._common["ANSFLOW_EXECUTION_ID"] = execution_id
        self._overrides = dict(overrides)

    def of(
        self, step_id: str, step_env: Mapping[str, str], inherit: bool | None
    ) -> StepEnvironment:
        """How to build a step's environment (`inherit` None: the pipeline's choice)."""
        overrides = {**self._common, **step_env, "ANSFLOW_STEP_ID": step_id, **self._overrides}
        return StepEnvironment(self.inherit if inherit is None else inherit, overrides)

    def resolve(self, environment: StepEnvironment) -> dict[str, str]:
        """The complete environment of a step in this process."""
        return {**self._inherited[environment.inherit], **environment.overrides}
