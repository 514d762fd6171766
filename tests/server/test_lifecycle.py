"""Extension lifecycle: shutdown modes, configuration errors."""

from __future__ import annotations

from typing import Any

import psutil
import pytest
from _server_helpers import QUICK, SLEEPY, Api, wait_for_step

from ansflow_jupyter.server.app import AnsFlowApp
from ansflow_jupyter.service import ExecutionManager
from ansflow_jupyter.store import Store


@pytest.fixture
def ansflow_config() -> dict[str, Any]:
    """Interrupt, do not cancel, at shutdown."""
    return {"on_shutdown": "interrupt", "kill_grace": 1.0}


async def test_interrupt_on_shutdown_kills_steps_and_records_interrupted(
    api: Api, jp_serverapp: Any, ansflow_db_url: str
) -> None:
    _, execution = await api("POST", "executions", body={"yaml": SLEEPY})
    eid = execution["execution_id"]
    step = await wait_for_step(api, eid, "sleep", "running")
    process = psutil.Process(step["pid"])
    app = jp_serverapp.extension_manager.extension_apps["ansflow_jupyter"]
    (ansflow,) = [a for a in app if isinstance(a, AnsFlowApp)]
    await ansflow.stop_extension()
    process.wait(timeout=5)
    store = Store(ansflow_db_url)
    try:
        # Not recorded as cancelled: the server stopped under it.
        execution = store.get_execution(eid)
        assert execution["status"] == "interrupted"
        assert execution["message"] == "interrupted: the server stopped"
        steps = {s["step_id"]: s for s in store.snapshot(eid).data["steps"]}
        assert steps["sleep"]["reason"] == "interrupted"
    finally:
        store.close()


def test_dask_backend_without_distributed_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "ansflow_jupyter.engine.backends.dask", None)
    app = AnsFlowApp(backend="dask")
    with pytest.raises(RuntimeError, match="'dask' is not available"):
        app._make_backend()


class CountingManager(ExecutionManager):
    """A manager subclass the tests swap in through configuration."""

    started = 0

    async def start(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Count, then start."""
        type(self).started += 1
        return await super().start(*args, **kwargs)


@pytest.mark.parametrize("ansflow_config", [{"manager_class": CountingManager, "kill_grace": 1.0}])
async def test_manager_class_is_swappable_through_config(api: Api, jp_serverapp: Any) -> None:
    assert isinstance(jp_serverapp.web_app.settings["ansflow_manager"], CountingManager)
    code, _ = await api("POST", "executions", body={"yaml": QUICK})
    assert code == 201
    assert CountingManager.started == 1
