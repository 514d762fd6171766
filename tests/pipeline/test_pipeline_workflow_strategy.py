"""`strategy.max-parallel` as the loader reads it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansflow_jupyter.pipeline import SpecError, load_pipeline, load_pipeline_file

CORPUS = Path(__file__).parent / "workflows"


def test_the_limit_is_kept_on_each_leg() -> None:
    spec = load_pipeline_file(CORPUS / "maxparallel.yml")
    leg = spec.steps["legs[n=3]"]
    assert leg.job["max_parallel"] == 2
    assert leg.job["contexts"]["strategy"]["max-parallel"] == 2
    assert spec.steps["free"].job["max_parallel"] is None


def test_a_bad_limit_is_located() -> None:
    text = (CORPUS / "maxparallel.yml").read_text().replace("max-parallel: 2", "max-parallel: lots")
    with pytest.raises(SpecError) as info:
        load_pipeline(text, path="wf.yml")
    assert [str(i) for i in info.value.issues] == [
        "wf.yml:8:21: jobs.legs.strategy.max-parallel: max-parallel must be a positive "
        "integer, not 'lots'"
    ]
