"""The event payloads: the TypedDicts of events.py, the schemas of openapi.yaml (which the
front end generates its types from) and the events a real run produces all agree."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml
from openapi_schema_validator import OAS30Validator

import ansflow_jupyter.server
from ansflow_jupyter import events
from ansflow_jupyter.pipeline import load_pipeline
from ansflow_jupyter.service import ExecutionManager
from ansflow_jupyter.store import Store

OPENAPI = yaml.safe_load(
    Path(ansflow_jupyter.server.__file__).with_name("openapi.yaml").read_text()
)
SCHEMAS = OPENAPI["components"]["schemas"]

PAYLOADS = {
    "ExecutionUpdateData": events.ExecutionUpdateData,
    "StepUpdateData": events.StepUpdateData,
    "LogUpdateData": events.LogUpdateData,
    "SnapshotData": events.SnapshotData,
    "MonitorSnapshotData": events.MonitorSnapshotData,
}

PIPELINE = """\
name: shapes
steps:
  out:
    run: echo to-stdout; echo to-stderr >&2
  bad:
    needs: out
    run: exit 3
    continue-on-error: true
  skipped:
    if: false
    run: echo never
  after:
    needs: bad
    run: sleep 0.1
"""


def validator(name: str) -> OAS30Validator:
    """A validator of one component schema (references resolved in the document)."""
    return OAS30Validator(
        {"$ref": f"#/components/schemas/{name}", "components": {"schemas": SCHEMAS}}
    )


def properties(name: str) -> set[str]:
    """The property names of a component schema, through allOf."""
    schema = SCHEMAS[name]
    found = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        if "$ref" in part:
            found |= properties(part["$ref"].rsplit("/", 1)[1])
        found |= set(part.get("properties", {}))
    return found


@pytest.mark.parametrize("name", [*PAYLOADS, "SnapshotStep"])
def test_typed_payloads_and_openapi_schemas_name_the_same_keys(name: str) -> None:
    typed = PAYLOADS.get(name, events.SnapshotStep)
    assert set(typed.__required_keys__ | typed.__optional_keys__) == properties(name)


def test_a_real_run_produces_payloads_the_schemas_accept(tmp_path: Path) -> None:
    async def run() -> list[events.Event]:
        manager = ExecutionManager(Store(f"sqlite:///{tmp_path / 's.sqlite'}"))
        await manager.start_up()
        try:
            info = await manager.start(load_pipeline(PIPELINE, base_dir=tmp_path))
            async with await manager.subscribe(info["execution_id"], since=0) as stream:
                seen: list[events.Event] = []
                while batch := await stream.next_batch():
                    seen.extend(batch)
            seen.append(await manager.snapshot(info["execution_id"]))
            monitor, sub = await manager.subscribe_all()
            sub.close()
            return [*seen, monitor]
        finally:
            await manager.shutdown()

    produced = asyncio.run(run())
    by_type = {
        "execution_update": "ExecutionUpdateData",
        "step_update": "StepUpdateData",
        "log_update": "LogUpdateData",
    }
    kinds = set()
    for event in produced:
        name = by_type.get(event.type.value)
        if event.type is events.EventType.SNAPSHOT:
            name = "MonitorSnapshotData" if "executions" in event.data else "SnapshotData"
        assert name is not None, event
        validator(name).validate(event.data)
        validator("Envelope").validate(event.to_dict())
        kinds.add(name)
    assert kinds == set(PAYLOADS)
