"""The `uses:` actions the job runner implements locally."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

from ..pipeline.github.actions import UV_ACTIONS
from ..pipeline.github.context import find_node, find_python, version_from_file
from . import workspace as workspace_module
from .jobtools import POETRY, PRE_COMMIT, install_poetry, pre_commit


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
    if name == POETRY:
        home = env.get("HOME", str(Path.home()))
        return install_poetry(with_, temp, home, lambda var, line: _append(env, var, line))
    if name == PRE_COMMIT:
        return pre_commit(with_, temp, workspace, env)
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


def checkout(with_: dict[str, str], repo: Path, workspace: Path, made: list[Path]) -> int:
    """actions/checkout: the workspace holds the repository's current tree already; `path`
    adds a copy of it in a folder of the workspace (removed with the job)."""
    other = with_.get("repository", "").strip()
    if other and other.lower() != _own_name(repo).lower():
        print(f"::error::cannot check out {other} locally (only this repository's tree)")
        return 1
    depth = with_.get("fetch-depth", "").strip()
    if depth:
        print(f"fetch-depth {depth}: the workspace shares the repository's whole history")
    ignored = sorted(set(with_) - {"fetch-depth", "path", "repository", "persist-credentials"})
    if ignored:
        print(f"Ignored locally: {', '.join(ignored)}")
    path = with_.get("path", "").strip()
    target = (workspace / path).resolve() if path else workspace
    if target == workspace.resolve():
        print(f"The job's workspace already holds the repository's current tree: {workspace}")
        return 0
    if workspace.resolve() not in target.parents:
        print(f"::error::path {path} is not inside the workspace {workspace}")
        return 1
    if target.exists() and any(target.iterdir()):
        print(f"::error::{path} is not empty")
        return 1
    try:
        workspace_module.create(repo, target)
    except OSError as exc:
        print(f"::error::cannot check out into {path}: {exc}")
        return 1
    made.append(target)
    print(f"The repository's current tree is in {target}")
    return 0


def _own_name(repo: Path) -> str:
    """owner/name of the repository (from its `origin` remote; else its folder name)."""
    done = subprocess.run(
        ["git", "-C", str(repo), "remote", "get-url", "origin"], capture_output=True, text=True
    )
    url = done.stdout.strip().removesuffix(".git").replace(":", "/")
    return "/".join(url.split("/")[-2:]) if url else repo.name


def become_subreaper() -> None:
    """Adopt what the job's steps leave in the background (Linux), so sweep() finds it."""
    if sys.platform != "linux":
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def sweep() -> None:
    """Kill the processes the job's steps left running (GitHub ends them with the job)."""
    import psutil

    _reap()
    procs = [p for p in psutil.Process().children(recursive=True) if _alive(p)]
    if procs:
        print(f"Cleaning up orphan processes: {len(procs)}")
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            print(f"Terminate orphan process: pid ({proc.pid}) ({proc.name()})")
            proc.terminate()
    _, alive = psutil.wait_procs(procs, timeout=3)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=3)


def _reap() -> None:
    """Collect adopted children that already ended (zombies)."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def _alive(proc: Any) -> bool:
    import psutil

    try:
        return bool(proc.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


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
    # One version a line: '>=3.9 <3.13' on one line is one range, as setup-python reads it.
    versions = [line.strip() for line in version.splitlines() if line.strip()] or ["3"]
    found = [(v, find_python(v)) for v in versions]
    missing = [v for v, path in found if path is None]
    if missing:
        print(f"::error::no Python {', '.join(missing)} on PATH or in pyenv")
        return 1
    wanted, interpreter = found[-1]
    assert interpreter is not None
    venv = temp / f"venv-{re.sub(r'[^0-9A-Za-z.]+', '_', wanted)}"  # '>=3.9 <3.13'
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
