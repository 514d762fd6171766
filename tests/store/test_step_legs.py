"""Matrix legs keep their template id and values in the store, so views group them after a
reload, also for legs a run added as it went (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
import uuid

from ansflow_jupyter.events import Event, EventType
from ansflow_jupyter.store import Owner, Store


def test_legs_keep_template_id_and_matrix(store: Store) -> None:
    eid = uuid.uuid4().hex
    leg = {"step_id": "t[py=3.12]", "name": "t", "template_id": "t", "matrix": {"py": "3.12"}}
    store.create_execution(
        eid, "demo", "src", "demo.yml", owner=Owner.current(), steps=[leg, {"step_id": "b"}]
    )
    added = {
        "step_id": "t[py=3.13]",
        "name": "t",
        "template_id": "t",
        "matrix": {"py": "3.13"},
        "status": "running",
        "attempt": 1,
        "started_at": 1.0,
    }
    store.append([Event(EventType.STEP_UPDATE, eid, 1, added, time.time())])
    steps = {s["step_id"]: s for s in store.snapshot(eid).data["steps"]}
    assert (steps["t[py=3.12]"]["template_id"], steps["t[py=3.12]"]["matrix"]) == (
        "t",
        {"py": "3.12"},
    )
    assert (steps["b"]["template_id"], steps["b"]["matrix"]) == ("b", {})
    assert steps["t[py=3.13]"]["template_id"] == "t"
    assert steps["t[py=3.13]"]["matrix"] == {"py": "3.13"}
