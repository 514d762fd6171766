"""A matrix bomb posted to the server is a located 400 at once, and nothing starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from _server_helpers import Api

CORPUS = Path(__file__).parent.parent / "pipeline" / "corpus"


@pytest.mark.parametrize("stem", ["matrix_product_bomb", "matrix_alias_bomb"])
async def test_matrix_bombs_are_400_with_a_located_error(api: Api, stem: str) -> None:
    yaml = (CORPUS / f"{stem}.yml").read_text()
    for route in ("executions", "pipelines/validate"):
        code, answer = await api("POST", route, body={"yaml": yaml})
        if route == "executions":
            assert code == 400, answer
        else:
            assert code == 200 and answer["ok"] is False, answer
        (error,) = answer["errors"]
        assert (error["line"], error["column"], error["path"]) == (3, 3, "steps.a.matrix")
        assert "at most 1,000 per step" in error["message"]
    assert await api("GET", "executions") == (200, [])
