"""REST: each step of a run names its template id and matrix values (views group legs)."""

from __future__ import annotations

from collections.abc import Callable

from _server_helpers import Api, wait_for_status

PIPELINE = """\
name: legs
steps:
  test:
    matrix: {py: ["3.12", "3.13"]}
    run: echo ${{ matrix.py }}
  after:
    needs: [test]
    run: echo done
"""


async def test_snapshots_name_template_and_matrix(
    api: Api, pipelines: Callable[[str, str], str]
) -> None:
    code, started = await api("POST", "executions", body={"path": pipelines("legs.yml", PIPELINE)})
    assert code == 201, started
    snap = await wait_for_status(api, started["execution_id"], {"success", "failed"})
    steps = {s["step_id"]: s for s in snap["data"]["steps"]}
    assert {k: (s["template_id"], s["matrix"]) for k, s in steps.items()} == {
        "test[py=3.12]": ("test", {"py": "3.12"}),
        "test[py=3.13]": ("test", {"py": "3.13"}),
        "after": ("after", {}),
    }
