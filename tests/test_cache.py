"""The step cache end to end: real processes, a real SQLite store, real files."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from test_artifacts import run, steps, with_manager

from ansflow_jupyter.service import ExecutionManager

# `runs.log` lives outside the inputs: it counts how often the step really ran.
CACHED = """\
name: cached
steps:
  build:
    run: |
      echo ran >> ../runs.log
      mkdir -p dist && cat src/app.py > dist/app.txt
    working-directory: proj
    artifacts: [dist/]
    cache: {inputs: [src/**]}
  use:
    needs: build
    run: cat "$ANSFLOW_ARTIFACTS/build/dist/app.txt"
"""


def project(tmp_path: Path) -> Path:
    proj = tmp_path / "proj"
    (proj / "src").mkdir(parents=True)
    (proj / "src" / "app.py").write_text("print('v1')\n")
    (proj / "src" / "util.py").write_text("X = 1\n")
    return proj


def runs(tmp_path: Path) -> int:
    log = tmp_path / "runs.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_a_hit_skips_the_step_and_restores_its_artifacts(tmp_path: Path) -> None:
    proj = project(tmp_path)

    async def body(manager: ExecutionManager) -> None:
        first = await run(manager, CACHED, tmp_path)
        build = steps(first)["build"]
        assert (build["status"], build["reason"], build["cache_miss"]) == (
            "success",
            "exit",
            "no entry",
        )
        (proj / "dist" / "app.txt").unlink()
        second = await run(manager, CACHED, tmp_path)
        build = steps(second)["build"]
        assert (build["status"], build["reason"]) == ("success", "cached")
        assert build["cached_from"] == first.execution_id
        assert build["artifacts"] == {"count": 1, "bytes": 12}
        assert runs(tmp_path) == 1  # the step did not run again
        assert (proj / "dist" / "app.txt").read_text() == "print('v1')\n"  # written back
        assert steps(second)["use"]["status"] == "success"  # dependents see the files
        listed = await manager.artifacts(second.execution_id)
        assert [(a["step_id"], a["path"]) for a in listed] == [("build", "dist/app.txt")]
        # The cache fields survive in the store (what views and `ansflow show` read).
        stored = steps(await manager.snapshot(second.execution_id))["build"]
        assert stored["cached_from"] == first.execution_id

    with_manager(tmp_path, body)


def test_a_miss_says_what_changed(tmp_path: Path) -> None:
    proj = project(tmp_path)

    async def body(manager: ExecutionManager) -> None:
        await run(manager, CACHED, tmp_path)
        (proj / "src" / "app.py").write_text("print('v2')\n")
        snap = await run(manager, CACHED, tmp_path)
        build = steps(snap)["build"]
        assert (build["reason"], build["cache_miss"]) == ("exit", "inputs changed: src/app.py")
        (proj / "src" / "new.py").write_text("")
        snap = await run(manager, CACHED.replace("echo ran", "echo ran "), tmp_path)
        assert steps(snap)["build"]["cache_miss"] == "inputs changed: src/new.py"
        snap = await run(manager, CACHED.replace("echo ran", "echo  ran"), tmp_path)
        assert steps(snap)["build"]["cache_miss"] == "command changed"
        assert runs(tmp_path) == 4

    with_manager(tmp_path, body)


def test_touching_a_file_without_changing_it_still_hits(tmp_path: Path) -> None:
    proj = project(tmp_path)

    async def body(manager: ExecutionManager) -> None:
        await run(manager, CACHED, tmp_path)
        os.utime(proj / "src" / "app.py", (1, 1))  # a new mtime: the content is read again
        snap = await run(manager, CACHED, tmp_path)
        assert steps(snap)["build"]["reason"] == "cached"
        assert runs(tmp_path) == 1

    with_manager(tmp_path, body)


def test_env_and_needs_artifacts_are_part_of_the_key(tmp_path: Path) -> None:
    pipeline = """\
    name: chain
    env: {MODE: "a"}
    steps:
      make: {run: "echo $MODE > m.txt", artifacts: [m.txt]}
      eat:
        needs: make
        run: echo ate >> runs.log
        cache: {inputs: [none*], key: v1}
    """

    async def body(manager: ExecutionManager) -> None:
        await run(manager, pipeline, tmp_path)
        assert steps(await run(manager, pipeline, tmp_path))["eat"]["reason"] == "cached"
        # The need made other bytes: its artifact hash changed.
        snap = await run(manager, pipeline, tmp_path, env={"MODE": "b"})
        assert steps(snap)["eat"]["cache_miss"] == "env, needs changed"
        snap = await run(
            manager, pipeline.replace("key: v1", "key: v2"), tmp_path, env={"MODE": "b"}
        )
        assert steps(snap)["eat"]["cache_miss"] == "key changed"

    with_manager(tmp_path, body)


def test_force_bypasses_the_cache(tmp_path: Path) -> None:
    project(tmp_path)

    async def body(manager: ExecutionManager) -> None:
        await run(manager, CACHED, tmp_path)
        snap = await run(manager, CACHED, tmp_path, force=True)
        assert (steps(snap)["build"]["reason"], steps(snap)["build"]["cache_miss"]) == (
            "exit",
            "forced",
        )
        snap = await run(manager, CACHED, tmp_path, force=["build"])
        assert steps(snap)["build"]["cache_miss"] == "forced"
        snap = await run(manager, CACHED, tmp_path, force=["use"])
        assert steps(snap)["build"]["reason"] == "cached"
        assert runs(tmp_path) == 3

    with_manager(tmp_path, body)


def test_a_failed_step_writes_no_entry(tmp_path: Path) -> None:
    pipeline = """\
    name: failing
    steps:
      f: {run: "echo x >> runs.log; exit 1", cache: {inputs: [none*]}}
    """

    async def body(manager: ExecutionManager) -> None:
        await run(manager, pipeline, tmp_path)
        snap = await run(manager, pipeline, tmp_path)
        assert (steps(snap)["f"]["status"], steps(snap)["f"]["cache_miss"]) == (
            "failed",
            "no entry",
        )
        assert await manager.cache_entries() == []

    with_manager(tmp_path, body)


def _git(cwd: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
    }
    env["GIT_COMMITTER_EMAIL"] = "t@t"
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=env)


def test_cache_true_hashes_the_git_tracked_files(tmp_path: Path) -> None:
    proj = project(tmp_path)
    _git(proj, "init", "-q")
    _git(proj, "add", "src/app.py")
    pipeline = CACHED.replace("cache: {inputs: [src/**]}", "cache: true")

    async def body(manager: ExecutionManager) -> None:
        await run(manager, pipeline, tmp_path)
        (proj / "src" / "util.py").write_text("X = 2\n")  # not tracked: no effect
        assert steps(await run(manager, pipeline, tmp_path))["build"]["reason"] == "cached"
        (proj / "src" / "app.py").write_text("print('v3')\n")
        snap = await run(manager, pipeline, tmp_path)
        assert steps(snap)["build"]["cache_miss"] == "inputs changed: src/app.py"

    with_manager(tmp_path, body)


def test_cache_true_outside_git_runs_and_says_why(tmp_path: Path) -> None:
    project(tmp_path)
    pipeline = CACHED.replace("cache: {inputs: [src/**]}", "cache: true")
    env = {"GIT_CEILING_DIRECTORIES": str(tmp_path)}  # never find a repository above

    async def body(manager: ExecutionManager) -> None:
        old = os.environ.get("GIT_CEILING_DIRECTORIES")
        os.environ.update(env)
        try:
            snap = await run(manager, pipeline, tmp_path)
        finally:
            if old is None:
                os.environ.pop("GIT_CEILING_DIRECTORIES")
            else:
                os.environ["GIT_CEILING_DIRECTORIES"] = old
        build = steps(snap)["build"]
        assert build["status"] == "success"
        assert build["cache_miss"] == (
            "cache: true needs a git work tree (list the files with cache.inputs)"
        )

    with_manager(tmp_path, body)


def test_entries_keep_their_blobs_and_the_oldest_are_evicted(tmp_path: Path) -> None:
    proj = project(tmp_path)

    async def body(manager: ExecutionManager) -> None:
        first = await run(manager, CACHED, tmp_path)
        await manager.delete(first.execution_id)
        assert manager.data.collect_garbage(now=2**40) == 0  # the cache entry holds it
        (proj / "dist" / "app.txt").unlink()
        snap = await run(manager, CACHED, tmp_path)
        assert steps(snap)["build"]["reason"] == "cached"
        assert (proj / "dist" / "app.txt").exists()
        # A limit below two entries' bytes keeps only the most recently used one.
        manager.data.cache_max_bytes = 20
        (proj / "src" / "app.py").write_text("print('v2')\n")
        await run(manager, CACHED, tmp_path)
        entries: list[dict[str, Any]] = await manager.cache_entries()
        assert len(entries) == 1
        assert await manager.clear_cache() == 1
        assert await manager.cache_entries() == []

    with_manager(tmp_path, body)


def test_input_patterns_match_like_glob(tmp_path: Path) -> None:
    from ansflow_jupyter.engine.cache import input_files
    from ansflow_jupyter.pipeline.spec import CacheSpec

    for name in ("src/x.py", "src/a/y.py", "src/a/b/z.txt", "src/.hid/h.py", "top.toml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    cases = {
        "src/**": ["src/a/b/z.txt", "src/a/y.py", "src/x.py"],  # hidden only when named
        "src": ["src/a/b/z.txt", "src/a/y.py", "src/x.py"],
        "src/**/*.py": ["src/a/y.py", "src/x.py"],
        "src/*.py": ["src/x.py"],
        "*.toml": ["top.toml"],
        "src/.hid/*": ["src/.hid/h.py"],
        "s?c/[ax]*": ["src/x.py"],
        "missing/**": [],
    }
    for pattern, expected in cases.items():
        assert list(input_files(str(tmp_path), CacheSpec((pattern,)))) == expected, pattern


def test_the_example_pipeline_is_cached_on_its_second_run(tmp_path: Path) -> None:
    example = Path(__file__).parents[1] / "notebooks" / "pipelines" / "artifacts-cache.yml"
    (tmp_path / example.name).write_text(example.read_text())
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", example.name)

    async def body(manager: ExecutionManager) -> None:
        first = await run(manager, example.read_text(), tmp_path)
        assert {s["status"] for s in first.data["steps"]} == {"success"}
        second = await run(manager, example.read_text(), tmp_path)
        by_id = steps(second)
        assert (by_id["build"]["reason"], by_id["test"]["reason"]) == ("cached", "cached")
        assert by_id["report"]["status"] == "success"
        paths = [a["path"] for a in await manager.artifacts(second.execution_id)]
        assert "report/timings.svg" in paths and "dist/demo_app-1.0-py3-none-any.whl" in paths

    with_manager(tmp_path, body)


def test_secret_values_are_hashed_never_stored(tmp_path: Path) -> None:
    pipeline = """\
    name: secret
    secrets: [TOKEN]
    steps:
      s: {run: "echo $TOKEN", cache: {inputs: [none*]}}
    """
    secret = "s3cr3t-value-xyz"

    async def body(manager: ExecutionManager) -> None:
        await run(manager, pipeline, tmp_path, env={"TOKEN": secret})
        hit = await run(manager, pipeline, tmp_path, env={"TOKEN": secret})
        assert steps(hit)["s"]["reason"] == "cached"
        other = await run(manager, pipeline, tmp_path, env={"TOKEN": "another"})
        assert steps(other)["s"]["cache_miss"] == "env changed"  # part of the key...
        with manager.data.store._read() as conn:  # ...but never in the cache's rows
            rows = conn.exec_driver_sql("SELECT * FROM cache_entries").all()
        assert rows and not any(secret in str(row) for row in rows)

    with_manager(tmp_path, body)
