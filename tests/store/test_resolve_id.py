"""Short ids: any unique prefix of an execution id names it (as `ansflow list` prints them)."""

from __future__ import annotations

import pytest

from ansflow_jupyter.errors import BadRequest, NotFound
from ansflow_jupyter.store import Store


def test_a_unique_prefix_names_one_execution(store: Store) -> None:
    for execution_id in ("aaaa1111", "aaaa2222", "b%_c"):
        store.create_execution(execution_id, "p", "steps: {}")
    assert store.resolve_execution_id("aaaa1") == "aaaa1111"
    assert store.resolve_execution_id("aaaa2222") == "aaaa2222"
    assert store.resolve_execution_id("b%") == "b%_c"  # LIKE wildcards are plain characters
    with pytest.raises(BadRequest, match=r"'aaaa' is ambiguous \(aaaa2222, aaaa1111\)"):
        store.resolve_execution_id("aaaa")
    with pytest.raises(NotFound, match="execution b_ not found"):
        store.resolve_execution_id("b_")
    with pytest.raises(NotFound):
        store.resolve_execution_id("c")
    with pytest.raises(BadRequest):
        store.resolve_execution_id("")
