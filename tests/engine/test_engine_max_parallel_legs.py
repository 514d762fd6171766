"""`strategy.max-parallel`: at most N legs of that job run at once (on top of the run's
max_parallel), observed from the legs' own start and end times."""

from __future__ import annotations

import subprocess
from pathlib import Path

from _engine_helpers import ListSink, run

from ansflow_jupyter.engine import Executor
from ansflow_jupyter.engine.backends import LocalBackend
from ansflow_jupyter.events import EventType, ExecutionStatus
from ansflow_jupyter.pipeline import load_pipeline

CORPUS = Path(__file__).parent.parent / "pipeline" / "workflows"


def intervals(sink: ListSink, prefix: str) -> list[tuple[float, float]]:
    spans: dict[str, dict[str, float]] = {}
    for data in sink.of(EventType.STEP_UPDATE):
        if data["step_id"].startswith(prefix):
            span = spans.setdefault(data["step_id"], {})
            for key in ("started_at", "finished_at"):
                if data.get(key) is not None:
                    span[key] = data[key]
    return [(s["started_at"], s["finished_at"]) for s in spans.values()]


def most_at_once(spans: list[tuple[float, float]]) -> int:
    return max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans)


def execute(tmp_path: Path, text: str) -> ListSink:
    folder = tmp_path / "repo" / ".github" / "workflows"
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)
    spec = load_pipeline(text, path=str(folder / "wf.yml"))
    sink = ListSink()
    executor = Executor(spec, "mp-1", LocalBackend(), sink, max_parallel=16)
    assert run(executor.run(), timeout=180) is ExecutionStatus.SUCCESS
    sink.check_invariants()
    return sink


def test_at_most_max_parallel_legs_run_at_once(tmp_path: Path) -> None:
    sink = execute(tmp_path, (CORPUS / "maxparallel.yml").read_text())
    spans = intervals(sink, "legs[")
    assert len(spans) == 5
    assert most_at_once(spans) <= 2


def test_max_parallel_one_runs_the_legs_one_after_another(tmp_path: Path) -> None:
    text = (CORPUS / "maxparallel.yml").read_text().replace("max-parallel: 2", "max-parallel: 1")
    spans = sorted(intervals(execute(tmp_path, text), "legs["))
    assert len(spans) == 5
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(4)), spans
