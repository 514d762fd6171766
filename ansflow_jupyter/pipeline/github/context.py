"""What a workflow sees of this machine: the `github` context from the local git
repository, the runner's OS, and the tools the built-in setup actions resolve to."""

from __future__ import annotations

import functools
import os
import platform
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

from .pyrange import Release, is_range, satisfies

#: Every context a workflow expression may read.
CONTEXTS = (
    "github",
    "env",
    "vars",
    "secrets",
    "matrix",
    "strategy",
    "steps",
    "needs",
    "runner",
    "job",
    "inputs",
)


def _git(root: Path, *args: str) -> str:
    """One git query's output ('' when git or the repository is missing)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def repository_root(start: Path) -> Path:
    """The git work tree holding `start` (or `start` itself outside one)."""
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start


def github_context(root: Path, event: str, workflow: str) -> dict[str, Any]:
    """The `github` context as GitHub would fill it for a run of this repository."""
    sha = _git(root, "rev-parse", "HEAD")
    branch = _git(root, "symbolic-ref", "--short", "-q", "HEAD")
    ref = f"refs/heads/{branch}" if branch else ""
    url = _git(root, "remote", "get-url", "origin")
    match = re.search(r"[:/]([^/:]+/[^/]+?)(?:\.git)?/?$", url)
    repository = match.group(1) if match else root.name
    actor = os.environ.get("USER", "") or os.environ.get("USERNAME", "")
    return {
        "event_name": event,
        "event": {},
        "ref": ref,
        "ref_name": branch,
        "ref_type": "branch" if branch else "",
        "head_ref": "",
        "base_ref": "",
        "sha": sha,
        "repository": repository,
        "repository_owner": repository.split("/")[0] if "/" in repository else actor,
        "workspace": "",  # the job's own workspace, set when it starts
        "run_id": "",
        "run_number": "1",
        "run_attempt": "1",
        "actor": actor,
        "triggering_actor": actor,
        "server_url": "https://github.com",
        "api_url": "https://api.github.com",
        "graphql_url": "https://api.github.com/graphql",
        "workflow": workflow,
        "action": "",
        "job": "",
        "token": "",
    }


def host_os() -> str:
    """The runner OS name GitHub uses for this machine: Linux, macOS or Windows."""
    system = platform.system()
    return {"Darwin": "macOS", "Windows": "Windows"}.get(system, "Linux")


def runner_arch() -> str:
    """X64, ARM64, X86 or ARM, as `runner.arch` spells it."""
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        return "X64"
    if machine in ("aarch64", "arm64"):
        return "ARM64"
    return "ARM" if machine.startswith("arm") else "X86"


def label_os(label: str) -> str | None:
    """The OS a `runs-on` label asks for (None: any, e.g. self-hosted)."""
    low = label.lower()
    if low.startswith(("ubuntu", "linux")):
        return "Linux"
    if low.startswith(("windows", "win")):
        return "Windows"
    if low.startswith(("macos", "mac")):
        return "macOS"
    return None


def label_arch(label: str) -> str | None:
    """The architecture a `runs-on` label asks for, as `runner.arch` spells it (None: any)."""
    low = label.lower()
    named = {"x64": "X64", "x86": "X86", "arm64": "ARM64", "arm": "ARM"}
    if low in named:  # a self-hosted runner's architecture label
        return named[low]
    # GitHub's hosted ARM images: ubuntu-24.04-arm, windows-11-arm.
    return "ARM64" if low.endswith(("-arm", "-arm64")) else None


def find_python(version: str) -> str | None:
    """An interpreter matching a `python-version` ('3.11', '3.x', 'pypy3.10', '>=3.9')."""
    wanted = version.strip().strip("'\"")
    if not wanted or wanted in ("3", "x"):
        return shutil.which("python3")
    if wanted.startswith("pypy"):
        return shutil.which(wanted) or shutil.which(wanted.replace("pypy-", "pypy"))
    if is_range(wanted) or wanted == "3.x":  # the newest one in the range, as setup-python
        fitting = [path for release, path in _interpreters() if satisfies(release, wanted)]
        return fitting[-1] if fitting else None
    wanted = wanted.removesuffix("-dev")
    if wanted.endswith("t"):
        # A free-threaded build: only a `python3.13t` will do, never the usual 3.13.
        name = f"python{wanted.removesuffix('t')}t"
        found = shutil.which(name)
        return found if found and "shims" not in Path(found).parts else None
    match = re.match(r"^(\d+)\.(\d+)", wanted.lstrip("~^>=<"))
    if match is None:
        return None
    major_minor = f"{match.group(1)}.{match.group(2)}"
    # A full version (3.11.0) asks for that release, as setup-python installs it: a
    # matrix testing the oldest patch release must not get another 3.11.x.
    exact = wanted if re.fullmatch(r"\d+\.\d+\.\d+", wanted) else None
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    found = shutil.which(f"python{major_minor}")
    # A pyenv shim fails for a version not selected: look in pyenv's versions instead.
    if (
        found
        and Path(found).parent != root / "shims"
        and (exact is None or _release(found) == exact)
    ):
        return found
    pyenv = root / "versions"
    if pyenv.is_dir():
        for entry in sorted(pyenv.iterdir(), reverse=True):
            if exact is not None and entry.name != exact:
                continue
            if entry.name == major_minor or entry.name.startswith(major_minor + "."):
                candidate = entry / "bin" / "python"
                if candidate.exists():
                    return str(candidate)
    return None


def _interpreters() -> list[tuple[Release, str]]:
    """Every CPython 3 here (pyenv's versions, `python3.N` on PATH), oldest first."""
    found: dict[Release, str] = {}
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    pyenv = root / "versions"
    for entry in sorted(pyenv.iterdir()) if pyenv.is_dir() else []:
        match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", entry.name)
        if match and (entry / "bin" / "python").exists():
            found[(int(match[1]), int(match[2]), int(match[3]))] = str(entry / "bin" / "python")
    for minor in range(30):
        path = shutil.which(f"python3.{minor}")
        if path is None or Path(path).parent == root / "shims":
            continue
        match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", _release(path))
        if match:
            found.setdefault((int(match[1]), int(match[2]), int(match[3])), path)
    return sorted(found.items())


@functools.lru_cache(maxsize=64)  # one subprocess per interpreter, not one per matrix leg
def _release(python: str) -> str:
    """The full version of an interpreter ('3.11.7'; '' when it does not start)."""
    code = "import platform; print(platform.python_version())"
    try:
        done = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip()


def find_node(version: str) -> str | None:
    """A `node` on PATH whose major version matches (any when no version is asked)."""
    node = shutil.which("node")
    wanted = version.strip().lstrip("v^~>=")
    if node is None or not wanted or wanted in ("lts/*", "latest", "node"):
        return node
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    major = out.stdout.strip().lstrip("v").split(".")[0]
    return node if major == wanted.split(".")[0] else None


def version_from_file(file: Path) -> str:
    """The version a `python-version-file` asks for (pyproject.toml: requires-python)."""
    if file.name == "pyproject.toml":
        with file.open("rb") as fh:
            project = tomllib.load(fh).get("project", {})
        return str(project["requires-python"]).split(",")[0].strip()
    return file.read_text().split()[0]
