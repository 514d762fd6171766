"""Run options stored with an execution; a store written before they existed is upgraded."""

from __future__ import annotations

from sqlalchemy import inspect, text

from ansflow_jupyter.pipeline.github import WorkflowOptions
from ansflow_jupyter.run_options import decode
from ansflow_jupyter.store import SCHEMA_VERSION, Owner, Store


def test_a_store_without_the_options_column_is_upgraded(store_url: str) -> None:
    store = Store(store_url)
    store.create_execution("old", "demo", "src", None, owner=Owner.current(), steps=[])
    with store.engine.begin() as conn:
        # What version 5 wrote: no executions.options.
        conn.execute(text("ALTER TABLE executions DROP COLUMN options"))
        conn.execute(text("UPDATE ansflow_meta SET value = '5' WHERE key = 'schema_version'"))
    store.close()
    upgraded = Store(store_url)
    with upgraded.engine.connect() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("executions")}
        version = conn.scalar(text("SELECT value FROM ansflow_meta WHERE key = 'schema_version'"))
    assert "options" in columns
    assert version == str(SCHEMA_VERSION)
    old = upgraded.get_execution("old")
    assert old["pipeline_name"] == "demo" and old["options"] is None
    assert decode(old["options"]) == (None, None)  # an old run re-runs with the defaults
    options = WorkflowOptions(event="workflow_dispatch", inputs={"who": "ada"}, job="greet")
    stored = '{"event": "workflow_dispatch", "inputs": {"who": "ada"}, "job": "greet", '
    stored += '"max_parallel": 2, "strict": false}'
    upgraded.create_execution("new", "demo", "src", None, owner=Owner.current(), options=stored)
    assert decode(upgraded.get_execution("new")["options"]) == (options, 2)
    upgraded.close()
