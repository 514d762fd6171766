"""The `uses:` actions the job runner implements locally."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, MutableMapping
from pathlib import Path

from ..pipeline.github.actions import UV_ACTIONS
from ..pipeline.github.context import find_node, find_python, version_from_file


def run_action(
    uses: str,
    with_: dict[str, str],
    env: MutableMapping[str, str],
    workspace: Path,
    temp: Path,
    announce: Callable[[str], None],
) -> int:
    """Run a built-in action; its GITHUB_PATH/ENV/OUTPUT lines go to the step's files."""
    name = uses.split("@", 1)[0].strip().lower()
    if name == "actions/checkout":
        print(f"The job's workspace already holds the repository's current tree: {workspace}")
        ignored = sorted(set(with_) - {"fetch-depth", "persist-credentials", "submodules"})
        if ignored:
            print(f"Ignored locally: {', '.join(ignored)}")
        return 0
    if name == "actions/setup-python":
        return _setup_python(with_, env, workspace, temp)
    if name in UV_ACTIONS:
        uv = shutil.which("uv", path=env.get("PATH"))
        if uv is None:
            print("::error::uv is not installed")
            return 1
        _append(env, "GITHUB_PATH", str(Path(uv).parent))
        version = subprocess.run([uv, "--version"], capture_output=True, text=True).stdout
        _append(env, "GITHUB_OUTPUT", f"uv-version={version.split()[-1] if version else ''}")
        print(f"Using {uv} ({version.strip()})")
        return 0
    if name == "actions/setup-node":
        node = find_node(with_.get("node-version", ""))
        if node is None:
            print(f"::error::no node {with_.get('node-version', '')} on PATH")
            return 1
        _append(env, "GITHUB_PATH", str(Path(node).parent))
        print(f"Using {node}")
        return 0
    print(f"::error::action {uses} is not supported")
    return 1


def _append(env: MutableMapping[str, str], file_var: str, line: str) -> None:
    with open(env[file_var], "a", encoding="utf-8") as out:
        out.write(line + "\n")


def _setup_python(
    with_: dict[str, str], env: MutableMapping[str, str], workspace: Path, temp: Path
) -> int:
    """A virtualenv per job from a matching interpreter, first on PATH from now on."""
    version = with_.get("python-version", "")
    if not version and with_.get("python-version-file"):
        file = workspace / with_["python-version-file"]
        try:
            version = version_from_file(file)
        except (OSError, IndexError, ValueError):
            print(f"::error::cannot read {with_['python-version-file']}")
            return 1
    versions = version.split() or ["3"]
    found = [(v, find_python(v)) for v in versions]
    missing = [v for v, path in found if path is None]
    if missing:
        print(f"::error::no Python {', '.join(missing)} on PATH or in pyenv")
        return 1
    wanted, interpreter = found[-1]
    assert interpreter is not None
    venv = temp / f"venv-{wanted}"
    if not venv.exists():
        uv = shutil.which("uv")
        # `uv venv --seed` (with pip) takes well under a second; `-m venv` runs ensurepip.
        argv = (
            [uv, "venv", "-q", "--seed", "-p", interpreter] if uv else [interpreter, "-m", "venv"]
        )
        done = subprocess.run([*argv, str(venv)])
        if done.returncode != 0:
            return done.returncode
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    # The interpreters themselves go on PATH too (after the virtualenv), as setup-python
    # leaves them: tools such as tox and uv look for `python3.X` and skip virtualenvs.
    for _, other in found:
        _append(env, "GITHUB_PATH", str(Path(str(other)).parent))
    _append(env, "GITHUB_PATH", str(bin_dir))
    _append(env, "GITHUB_ENV", f"pythonLocation={venv}")
    full = subprocess.run(
        [str(bin_dir / "python"), "-c", "import platform;print(platform.python_version())"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    _append(env, "GITHUB_OUTPUT", f"python-version={full}")
    _append(env, "GITHUB_OUTPUT", f"python-path={bin_dir / 'python'}")
    print(f"Python {full} in a virtualenv of this job: {venv}")
    return 0
