"""Stores written by older releases (real files made by their own `ansflow run`, see
old_stores/README.md) open with this version: upgraded in place and additively, every
recorded run listed, shown, its logs readable and its failed steps re-runnable."""

from __future__ import annotations

import gzip
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cli_process import ansflow
from sqlalchemy import text

from ansflow_jupyter.store import SCHEMA_VERSION, Owner, Store

OLD = Path(__file__).parent / "old_stores"
RUNS = {"ok": "success", "fail": "failed", "mx": "success", "slow": "cancelled"}
LOGS = {
    "ok": ["a | hello from a", "a | second line", "b | b done"],
    "fail": ["good | good step", "bad | about to fail"],
    "mx": ["test[py=3.11] | testing 3.11", "test[py=3.12] | testing 3.12", "pkg | packaging"],
    "slow": ["s | start slow"],
}


@pytest.fixture(params=["v2-56d0c97", "v3-1af30c9"])
def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """The old store, unpacked as the CLI's store of `tmp_path` (cli.sqlite)."""
    path = tmp_path / "cli.sqlite"
    path.write_bytes(gzip.decompress((OLD / f"{request.param}.sqlite.gz").read_bytes()))
    return path


def _dump(path: Path) -> dict[str, list[dict[str, Any]]]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {
            n: [dict(r) for r in conn.execute(f'SELECT * FROM "{n}" ORDER BY rowid')] for n in names
        }
    finally:
        conn.close()


def test_an_old_store_is_upgraded_in_place_keeping_every_row(old_store: Path) -> None:
    before = _dump(old_store)
    Store(f"sqlite:///{old_store}").close()
    after = _dump(old_store)
    assert after["ansflow_meta"] == [{"key": "schema_version", "value": str(SCHEMA_VERSION)}]
    for table, rows in before.items():
        if table == "ansflow_meta":
            continue
        # Additive: the same rows, the old columns' values untouched.
        assert len(after[table]) == len(rows)
        assert [
            {k: new[k] for k in old} for new, old in zip(after[table], rows, strict=True)
        ] == rows


def test_the_cli_lists_shows_and_reads_the_logs_of_an_old_store(old_store: Path) -> None:
    listed = ansflow(old_store.parent, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    runs = [json.loads(line) for line in listed.stdout.splitlines()]
    assert {r["pipeline_name"]: r["status"] for r in runs} == RUNS
    for run in runs:
        name, execution_id = run["pipeline_name"], run["execution_id"]
        logs = ansflow(old_store.parent, "logs", execution_id)
        assert logs.returncode == 0, logs.stderr
        assert sorted(logs.stdout.splitlines()) == sorted(LOGS[name])
        shown = ansflow(old_store.parent, "show", execution_id)
        assert shown.returncode == 0, shown.stderr
        assert RUNS[name] in shown.stdout
    fail = next(r["execution_id"] for r in runs if r["pipeline_name"] == "fail")
    shown = ansflow(old_store.parent, "show", fail).stdout
    assert "exit 3" in shown and "skipped" in shown


def test_the_failed_steps_of_an_old_run_are_rerun(old_store: Path) -> None:
    store = Store(f"sqlite:///{old_store}")
    fail = store.list_executions(pipeline="fail")[0]["execution_id"]
    store.close()
    rerun = ansflow(old_store.parent, "rerun", "--failed", "--plain", fail)
    assert rerun.returncode == 1, rerun.stderr  # bad fails again
    assert "good success (reused from run" in rerun.stdout
    assert "about to fail" in rerun.stdout
    listed = ansflow(old_store.parent, "list", "--json").stdout.splitlines()
    assert len(listed) == len(RUNS) + 1


OPENER = """
import pathlib, sys, time
from ansflow_jupyter.store import Store
url, ready, go = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
ready.touch()
while not go.exists():
    time.sleep(0.005)
store = Store(url)  # StoreError's message goes to stderr with the traceback
print(*[row["execution_id"] for row in store.list_executions()])
"""


def test_processes_opening_an_old_store_at_once_all_open_it(store_url: str, tmp_path: Path) -> None:
    # Every CLI and server started together after an upgrade of the package: one of them
    # upgrades the store, the others wait for it and find it current.
    store = Store(store_url)
    store.create_execution("old", "demo", "src", None, owner=Owner.current(), steps=[])
    with store.engine.begin() as conn:
        # An older store: tables and columns added since are missing.
        for table in ("step_summaries", "artifacts", "cache_entries", "file_hashes"):
            conn.execute(text(f"DROP TABLE {table}"))
        conn.execute(text("ALTER TABLE executions DROP COLUMN options"))
        conn.execute(text("UPDATE ansflow_meta SET value = '2' WHERE key = 'schema_version'"))
    store.close()
    go = tmp_path / "go"
    # Real processes, released together once each has imported ansflow (imports take
    # longer than the upgrade: started one after another, they would rarely meet).
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPENER, store_url, str(tmp_path / f"ready{i}"), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(6)
    ]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready{i}").exists() for i in range(6)):
        assert time.monotonic() < deadline, "the processes did not start"
        time.sleep(0.05)
    go.touch()
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert out.split() == ["old"]
    upgraded = Store(store_url)
    with upgraded.engine.connect() as conn:
        version = conn.scalar(text("SELECT value FROM ansflow_meta WHERE key = 'schema_version'"))
    upgraded.close()
    assert version == str(SCHEMA_VERSION)


def test_the_legs_of_an_old_matrix_run_keep_their_template_and_values(old_store: Path) -> None:
    # Rows written before steps.template_id/matrix existed: the views fold legs by these
    # fields, so an old matrix run must still name them (from its expanded ids).
    store = Store(f"sqlite:///{old_store}")
    try:
        mx = store.list_executions(pipeline="mx")[0]["execution_id"]
        steps = store.snapshot(mx).data["steps"]
    finally:
        store.close()
    assert [(s["step_id"], s["template_id"], s["matrix"]) for s in steps] == [
        ("test[py=3.11]", "test", {"py": "3.11"}),
        ("test[py=3.12]", "test", {"py": "3.12"}),
        ("pkg", "pkg", {}),
    ]
