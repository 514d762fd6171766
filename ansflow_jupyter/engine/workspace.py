"""A job's own workspace: a clean copy of the repository's current tree.

In a git repository: `git worktree add --detach` at HEAD (git checks out fast, in C, and
the copy keeps the history tools like setuptools-scm read), then the uncommitted state laid
over it: changed and untracked (not ignored) files copied with tar, deleted ones removed.
Elsewhere (or without a commit): the folder copied with tar. Parallel jobs never share one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False)


def _copy(source: Path, dest: Path, names: list[bytes]) -> None:
    """Copy the listed relative paths with one tar pipe (fast, keeps modes and links)."""
    if not names:
        return
    pack = subprocess.Popen(
        ["tar", "-C", str(source), "--null", "-T", "-", "-cf", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    unpack = subprocess.Popen(["tar", "-C", str(dest), "-xf", "-"], stdin=pack.stdout)
    assert pack.stdin is not None and pack.stdout is not None
    pack.stdout.close()
    pack.stdin.write(b"\0".join(names) + b"\0")
    pack.stdin.close()
    pack.wait()
    if unpack.wait() != 0:
        raise OSError(f"copying the repository into {dest} failed")


def root_for(execution_id: str, job: str) -> Path:
    """Where one job's workspace lives (under the system temp folder)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in job)[:80]
    return Path(tempfile.gettempdir()) / "ansflow-work" / execution_id / safe


def create(repo: Path, dest: Path) -> Path:
    """Make `dest` a copy of `repo`'s current tree (tracked + uncommitted + untracked)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        remove(repo, dest)
    if (repo / ".git").exists() and _git(
        repo, "rev-parse", "-q", "--verify", "HEAD"
    ).returncode == 0:
        done = _git(repo, "worktree", "add", "--detach", "--quiet", str(dest), "HEAD")
        if done.returncode == 0:
            changed = _git(repo, "diff", "--name-only", "-z", "--no-renames", "HEAD").stdout
            untracked = _git(repo, "ls-files", "-z", "-o", "--exclude-standard").stdout
            names = [n for n in (changed + untracked).split(b"\0") if n]
            present = [n for n in names if os.path.lexists(repo / os.fsdecode(n))]
            for name in set(names) - set(present):
                (dest / os.fsdecode(name)).unlink(missing_ok=True)
            _copy(repo, dest, present)
            return dest
    dest.mkdir(parents=True)
    listed = _git(repo, "ls-files", "-z", "-co", "--exclude-standard")
    if listed.returncode == 0:
        names = [n for n in listed.stdout.split(b"\0") if n]
        _copy(repo, dest, [n for n in names if os.path.lexists(repo / os.fsdecode(n))])
    else:
        _copy(repo, dest, [os.fsencode(p.name) for p in repo.iterdir()])
    return dest


def remove(repo: Path, dest: Path) -> None:
    """Remove a workspace (and its git worktree registration)."""
    if (dest / ".git").is_file():
        _git(repo, "worktree", "remove", "--force", str(dest))
    shutil.rmtree(dest, ignore_errors=True)
    if (repo / ".git").exists():
        _git(repo, "worktree", "prune")
