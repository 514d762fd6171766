"""`?format=text`: the whole log in one streamed pass, every line once, prefixed by its
step when several steps are merged, ANSI escapes stripped unless `raw=1`."""

from __future__ import annotations

import asyncio
from typing import Any

from _server_helpers import Api, wait_for_status

RED = "\x1b[31m"
RESET = "\x1b[0m"
LINK = "\x1b]8;;http://example.com\x07link\x1b]8;;\x07"
BIG = """\
name: big
steps:
  colour:
    shell: python
    run: |
      red, reset = "\\x1b[31m", "\\x1b[0m"
      link = "\\x1b]8;;http://example.com\\x07link\\x1b]8;;\\x07"
      for i in range(60_000):
          print(f"{red}red {i}{reset} {link}")
  plain:
    needs: colour
    shell: python
    run: |
      for i in range(40_000):
          print(f"plain {i}")
"""


def expected(prefix: bool, raw: bool) -> list[str]:
    """The merged log as the download must give it."""
    colour = [(f"{RED}red {i}{RESET} {LINK}" if raw else f"red {i} link") for i in range(60_000)]
    plain = [f"plain {i}" for i in range(40_000)]
    if prefix:
        colour = [f"colour | {line}" for line in colour]
        plain = [f"plain | {line}" for line in plain]
    return colour + plain


async def test_big_log_downloads_whole_prefixed_and_stripped(api: Api, jp_fetch: Any) -> None:
    _, execution = await api("POST", "executions", body={"yaml": BIG})
    eid = execution["execution_id"]
    await wait_for_status(api, eid, {"success"}, timeout=120)

    # Three downloads at once, while the REST API keeps answering.
    downloads = [
        api("GET", "executions", eid, "logs", params={"format": "text"}),
        api("GET", "executions", eid, "logs", params={"format": "text", "raw": "1"}),
        api("GET", "executions", eid, "logs", params={"format": "text", "step": "colour"}),
    ]
    tasks = [asyncio.ensure_future(d) for d in downloads]
    code, listed = await api("GET", "executions")
    assert code == 200 and listed[0]["execution_id"] == eid
    (c1, merged), (c2, raw), (c3, one_step) = await asyncio.gather(*tasks)
    assert (c1, c2, c3) == (200, 200, 200)
    assert merged.splitlines() == expected(prefix=True, raw=False)
    assert raw.splitlines() == expected(prefix=True, raw=True)
    assert one_step.splitlines() == expected(prefix=False, raw=False)[:60_000]

    # Ranges keep their meaning: the merged stream's offset, a step's line numbers.
    code, page = await api(
        "GET", "executions", eid, "logs", params={"format": "text", "offset": 59_990, "limit": 20}
    )
    assert page.splitlines() == expected(prefix=True, raw=False)[59_990:60_010]
    code, page = await api(
        "GET",
        "executions",
        eid,
        "logs",
        params={"format": "text", "step": "plain", "offset": 100, "limit": 3},
    )
    assert page.splitlines() == ["plain 100", "plain 101", "plain 102"]
    code, page = await api(
        "GET", "executions", eid, "logs", params={"format": "text", "tail": 2, "raw": "1"}
    )
    assert page.splitlines() == ["plain | plain 39998", "plain | plain 39999"]


async def test_unknown_execution_text_download_is_json_404(api: Api) -> None:
    code, answer = await api("GET", "executions", "nope", "logs", params={"format": "text"})
    assert code == 404
    assert "nope" in answer["message"]
