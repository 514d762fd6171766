"""REST: a notebook file is a one-step pipeline, and a broken one is a 400 before anything runs."""

from __future__ import annotations

from collections.abc import Callable

import nbformat
from _server_helpers import Api, wait_for_status
from nbformat.v4 import new_code_cell, new_notebook


def _notebook(*sources: str) -> str:
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nbformat.writes(nb)


async def test_a_notebook_runs_as_one_step(api: Api, pipelines: Callable[[str, str], str]) -> None:
    path = pipelines("double.ipynb", _notebook("x = 21", "print('twice', x * 2)"))
    code, started = await api("POST", "executions", body={"path": path})
    assert code == 201, started
    snap = await wait_for_status(api, started["execution_id"], {"success", "failed"})
    (step,) = snap["data"]["steps"]
    assert step["status"] == "success", step
    code, logs = await api("GET", "executions", started["execution_id"], "logs")
    assert code == 200
    assert "twice 42" in [line["line"] for line in logs["lines"]]


async def test_a_notebook_that_is_not_json_is_a_located_400(
    api: Api, pipelines: Callable[[str, str], str]
) -> None:
    path = pipelines("broken.ipynb", '{"cells": [\n  {"cell_type": "code",\n')
    code, answer = await api("POST", "executions", body={"path": path})
    assert code == 400, answer
    (error,) = answer["errors"]
    assert (error["line"], error["column"]) == (3, 1), error  # in the notebook's own JSON
    assert error["message"].startswith("not a valid notebook: Expecting property name")
    code, listed = await api("GET", "executions")
    assert code == 200 and listed == []  # nothing started
