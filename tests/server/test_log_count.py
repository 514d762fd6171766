"""`count=1`: the exact number of matching lines in the whole stored log, beside a page."""

from __future__ import annotations

from collections.abc import Callable

from _server_helpers import Api, wait_for_status

# 30,000 lines in one step (more than a view holds at first), "needle" only in the first
# 1,000, every 7th line of them; a second step with a few needles of its own.
PIPELINE = (
    "name: counted\nsteps:\n  big:\n    shell: python\n    run: |\n"
    "      for i in range(30000):\n"
    "          print(f'row {i} needle' if i < 1000 and i % 7 == 0 else f'row {i}')\n"
    "  small:\n    run: |\n      echo needle; echo NEEDLE; echo hay\n"
)
IN_BIG = len([i for i in range(1000) if i % 7 == 0])


async def test_count_is_exact_over_the_whole_log(api: Api, pipelines: Callable[..., str]) -> None:
    pipelines("counted.yml", PIPELINE)
    _, execution = await api("POST", "executions", body={"path": "counted.yml"})
    eid = execution["execution_id"]
    await wait_for_status(api, eid, {"success"}, timeout=60)

    def logs(**params: object) -> object:
        return api("GET", "executions", eid, "logs", params={k: str(v) for k, v in params.items()})

    # The page is the first hits from `offset`; `total` counts the whole log of the step.
    code, answer = await logs(step="big", q="needle", count=1, limit=5)
    assert code == 200, answer
    assert answer["total"] == IN_BIG
    assert [line["offset"] for line in answer["lines"]] == [0, 7, 14, 21, 28]
    code, answer = await logs(step="big", q="needle", count=1, offset=500, limit=1)
    assert (answer["total"], answer["lines"][0]["offset"]) == (IN_BIG, 504)
    # A regex (RE2), case-insensitive, over every step.
    code, answer = await logs(q="/(?i)needle$/", count=1, limit=1)
    assert code == 200, answer
    assert answer["total"] == IN_BIG + 2
    # A line is matched alone: a pattern that would only match across a newline does not.
    _, answer = await logs(step="big", q="/needle\\s/", count=1, limit=1)
    assert (answer["total"], answer["lines"]) == (0, [])
    _, answer = await logs(step="big", q="/^row 99[0-9]( needle)?$/", count=1, limit=1)
    assert answer["total"] == 10
    # Plain substrings are case-sensitive.
    _, answer = await logs(q="needle", count=1, limit=1)
    assert answer["total"] == IN_BIG + 1
    # Without q: every stored line.
    _, answer = await logs(step="big", count=1, tail=3)
    assert answer["total"] == 30000
    assert [line["line"] for line in answer["lines"]] == ["row 29997", "row 29998", "row 29999"]
    # No count asked: no total.
    _, answer = await logs(step="big", q="needle", limit=1)
    assert "total" not in answer


async def test_count_refuses_bad_values(api: Api) -> None:
    _, execution = await api("POST", "executions", body={"yaml": PIPELINE})
    eid = execution["execution_id"]
    code, answer = await api("GET", "executions", eid, "logs", params={"count": "2"})
    assert code == 400
    assert "'count'" in answer["message"]
    code, answer = await api("GET", "executions", "nope", "logs", params={"count": "1"})
    assert code == 404, answer
