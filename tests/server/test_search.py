"""Log search never stalls the server: a linear-time regex engine, refused patterns are 400."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from _server_helpers import Api, wait_for_status

# Catastrophic for a backtracking engine: ~2^26 steps per line (tens of seconds each).
EVIL_LINE = "a" * 26 + "!"
PIPELINE = f"""\
name: evil
steps:
  print:
    run: |
      for i in 1 2 3; do echo '{EVIL_LINE}'; done
      echo 'aaa'
"""


async def test_catastrophic_regex_answers_and_the_server_stays_responsive(
    api: Api, jp_fetch: Any
) -> None:
    _, execution = await api("POST", "executions", body={"yaml": PIPELINE})
    eid = execution["execution_id"]
    await wait_for_status(api, eid, {"success"})
    search = asyncio.ensure_future(api("GET", "executions", eid, "logs", params={"q": "/(a+)+$/"}))
    status = await asyncio.wait_for(jp_fetch("api", "status"), 10)
    assert status.code == 200
    code, answer = await asyncio.wait_for(search, 10)
    assert code == 200, answer
    assert [line["line"] for line in answer["lines"]] == ["aaa"]
    # The same search over the merged text download.
    code, text = await api(
        "GET", "executions", eid, "logs", params={"q": "/a!$/", "format": "text"}
    )
    assert code == 200
    assert text.count(EVIL_LINE) == 3


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ("/(a)\\1/", "not supported"),
        ("/(?=a)b/", "not supported"),
        ("/[/", "invalid regular expression"),
        ("/" + "a" * 2_000 + "/", "at most 1000 characters"),
    ],
)
async def test_refused_patterns_are_400(api: Api, q: str, message: str) -> None:
    _, execution = await api("POST", "executions", body={"yaml": PIPELINE})
    code, answer = await api(
        "GET", "executions", execution["execution_id"], "logs", params={"q": q}
    )
    assert code == 400, answer
    assert message in answer["message"], answer
