"""Groups and annotations are stored, replayed and carried by the stored snapshot."""

from __future__ import annotations

from pathlib import Path

from ansflow_jupyter.engine import Executor
from ansflow_jupyter.engine.backends import LocalBackend
from ansflow_jupyter.events import (
    SNAPSHOT_ANNOTATIONS,
    SNAPSHOT_GROUPS,
    Event,
    EventType,
    SnapshotBuilder,
)
from ansflow_jupyter.pipeline import load_pipeline
from ansflow_jupyter.store import Owner, Store

PIPELINE = """
name: marks
steps:
  many:
    shell: python
    run: |
      for i in range(1010):
          print(f"::group::g{i}")
          print(f"line {i}")
          if i % 9 == 0:
              print(f"::warning file=f{i}.py,line={i}::note {i}")
      print("::endgroup::")
  quiet: {run: echo quiet}
"""


class StoreSink:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.events: list[Event] = []

    async def write(self, events: list[Event]) -> None:
        self.store.append(events)
        self.events.extend(events)


def test_stored_snapshot_carries_bounded_groups_and_annotations(
    store: Store, tmp_path: Path
) -> None:
    import asyncio

    spec = load_pipeline(PIPELINE, base_dir=tmp_path)
    steps = [{"step_id": s.id, "name": s.name, "needs": list(s.needs)} for s in spec.steps.values()]
    initial = store.create_execution("x1", spec.name, spec.source, None, Owner.current(), steps)
    sink = StoreSink(store)
    asyncio.run(Executor(spec, "x1", LocalBackend(), sink).run())

    builder = SnapshotBuilder(initial.data["execution"], initial.data["steps"])
    for event in sink.events:
        builder.apply(event)
    stored = store.snapshot("x1")
    assert stored.data == builder.payload()
    many = {s["step_id"]: s for s in stored.data["steps"]}["many"]
    assert len(many["groups"]) == SNAPSHOT_GROUPS
    assert [g["title"] for g in many["groups"][:2]] == ["g10", "g11"]  # the last 1,000
    assert all(g["status"] == "success" for g in many["groups"])
    assert len(many["annotations"]) == SNAPSHOT_ANNOTATIONS  # the first 100
    assert many["annotations"][0] == {
        "step_id": "many",
        "offset": 1,
        "level": "warning",
        "message": "note 0",
        "file": "f0.py",
        "line": 0,
    }
    assert "groups" not in {s["step_id"]: s for s in stored.data["steps"]}["quiet"]
    # Every group_update and annotation is replayed from the store, in order.
    replayed = [
        e
        for e in store.events_since("x1", 0)
        if e.type in (EventType.GROUP_UPDATE, EventType.ANNOTATION)
    ]
    produced = [e for e in sink.events if e.type in (EventType.GROUP_UPDATE, EventType.ANNOTATION)]
    assert [(e.seq, e.data) for e in replayed] == [(e.seq, e.data) for e in produced]
    assert len([e for e in produced if e.type is EventType.ANNOTATION]) == 113
