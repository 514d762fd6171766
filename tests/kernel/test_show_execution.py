"""`show_execution(id)`: a handle on an execution started elsewhere (embedded mode)."""

from __future__ import annotations

import pytest
from _kernel_helpers import FAILING_PIPELINE

from ansflow_jupyter import run_pipeline, show_execution
from ansflow_jupyter.errors import NotFound

pytestmark = pytest.mark.usefixtures("embedded_store")


def test_show_execution_reopens_a_finished_run() -> None:
    started = run_pipeline(FAILING_PIPELINE, display=False)
    assert started.wait(timeout=60) == "failed"
    handle = show_execution(started.id)
    assert handle.id == started.id and handle.status == "failed"
    assert handle.logs("explode")[-1] == "boom: something broke"
    assert "explode" in handle.failure().failures[0]["step_id"]
    assert handle._repr_mimebundle_()["text/plain"].startswith("AnsFlow")
    with pytest.raises(NotFound):
        show_execution("no-such-execution")
