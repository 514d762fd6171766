"""Workflow actions on the project's stores: upload/download-artifact, cache, checkout `path`,
and the sweep of a job's background processes (real `ansflow run`, local and Dask)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CORPUS = Path(__file__).parent.parent / "pipeline" / "workflows"


def repository(tmp_path: Path, workflow: str, files: dict[str, str] | None = None) -> Path:
    """A git repository holding a corpus workflow and a committed README."""
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(CORPUS / workflow, repo / ".github" / "workflows" / workflow)
    (repo / "README").write_text("readme\n")
    for name, text in (files or {}).items():
        (repo / name).write_text(text)
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "init"]):
        subprocess.run(
            ["git", "-c", "user.email=t@t", "-c", "user.name=t", "-C", str(repo), *args],
            check=True,
            capture_output=True,
        )
    return repo


def ansflow(
    tmp_path: Path, *args: str, home: Path | None = None, **extra: str
) -> subprocess.CompletedProcess[str]:
    """`ansflow ARGS` on the store `tmp_path/cli.sqlite`, from the repository folder."""
    env = {**os.environ, "ANSFLOW_DB_URL": f"sqlite:///{tmp_path / 'cli.sqlite'}", **extra}
    if home is not None:
        env["HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "ansflow_jupyter.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        cwd=tmp_path / "repo",
    )


def run(tmp_path: Path, workflow: str, *args: str, home: Path | None = None, **extra: str) -> str:
    flow = f".github/workflows/{workflow}"
    done = ansflow(tmp_path, "run", "--plain", *args, flow, home=home, **extra)
    return done.stdout + done.stderr


def lines_of(output: str, job: str) -> list[str]:
    return [line.split(" | ", 1)[1] for line in output.splitlines() if line.startswith(f"{job} | ")]


@pytest.mark.parametrize("backend", ["local", "dask"])
def test_artifacts_go_from_one_job_to_the_jobs_that_need_it(tmp_path: Path, backend: str) -> None:
    repository(tmp_path, "artifacts.yml")
    output = run(tmp_path, "artifacts.yml", "--backend", backend)
    assert "✖ missing failed" in output and "✔ use success" in output, output
    files = [line.removeprefix("file: ") for line in lines_of(output, "use") if "file: " in line]
    assert files == [
        "all/artifact/pkg-1.0-py3-none-any.whl",  # dist minus *.gz minus dist/sub
        "all/dist/pkg-1.0-py3-none-any.whl",  # a folder: its root is the folder itself
        "all/dist/pkg-1.0.tar.gz",
        "all/dist/sub/inner.txt",  # dist/.hidden left out (v4)
        "all/dist/sub/skip.log",
        "all/leg-1/leg-1.txt",  # one artifact per matrix leg
        "all/leg-2/leg-2.txt",
        "all/mixed/dist/sub/inner.txt",  # two search paths: their common folder is the root
        "all/mixed/out/report.txt",  # skip.log excluded by `!`
        "all/single/report.txt",  # one file without a wildcard: no folders
        "all/with-hidden/.hidden",  # include-hidden-files
        "by-id/report.txt",  # artifact-ids: one artifact goes straight into `path`
        "got/dist/pkg-1.0-py3-none-any.whl",  # by name: straight into `path`
        "got/dist/pkg-1.0.tar.gz",
        "got/dist/sub/inner.txt",
        "got/dist/sub/skip.log",
        "legs/leg-1.txt",  # pattern + merge-multiple
        "legs/leg-2.txt",
    ]
    assert "download-path WS/got/dist" in lines_of(output, "use")
    assert lines_of(output, "use")[-3:] == ["leg 1", "leg 2", "nested"]
    assert "through use report" in lines_of(output, "final")  # an upstream job's artifact
    wrong = lines_of(output, "wrong-name")
    assert "Unable to download artifact(s): Artifact not found for name: nope" in wrong
    assert (
        "Artifacts of the jobs this one needs: artifact, dist, mixed, single, with-hidden" in wrong
    )
    missing = lines_of(output, "missing")
    assert "warned and went on" in missing and "should not run" not in missing
    warning = "No files were found with the provided path: no/such/*.whl."
    assert sum(line.startswith(warning) for line in missing) == 2
    listed = ansflow(tmp_path, "list").stdout.splitlines()[1].split()[0]
    table = ansflow(tmp_path, "artifacts", listed).stdout
    assert "build      mixed/out/report.txt" in table
    assert "legs[n=2]  leg-2/leg-2.txt" in table


@pytest.mark.parametrize("backend", ["local", "dask"])
def test_cache_misses_then_hits_and_falls_back_to_restore_keys(
    tmp_path: Path, backend: str
) -> None:
    repo = repository(tmp_path, "cache.yml", {"requirements.txt": "a\n"})
    home = tmp_path / "home"
    home.mkdir()

    def run_cached() -> list[str]:
        return lines_of(run(tmp_path, "cache.yml", "--backend", backend, home=home), "cached")

    first = run_cached()
    assert "hit=[false] matched=[false]" in first and "built" in first
    assert any(line.startswith("Cache saved with key: deps-") for line in first)
    shutil.rmtree(home / ".ansflow-test-home-cache")  # restored from the cache next time
    second = run_cached()
    assert "hit=[true] matched=[true]" in second
    assert "restored: a a" in second and "tool runs" in second  # modes kept
    assert "lookup hit=[false] found=[true]" in second  # restore-keys, lookup-only
    assert not any(line.startswith("Cache saved") for line in second)  # an exact hit
    (repo / "requirements.txt").write_text("b\n")  # a new key: restore-keys fall back
    third = run_cached()
    assert "hit=[false] matched=[true]" in third and "restored: a a" in third
    assert any(line.startswith("Cache saved with key: deps-") for line in third)
    fourth = run_cached()
    assert "hit=[true] matched=[true]" in fourth
    listed = ansflow(tmp_path, "cache", "list").stdout
    assert listed.count(str(repo)) == 2  # two entries of this repository


def test_cache_entries_are_evicted_beyond_cache_max_bytes(tmp_path: Path) -> None:
    repo = repository(tmp_path, "cache.yml", {"requirements.txt": "a\n"})
    home = tmp_path / "home"
    home.mkdir()
    small = {"ANSFLOW_CACHE_MAX_BYTES": "15000"}  # one 10 KiB archive fits, two do not
    assert "built" in lines_of(run(tmp_path, "cache.yml", home=home, **small), "cached")
    (repo / "requirements.txt").write_text("b\n")
    run(tmp_path, "cache.yml", home=home, **small)
    entries = ansflow(tmp_path, "cache", "list").stdout
    assert entries.count(str(repo)) == 1  # the older entry was evicted
    (repo / "requirements.txt").write_text("c\n")
    tiny = lines_of(run(tmp_path, "cache.yml", home=home, ANSFLOW_CACHE_MAX_BYTES="5000"), "cached")
    assert "Cache of 10240 bytes exceeds cache_max_bytes: not saved" in tiny
    (repo / "requirements.txt").write_text("b\n")
    shutil.rmtree(tmp_path / "artifacts")  # the entry's archive is gone: a warning, a miss
    output = run(tmp_path, "cache.yml", home=home)
    assert "✔ success" in output
    assert any(line.startswith("Failed to restore: ") for line in lines_of(output, "cached"))


def test_checkout_path_puts_the_tree_in_a_folder_of_the_workspace(tmp_path: Path) -> None:
    repo = repository(tmp_path, "checkout.yml")
    (repo / "extra.txt").write_text("uncommitted\n")
    lines = lines_of(run(tmp_path, "checkout.yml"), "nested")
    assert "copy: readme 1 commit(s)" in lines
    assert "extra: uncommitted" in lines
    assert "fetch-depth 0: the workspace shares the repository's whole history" in lines
    assert "cannot check out someone/elsewhere locally (only this repository's tree)" in lines
    worktrees = subprocess.run(
        ["git", "-C", str(repo), "worktree", "list"], capture_output=True, text=True
    ).stdout
    assert len(worktrees.splitlines()) == 1  # both copies removed with the job


@pytest.mark.parametrize("backend", ["local", "dask"])
def test_background_processes_end_with_their_job_only(tmp_path: Path, backend: str) -> None:
    repository(tmp_path, "background.yml")
    mark = tmp_path / "mark"
    mark.mkdir()
    output = run(tmp_path, "background.yml", "--backend", backend, "--env", f"MARK={mark}")
    assert "server | started" in output, output
    after = [line for line in lines_of(output, "after") if line.startswith(("gone", "still"))]
    assert len(after) >= 2 and all(line.startswith("gone: ") for line in after), output
    assert "other still has its own" in lines_of(output, "other")


def test_a_job_runner_killed_outright_leaves_no_workspace_or_temp(tmp_path: Path) -> None:
    # httpx's fail-fast-cancelled leg was SIGKILLed mid-cleanup: 196 MB of runner.temp
    # (its virtualenv) and the workspace folder stayed behind in /tmp.
    repo = repository(tmp_path, "leftovers.yml")
    output = run(tmp_path, "leftovers.yml")
    assert "✖ killed failed" in output, output
    lines = lines_of(output, "killed")
    temp = Path(next(x for x in lines if x.startswith("temp=")).removeprefix("temp="))
    ws = Path(next(x for x in lines if x.startswith("ws=")).removeprefix("ws="))
    assert not temp.exists() and not ws.exists() and not ws.parent.exists()
    worktrees = subprocess.run(
        ["git", "-C", str(repo), "worktree", "list"], capture_output=True, text=True
    ).stdout
    assert len(worktrees.strip().splitlines()) == 1


def test_install_poetry_puts_poetry_on_path_and_configures_it_in_the_environment(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    repository(tmp_path, "poetry.yml")
    output = run(tmp_path, "poetry.yml", home=home)
    assert "✔ poetry success" in output, output
    lines = lines_of(output, "poetry")
    assert "VENV=.venv/bin/activate in-project=true create=true" in lines
    assert "Poetry (version 1.8.3)" in lines
    python = next(x for x in lines if x.startswith("python=")).removeprefix("python=")
    assert "/poetry/" not in python  # only `poetry` goes on PATH, not its interpreter
    assert not (home / ".config" / "pypoetry").exists()  # no `poetry config` of the user's


PRE_COMMIT_CONFIG = """
repos:
  - repo: local
    hooks:
      - id: no-todo
        name: no TODO left
        language: system
        entry: bash -c '! grep -Hn TODO "$@"' --
"""


def test_pre_commit_action_runs_the_hooks_on_the_repository_files(tmp_path: Path) -> None:
    files = {".pre-commit-config.yaml": PRE_COMMIT_CONFIG, "notes.txt": "TODO: tests\n"}
    repository(tmp_path, "precommit.yml", files)
    output = run(tmp_path, "precommit.yml")
    assert "✔ lint success" in output, output
    lines = lines_of(output, "lint")
    assert "Run pre-commit run --show-diff-on-failure --color=always --all-files" in lines
    assert any("notes.txt:1:TODO: tests" in line for line in lines)  # --all-files
    assert "all=failure" in lines  # the hook failed the first step
