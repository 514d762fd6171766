"""`--json` prints a log batch byte for byte as `json.dumps(envelope)`, whether or not the
store has just encoded that batch (the view then reuses the store's JSON of its lines)."""

from __future__ import annotations

import json
from pathlib import Path

from ansflow_jupyter.cli_view import envelope_line
from ansflow_jupyter.events import Event, EventType
from ansflow_jupyter.store import Store


def log_batch(seq: int, offset: int) -> Event:
    lines = [f'line {i} é "quoted" \\ \t ✓' for i in range(offset, offset + 400)]
    # One timestamp per pipe read, as the engine stamps them: they repeat.
    ts = [1_700_000_000.25 + (i // 100) * 0.001 for i in range(400)]
    data = {"step_id": "s", "stream": "stdout", "offset": offset, "lines": lines, "ts": ts}
    return Event(EventType.LOG_UPDATE, "e1", seq, data, 1_700_000_001.5)


def expected(event: Event) -> str:
    return json.dumps(event.to_dict(), separators=(",", ":")) + "\n"


def test_a_stored_log_batch_prints_as_its_envelope(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        store.create_execution("e1", "p", "src", steps=[{"step_id": "s", "name": "s"}])
        events = [log_batch(seq, (seq - 1) * 400) for seq in range(1, 4)]
        store.append(events)
        lines = [envelope_line(event) for event in events]
        replayed = store.events_since("e1", 0, 100)
    finally:
        store.close()
    assert lines == [expected(event) for event in events]
    # The same batches read back (fresh dicts the store never encoded) print the same.
    assert [envelope_line(event) for event in replayed] == lines


def test_a_batch_the_store_never_saw_prints_as_its_envelope() -> None:
    event = log_batch(1, 0)
    assert envelope_line(event) == expected(event)
