"""snok/install-poetry, built in: Poetry for the job, configured as the action does.

Poetry goes into a virtualenv of the job (pip from the package registry, as the action's
installer downloads it); only a `poetry` command is put on PATH, so the job's own `python`
stays first. The settings are the job's environment (`POETRY_VIRTUALENVS_*`), never
`poetry config`: a workflow run here must not change the user's own Poetry configuration.
`VENV` names the in-project virtualenv's activate script, as the action sets it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

NAME = "snok/install-poetry"
#: input -> the environment variable Poetry reads for it.
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


def install_poetry(
    with_: Mapping[str, str], temp: Path, home: str, append: Callable[[str, str], None]
) -> int:
    """Install Poetry (`version`, `plugins`) into the job; `append(FILE_VAR, line)`."""
    version = with_.get("version", "").strip() or "latest"
    venv = temp / "poetry"
    bin_dir = temp / "poetry-bin"
    if not (venv / "bin" / "poetry").exists():
        wanted = ["poetry" if version == "latest" else f"poetry=={version}"]
        wanted += with_.get("plugins", "").split()
        print(f"Installing {' '.join(wanted)} into a virtualenv of this job: {venv}")
        uv = shutil.which("uv")
        if uv:
            steps = [[uv, "venv", "-q", str(venv)], [uv, "pip", "install", "-q", "-p", str(venv)]]
        else:
            pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
            steps = [[sys.executable, "-m", "venv", str(venv)], [*pip, "--upgrade", "pip"], pip]
        steps[-1] = [*steps[-1], *wanted]
        for argv in steps:
            if subprocess.run(argv).returncode != 0:
                print(f"::error::installing Poetry failed: {' '.join(argv)}")
                return 1
        bin_dir.mkdir(exist_ok=True)
        (bin_dir / "poetry").symlink_to(venv / "bin" / "poetry")
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
