"""A server configured with an unreachable Dask scheduler answers a clear 503, records nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from _server_helpers import QUICK, Api

pytest.importorskip("distributed")


@pytest.fixture
def ansflow_config() -> dict[str, Any]:
    return {"backend": "dask", "dask_address": "tcp://127.0.0.1:1"}


async def test_starting_a_run_says_the_scheduler_is_unreachable(
    api: Api, pipelines: Callable[..., str]
) -> None:
    pipelines("quick.yml", QUICK)
    code, answer = await api("POST", "executions", body={"path": "quick.yml"})
    assert code == 503
    assert answer["message"] == (
        "cannot reach the Dask scheduler at tcp://127.0.0.1:1: Connection refused"
    )
    code, listed = await api("GET", "executions")
    assert code == 200
    assert listed == []  # nothing was recorded
