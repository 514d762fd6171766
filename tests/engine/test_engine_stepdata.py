"""The outputs hook of the cache: `StepState.extra["outputs"]` is hashed into dependents'
keys, saved with an entry and restored on a hit (the outputs feature fills that field)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from _engine_helpers import step

from ansflow_jupyter.engine.output import LineProcessor
from ansflow_jupyter.engine.state import StepState
from ansflow_jupyter.engine.stepdata import StepData
from ansflow_jupyter.events import StepReason, StepStatus
from ansflow_jupyter.pipeline.spec import CacheSpec, StepSpec
from ansflow_jupyter.store import Store
from ansflow_jupyter.store.artifacts import BlobStore
from ansflow_jupyter.store.data import DataStore


def _cached(sid: str, needs: tuple[str, ...] = ()) -> StepSpec:
    base = step(sid, "echo hi", needs=needs)
    return StepSpec(**{**{f: getattr(base, f) for f in base.__slots__}, "cache": CacheSpec(())})


def test_outputs_are_saved_restored_and_part_of_dependents_keys(tmp_path: Path) -> None:
    data_store = DataStore(Store(f"sqlite:///{tmp_path / 's.sqlite'}"), BlobStore(str(tmp_path)))
    log = LineProcessor("x", lambda data: None)

    def new_data(execution_id: str) -> StepData:
        return StepData(
            data_store, data_store, pipeline_name="p", execution_id=execution_id, env={}
        )

    async def first_run() -> None:
        data = new_data("e1")
        build = StepState(_cached("build"))
        assert not await data.before(build, [], str(tmp_path), {}, log)
        build.extra["outputs"] = {"version": "1.0"}  # what the outputs feature sets
        await data.after(build, str(tmp_path), StepStatus.SUCCESS, StepReason.EXIT, log)

    async def second_run() -> dict[str, Any]:
        data = new_data("e2")
        build = StepState(_cached("build"))
        assert await data.before(build, [], str(tmp_path), {}, log)
        return build.extra

    async def dependents() -> list[str]:
        reasons = []
        for version in ("1.0", "1.0", "2.0"):
            data = new_data("e3")
            need = StepState(_cached("build"))
            need.extra["outputs"] = {"version": version}
            user = StepState(_cached("use", ("build",)))
            hit = await data.before(user, [need], str(tmp_path), {}, log)
            reasons.append("hit" if hit else str(user.extra["cache_miss"]))
            if not hit:
                await data.after(user, str(tmp_path), StepStatus.SUCCESS, StepReason.EXIT, log)
        return reasons

    asyncio.run(first_run())
    extra = asyncio.run(second_run())
    assert extra["cached_from"] == "e1"
    assert extra["outputs"] == {"version": "1.0"}
    assert asyncio.run(dependents()) == ["no entry", "hit", "needs changed"]
    data_store.store.close()
