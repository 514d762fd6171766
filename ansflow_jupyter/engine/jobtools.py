"""Tool-installing actions, built in: snok/install-poetry and pre-commit/action.

Each tool goes into a virtualenv of the job (pip from the package registry, uv when it is
installed), and only its command is put on PATH: the job's own `python` stays first, and
nothing is installed into an interpreter of the machine. Poetry's settings are the job's
environment (`POETRY_VIRTUALENVS_*`), never `poetry config`: a workflow run here must not
change the user's own Poetry configuration.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

POETRY = "snok/install-poetry"
PRE_COMMIT = "pre-commit/action"
#: snok/install-poetry's input -> the environment variable Poetry reads for it.
SETTINGS = {
    "virtualenvs-create": "POETRY_VIRTUALENVS_CREATE",
    "virtualenvs-in-project": "POETRY_VIRTUALENVS_IN_PROJECT",
    "virtualenvs-path": "POETRY_VIRTUALENVS_PATH",
    "installer-parallel": "POETRY_INSTALLER_PARALLEL",
}
DEFAULTS = {
    "virtualenvs-create": "true",
    "virtualenvs-in-project": "false",
    "virtualenvs-path": "{cache-dir}/virtualenvs",
    "installer-parallel": "true",
}


def tool(temp: Path, name: str, packages: list[str]) -> Path | None:
    """A folder holding only the `name` command, installed with `packages` (None: failed)."""
    venv = temp / name
    bin_dir = temp / f"{name}-bin"
    if (bin_dir / name).exists():
        return bin_dir
    print(f"Installing {' '.join(packages)} into a virtualenv of this job: {venv}")
    uv = shutil.which("uv")
    if uv:
        made = [uv, "venv", "-q", "-p", sys.executable, str(venv)]  # not the job's Python
        steps = [made, [uv, "pip", "install", "-q", "-p", str(venv)]]
    else:
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
        steps = [[sys.executable, "-m", "venv", str(venv)], [*pip, "--upgrade", "pip"], pip]
    steps[-1] = [*steps[-1], *packages]
    for argv in steps:
        if subprocess.run(argv).returncode != 0:
            print(f"::error::installing {name} failed: {' '.join(argv)}")
            return None
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / name).symlink_to(venv / "bin" / name)
    return bin_dir


def install_poetry(
    with_: Mapping[str, str], temp: Path, home: str, append: Callable[[str, str], None]
) -> int:
    """snok/install-poetry (`version`, `plugins`, settings); `append(FILE_VAR, line)`."""
    version = with_.get("version", "").strip() or "latest"
    wanted = ["poetry" if version == "latest" else f"poetry=={version}"]
    bin_dir = tool(temp, "poetry", [*wanted, *with_.get("plugins", "").split()])
    if bin_dir is None:
        return 1
    if with_.get("installation-arguments", "").strip():
        print("Ignored locally: installation-arguments (Poetry is installed with pip)")
    append("GITHUB_PATH", str(bin_dir))
    for key, variable in SETTINGS.items():
        value = with_.get(key, "").strip() or DEFAULTS[key]
        if key == "virtualenvs-path":
            if value == DEFAULTS[key]:
                continue  # Poetry's own default
            value = home + value[1:] if value.startswith("~") else value
        append("GITHUB_ENV", f"{variable}={value}")
    append("GITHUB_ENV", "VENV=.venv/bin/activate")
    done = subprocess.run([str(bin_dir / "poetry"), "--version"], capture_output=True, text=True)
    print(done.stdout.strip() or done.stderr.strip())
    return done.returncode


def pre_commit(
    with_: Mapping[str, str], temp: Path, workspace: Path, env: Mapping[str, str]
) -> int:
    """pre-commit/action: `pre-commit run --show-diff-on-failure` with `extra_args`."""
    bin_dir = tool(temp, "pre-commit", ["pre-commit"])
    if bin_dir is None:
        return 1
    extra = shlex.split(with_.get("extra_args", "--all-files"))
    argv = [str(bin_dir / "pre-commit"), "run", "--show-diff-on-failure", "--color=always"]
    print(f"Run {shlex.join(['pre-commit', *argv[1:], *extra])}")
    return subprocess.run([*argv, *extra], cwd=workspace, env=dict(env)).returncode
