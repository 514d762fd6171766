"""Artifacts end to end: real step processes, a real SQLite store, a real blob folder."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ansflow_jupyter.events import Event
from ansflow_jupyter.pipeline import load_pipeline
from ansflow_jupyter.service import ExecutionManager
from ansflow_jupyter.store import Store


def with_manager(
    tmp_path: Path, body: Callable[[ExecutionManager], Awaitable[Any]], **options: Any
) -> Any:
    async def main() -> Any:
        store = Store(f"sqlite:///{tmp_path / 'db' / 'store.sqlite'}")
        manager = ExecutionManager(store, **options)
        await manager.start_up()
        try:
            return await body(manager)
        finally:
            await manager.shutdown()

    return asyncio.run(main())


async def run(manager: ExecutionManager, text: str, base: Path, **kw: Any) -> Event:
    spec = load_pipeline(textwrap.dedent(text), base_dir=base)
    info = await manager.start(spec, **kw)
    await manager.wait(info["execution_id"])
    return await manager.snapshot(info["execution_id"])


def steps(snapshot: Event) -> dict[str, dict[str, Any]]:
    return {s["step_id"]: s for s in snapshot.data["steps"]}


async def log_text(manager: ExecutionManager, execution_id: str, step: str) -> str:
    return "\n".join(line["line"] for line in await manager.logs(execution_id, step=step))


BUILD = """\
name: build-and-use
steps:
  build:
    run: |
      mkdir -p dist reports
      echo wheel > dist/app-1.0.whl
      echo '<html>' > reports/index.html
      echo '{"a": 1}' > reports/data.json
    artifacts: [dist/*.whl, reports/]
  check:
    needs: build
    run: |
      cat "$ANSFLOW_ARTIFACTS/build/dist/app-1.0.whl"
      ls "$ANSFLOW_ARTIFACTS/build/reports"
      stat -c 'mode %a' "$ANSFLOW_ARTIFACTS/build/dist/app-1.0.whl"
      echo changed > "$ANSFLOW_ARTIFACTS/build/dist/app-1.0.whl" || true
"""


def test_artifacts_are_collected_listed_and_read_by_dependents(tmp_path: Path) -> None:
    async def body(manager: ExecutionManager) -> None:
        snap = await run(manager, BUILD, tmp_path)
        by_id = steps(snap)
        assert by_id["build"]["status"] == "success"
        assert by_id["build"]["artifacts"] == {"count": 3, "bytes": 6 + 7 + 9}
        listed = await manager.artifacts(snap.execution_id)
        assert [(a["step_id"], a["path"], a["media_type"]) for a in listed] == [
            ("build", "dist/app-1.0.whl", "application/zip"),
            ("build", "reports/data.json", "application/json"),
            ("build", "reports/index.html", "text/html"),
        ]
        assert by_id["check"]["status"] == "success"
        text = await log_text(manager, snap.execution_id, "check")
        assert "wheel" in text and "data.json" in text and "index.html" in text
        assert "mode 444" in text  # read-only files...
        blob = manager.data.blobs.open(listed[0]["sha256"])
        with blob:  # ...and even a writer running as root changes only its own copy
            assert blob.read() == b"wheel\n"

    with_manager(tmp_path, body)


def test_the_same_content_is_stored_once(tmp_path: Path) -> None:
    pipeline = """\
    name: same
    steps:
      a: {run: "echo same > f.txt", artifacts: [f.txt]}
    """

    async def body(manager: ExecutionManager) -> None:
        for _ in range(3):
            snap = await run(manager, pipeline, tmp_path)
            assert steps(snap)["a"]["status"] == "success"
        blobs = list(manager.data.blobs.blobs())
        assert len(blobs) == 1

    with_manager(tmp_path, body)


def test_matrix_legs_appear_under_their_values(tmp_path: Path) -> None:
    pipeline = """\
    name: legs
    steps:
      build:
        matrix: {py: ["3.11", "3.12"], os: [linux]}
        run: echo ${{ matrix.py }} > out.txt
        working-directory: w-${{ matrix.py }}
        artifacts: [out.txt]
      use:
        needs: build
        run: |
          cd "$ANSFLOW_ARTIFACTS/build"
          cat py=3.11,os=linux/out.txt py=3.12,os=linux/out.txt
    """
    (tmp_path / "w-3.11").mkdir()
    (tmp_path / "w-3.12").mkdir()

    async def body(manager: ExecutionManager) -> None:
        snap = await run(manager, pipeline, tmp_path)
        assert steps(snap)["use"]["status"] == "success"
        text = await log_text(manager, snap.execution_id, "use")
        assert text.split("\n") == ["3.11", "3.12"]

    with_manager(tmp_path, body)


def test_artifacts_of_a_failed_step_are_kept(tmp_path: Path) -> None:
    pipeline = """\
    name: failing
    steps:
      a: {run: "echo partial > log.txt; exit 3", artifacts: [log.txt]}
    """

    async def body(manager: ExecutionManager) -> None:
        snap = await run(manager, pipeline, tmp_path)
        a = steps(snap)["a"]
        assert (a["status"], a["reason"], a["exit_code"]) == ("failed", "exit", 3)
        assert [x["path"] for x in await manager.artifacts(snap.execution_id)] == ["log.txt"]

    with_manager(tmp_path, body)


def test_a_glob_matching_nothing_is_a_warning_unless_if_no_files_error(tmp_path: Path) -> None:
    pipeline = """\
    name: empty
    steps:
      warn: {run: "true", artifacts: [missing/*.txt]}
      error: {run: "true", artifacts: {paths: [missing/*.txt], if-no-files: error}}
      ignore: {run: "true", artifacts: {paths: [missing/*.txt], if-no-files: ignore}}
    """

    async def body(manager: ExecutionManager) -> None:
        snap = await run(manager, pipeline, tmp_path)
        by_id = steps(snap)
        assert by_id["warn"]["status"] == "success"
        warn = await log_text(manager, snap.execution_id, "warn")
        assert "warning: artifacts: no files match 'missing/*.txt'" in warn
        assert (by_id["error"]["status"], by_id["error"]["reason"]) == ("failed", "output-error")
        assert by_id["error"]["message"] == "artifacts: no files match 'missing/*.txt'"
        assert by_id["ignore"]["status"] == "success"
        assert await log_text(manager, snap.execution_id, "ignore") == ""

    with_manager(tmp_path, body)


def test_a_symlink_out_of_the_working_directory_fails_the_step(tmp_path: Path) -> None:
    secret = tmp_path / "outside.txt"
    secret.write_text("secret")
    work = tmp_path / "work"
    work.mkdir()
    pipeline = f"""\
    name: escape
    steps:
      link: {{run: "ln -sf {secret} out.txt", artifacts: [out.txt], working-directory: work}}
      dirlink:
        run: mkdir -p d && ln -sfn {tmp_path} d/up
        artifacts: [d]
        working-directory: work
    """

    async def body(manager: ExecutionManager) -> None:
        snap = await run(manager, pipeline, tmp_path)
        for sid in ("link", "dirlink"):
            step = steps(snap)[sid]
            assert (step["status"], step["reason"]) == ("failed", "output-error"), sid
            assert "leaves the working directory" in step["message"]
        assert await manager.artifacts(snap.execution_id) == []

    with_manager(tmp_path, body)


def test_paths_leaving_the_working_directory_are_load_errors(tmp_path: Path) -> None:
    from ansflow_jupyter.pipeline import validate

    issues = validate("name: x\nsteps:\n  a: {run: 'true', artifacts: [../up.txt, /etc/passwd]}\n")
    hint = "leaves the working directory (use a relative path)"
    assert [(i.path, i.message) for i in issues] == [
        ("steps.a.artifacts[0]", f"'../up.txt' {hint}"),
        ("steps.a.artifacts[1]", f"'/etc/passwd' {hint}"),
    ]


def test_artifact_max_bytes_fails_the_step_with_a_clear_reason(tmp_path: Path) -> None:
    pipeline = """\
    name: big
    steps:
      small: {run: "head -c 600 /dev/zero > s.bin", artifacts: [s.bin]}
      big: {needs: small, run: "head -c 600 /dev/zero > b.bin", artifacts: [b.bin]}
    """

    async def body(manager: ExecutionManager) -> None:
        snap = await run(manager, pipeline, tmp_path)
        by_id = steps(snap)
        assert by_id["small"]["status"] == "success"
        big = by_id["big"]
        assert (big["status"], big["reason"]) == ("failed", "output-error")
        assert big["message"] == (
            "artifacts: 600 B would exceed artifact_max_bytes (1.0 KiB per execution, 600 B used)"
        )
        assert [a["step_id"] for a in await manager.artifacts(snap.execution_id)] == ["small"]

    with_manager(tmp_path, body, artifact_max_bytes=1024)


def test_an_unwritable_store_fails_the_step_not_the_executor(tmp_path: Path) -> None:
    blocked = tmp_path / "store-is-a-file"
    blocked.write_text("not a folder")
    pipeline = """\
    name: unwritable
    steps:
      a: {run: "echo x > f.txt", artifacts: [f.txt]}
      b: {run: "echo fine"}
    """

    async def body(manager: ExecutionManager) -> None:
        snap = await run(manager, pipeline, tmp_path)
        a, b = steps(snap)["a"], steps(snap)["b"]
        assert (a["status"], a["reason"]) == ("failed", "output-error")
        assert a["message"].startswith(f"artifact store {blocked}: cannot write:")
        assert b["status"] == "success"
        assert snap.data["execution"]["status"] == "failed"

    with_manager(tmp_path, body, artifact_url=str(blocked))


def test_two_steps_with_the_same_path_are_kept_apart(tmp_path: Path) -> None:
    pipeline = """\
    name: same-path
    steps:
      a: {run: "echo from-a > out.txt", artifacts: [out.txt]}
      b: {needs: a, run: "echo from-b > out.txt", artifacts: [out.txt]}
      c: {needs: [a, b], run: 'cat "$ANSFLOW_ARTIFACTS/a/out.txt" "$ANSFLOW_ARTIFACTS/b/out.txt"'}
    """

    async def body(manager: ExecutionManager) -> None:
        snap = await run(manager, pipeline, tmp_path)
        listed = await manager.artifacts(snap.execution_id)
        assert [(a["step_id"], a["path"]) for a in listed] == [("a", "out.txt"), ("b", "out.txt")]
        assert listed[0]["sha256"] != listed[1]["sha256"]
        assert (await log_text(manager, snap.execution_id, "c")).split("\n") == [
            "from-a",
            "from-b",
        ]

    with_manager(tmp_path, body)


def test_retention_removes_unreferenced_blobs_only(tmp_path: Path) -> None:
    pipeline = """\
    name: keep
    steps:
      a: {run: "echo $RANDOM$RANDOM > f.txt", artifacts: [f.txt]}
    """

    async def body(manager: ExecutionManager) -> None:
        first = await run(manager, pipeline, tmp_path)
        second = await run(manager, pipeline, tmp_path)
        assert len(list(manager.data.blobs.blobs())) == 2
        await manager.delete(first.execution_id)
        removed = manager.data.collect_garbage(now=2**40)  # far future: past the grace period
        assert removed == 1
        kept = await manager.artifacts(second.execution_id)
        assert [b for b, _ in manager.data.blobs.blobs()] == [kept[0]["sha256"]]

    with_manager(tmp_path, body)


def test_default_store_is_beside_the_sqlite_file(tmp_path: Path) -> None:
    async def body(manager: ExecutionManager) -> None:
        await run(manager, "name: d\nsteps:\n  a: {run: 'echo 1 > x', artifacts: [x]}\n", tmp_path)
        blobs = tmp_path / "db" / "artifacts" / "blobs"
        assert [p.name for p in blobs.iterdir()]

    with_manager(tmp_path, body)


def test_settings_from_the_environment(tmp_path: Path) -> None:
    from ansflow_jupyter.settings import Settings

    settings = Settings.load(
        {
            "ANSFLOW_DB_URL": f"sqlite:///{tmp_path / 's.sqlite'}",
            "ANSFLOW_ARTIFACT_URL": f"file://{tmp_path / 'elsewhere'}",
            "ANSFLOW_ARTIFACT_MAX_BYTES": "1234",
            "ANSFLOW_CACHE_MAX_BYTES": "99",
        }
    )
    manager = settings.make_manager()
    try:
        assert manager.data.blobs.location == f"file://{tmp_path / 'elsewhere'}"
        assert manager.data.blobs.local
        assert (manager.artifact_max_bytes, manager.data.cache_max_bytes) == (1234, 99)
    finally:
        manager.store.close()


def test_a_reused_step_keeps_its_artifacts_for_a_rerun(tmp_path: Path) -> None:
    flag = tmp_path / "fixed"
    pipeline = f"""\
    name: rerun
    steps:
      build: {{run: "echo built > out.txt", artifacts: [out.txt]}}
      check:
        needs: build
        run: test -e {flag} && cat "$ANSFLOW_ARTIFACTS/build/out.txt"
    """

    async def body(manager: ExecutionManager) -> None:
        first = await run(manager, pipeline, tmp_path)
        assert steps(first)["check"]["status"] == "failed"
        flag.touch()
        info = await manager.rerun(first.execution_id, failed_only=True, base_dir=tmp_path)
        await manager.wait(info["execution_id"])
        second = await manager.snapshot(info["execution_id"])
        assert steps(second)["build"]["reason"] == "reused"
        assert steps(second)["check"]["status"] == "success"
        assert await log_text(manager, second.execution_id, "check") == "built"
        listed = await manager.artifacts(second.execution_id)
        assert [(a["step_id"], a["path"]) for a in listed] == [("build", "out.txt")]

    with_manager(tmp_path, body)


def test_a_local_store_with_workers_on_other_hosts_is_refused(tmp_path: Path) -> None:
    from distributed import Client, Scheduler, Worker

    from ansflow_jupyter.engine.backends.dask import DaskBackend
    from ansflow_jupyter.errors import BadRequest

    async def main() -> str:
        # A worker listening on 127.0.0.2 stands for another machine: its host is not ours.
        scheduler = await Scheduler(host="127.0.0.2", port=0, dashboard_address=None)
        worker = await Worker(scheduler.address, host="127.0.0.2")
        client = await Client(scheduler.address, asynchronous=True)  # type: ignore[no-untyped-call]
        manager = ExecutionManager(
            Store(f"sqlite:///{tmp_path / 's.sqlite'}"), DaskBackend(client=client)
        )
        try:
            plain = load_pipeline("name: p\nsteps:\n  a: {run: 'true'}\n", base_dir=tmp_path)
            await manager.start(plain)  # without artifacts nothing travels: fine
            spec = load_pipeline(
                "name: p\nsteps:\n  a: {run: 'true', artifacts: [x]}\n", base_dir=tmp_path
            )
            try:
                await manager.start(spec)
            except BadRequest as exc:
                return str(exc)
            return "started"
        finally:
            await manager.shutdown()
            await client.close()
            await worker.close()
            await scheduler.close()

    message = asyncio.run(asyncio.wait_for(main(), 60))
    assert message.startswith(f"artifact store {tmp_path / 'artifacts'} is a local folder, but")
    assert "workers run on other hosts (127.0.0.2)" in message


def test_a_notebook_step_keeps_its_executed_notebook(tmp_path: Path) -> None:
    import nbformat

    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("print('from the notebook')")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )
    nbformat.write(notebook, tmp_path / "report.ipynb")

    async def body(manager: ExecutionManager) -> tuple[Event, list[dict[str, Any]]]:
        text = "name: nb\nsteps:\n  report: {notebook: report.ipynb}\n"
        snapshot = await run(manager, text, tmp_path)
        return snapshot, await manager.artifacts(snapshot.execution_id)

    snapshot, listed = with_manager(tmp_path, body)
    assert steps(snapshot)["report"]["status"] == "success"
    assert [a["path"] for a in listed] == [".ansflow/report.ipynb"]
    assert steps(snapshot)["report"]["artifacts"]["count"] == 1
