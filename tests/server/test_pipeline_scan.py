"""`GET pipelines` over a tree of big YAML files: answers, with the right names."""

from __future__ import annotations

from pathlib import Path

from _server_helpers import Api

from ansflow_jupyter.server.summary import HEAD_BYTES, summarize


def big_pipeline(name: str, steps: int) -> str:
    """~56 bytes per step: 16,000 steps is a 0.9 MB file."""
    return f"name: {name}\nsteps:\n" + "".join(
        f"  step{i}:\n    run: echo {i} padding-padding-padding\n" for i in range(steps)
    )


async def test_big_files_are_listed_with_their_names(api: Api, jp_root_dir: Path) -> None:
    for i in range(20):
        (jp_root_dir / f"big{i:02}.yml").write_text(big_pipeline(f"big pipeline {i}", 16_000))
    (jp_root_dir / "small.yaml").write_text(big_pipeline("small", 3))
    (jp_root_dir / "data.yml").write_text("just: data\n")
    (jp_root_dir / "broken.yml").write_text("name: x\nsteps: {a: [\n")
    for _ in range(2):  # the second listing comes from the cache: the same answer
        code, listed = await api("GET", "pipelines")
        assert code == 200
        assert [p["path"] for p in listed] == [*(f"big{i:02}.yml" for i in range(20)), "small.yaml"]
        assert [p["name"] for p in listed] == [*(f"big pipeline {i}" for i in range(20)), "small"]
        assert listed[-1]["steps"] == ["step0", "step1", "step2"]
        for entry in listed[:-1]:
            assert entry["steps"][:3] == ["step0", "step1", "step2"]


def test_summary_reads_like_the_loader() -> None:
    assert summarize("name: a\nsteps:\n  - id: one\n    run: x\n  - run: y\n") == {
        "name": "a",
        "steps": ["one", "1"],
    }
    assert summarize("name: 3\nsteps: {a: {}}\n") is None  # a name must be a string
    assert summarize("name: a\nsteps: text\n") is None
    assert summarize("name: a\nsteps: {a: [\n") is None
    # A head cut mid-file keeps what it read.
    head = big_pipeline("cut", 5_000)[:HEAD_BYTES]
    summary = summarize(head, complete=False)
    assert summary is not None and summary["name"] == "cut"
    assert 0 < len(summary["steps"]) < 5_000
