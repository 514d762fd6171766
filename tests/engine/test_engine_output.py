"""The log line processor: splitting, decoding, \\r, truncation, secrets, batching."""

from __future__ import annotations

import asyncio
from typing import Any

from ansflow_jupyter.engine.output import LineProcessor


def make(**kwargs: Any) -> tuple[LineProcessor, list[dict[str, Any]]]:
    out: list[dict[str, Any]] = []
    return LineProcessor("s", out.append, **kwargs), out


def all_lines(out: list[dict[str, Any]]) -> list[str]:
    return [line for batch in out for line in batch["lines"]]


def test_lines_split_across_chunks_and_eof_partial() -> None:
    proc, out = make()
    for chunk in (b"hel", b"lo\nwor", b"ld\n\nlast"):
        proc.feed("stdout", chunk)
    proc.finish()
    assert all_lines(out) == ["hello", "world", "", "last"]
    assert out[0]["offset"] == 0 and out[0]["stream"] == "stdout"


def test_stream_switch_flushes_and_shares_offsets() -> None:
    proc, out = make()
    proc.feed("stdout", b"a\nb\n")
    proc.feed("stderr", b"c\n")
    proc.feed("stdout", b"d\n")
    proc.finish()
    assert [(b["stream"], b["offset"], b["lines"]) for b in out] == [
        ("stdout", 0, ["a", "b"]),
        ("stderr", 2, ["c"]),
        ("stdout", 3, ["d"]),
    ]


def test_crlf_progress_ansi_and_invalid_utf8() -> None:
    proc, out = make()
    proc.feed("stdout", b"dos\r\n\x1b[31mred\x1b[0m\n10%\r50%\r100%\n")
    proc.feed("stdout", b"bad \xff\xfe end\nbar 1\r")
    proc.feed("stdout", b"bar 2\r\r\n\xe2\x82")
    proc.feed("stdout", b"\xac euro\n")
    proc.finish()
    assert all_lines(out) == [
        "dos",
        "\x1b[31mred\x1b[0m",
        "100%",
        "bad \ufffd\ufffd end",
        "bar 2",
        "€ euro",
    ]


def test_long_lines_are_cut_with_marker() -> None:
    proc, out = make(max_line_bytes=10)
    proc.feed("stdout", b"short\n" + b"x" * 25 + b"\nok\n")
    proc.finish()
    assert all_lines(out) == ["short", "xxxxxxxxxx…[truncated 15 bytes]", "ok"]


def test_endless_line_keeps_memory_bounded() -> None:
    proc, out = make(max_line_bytes=100)
    for _ in range(1000):
        proc.feed("stdout", b"y" * 1000)
        assert len(proc._partials["stdout"].data) <= 100
    proc.feed("stdout", b"tail\nnext\n")
    proc.finish()
    assert all_lines(out) == ["y" * 100 + f"…[truncated {1000 * 1000 - 100 + 4} bytes]", "next"]


def test_endless_progress_bar_keeps_last_state() -> None:
    proc, out = make(max_line_bytes=100)
    for i in range(300):
        proc.feed("stdout", b"z" * 50 + b"\rstate %d" % i)
    proc.finish()
    assert all_lines(out) == ["state 299"]


def test_cut_does_not_split_utf8() -> None:
    proc, out = make(max_line_bytes=5)
    proc.feed("stdout", "aaaa€€".encode() + b"\n")
    proc.finish()
    assert all_lines(out) == ["aaaa…[truncated 6 bytes]"]


def test_secrets_masked_even_at_a_cut() -> None:
    proc, out = make(max_line_bytes=14, secrets=["hunter2", "", "s3cr3t-long"])
    proc.feed("stdout", b"pw=hunter2 again hunter2\n")
    proc.feed("stdout", b"short hunter2\n")
    proc.feed("stderr", b"0123456789s3cr3t-long\n")
    proc.add_line("stderr", "spawn failed: hunter2")
    proc.finish()
    lines = all_lines(out)
    assert lines[1] == "short ***"
    assert lines[3] == "spawn failed: ***"
    assert not any("hunter" in line or "s3" in line for line in lines), lines


def test_batches_limit_size_and_time() -> None:
    async def scenario() -> list[dict[str, Any]]:
        proc, out = make(batch_bytes=1000, batch_delay=0.02)
        for _ in range(30):
            proc.feed("stdout", b"x" * 99 + b"\n")  # 100 bytes a line
        assert [len(b["lines"]) for b in out] == [10, 10, 10]
        proc.feed("stdout", b"late\n")
        assert len(out) == 3
        await asyncio.sleep(0.05)  # the 25 ms (here 20 ms) timer flushed it
        assert len(out) == 4 and out[3]["lines"] == ["late"] and out[3]["offset"] == 30
        return out

    asyncio.run(scenario())
