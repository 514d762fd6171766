"""Workflow files (GitHub Actions) load into the same PipelineSpec as native pipelines."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansflow_jupyter.pipeline import SpecError, load_pipeline, load_pipeline_file
from ansflow_jupyter.pipeline.github import WorkflowOptions
from ansflow_jupyter.pipeline.github.matrix import expand

CORPUS = Path(__file__).parent / "workflows"


def issues(text: str, **options: object) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_pipeline(text, path="ci.yml", workflow=WorkflowOptions(**options))  # type: ignore[arg-type]
    return [str(issue) for issue in info.value.issues]


def test_each_job_and_matrix_leg_is_a_node_with_its_steps() -> None:
    spec = load_pipeline_file(CORPUS / "matrix.yml")
    assert list(spec.steps) == [
        "test[os=ubuntu-latest,n=1]",
        "test[os=ubuntu-latest,n=2,extra=true]",
        "test[os=windows-latest,n=2]",
        "test[os=macos-latest,n=3]",
        "services",
        "unsupported",
    ]
    leg = spec.steps["test[os=ubuntu-latest,n=1]"]
    assert leg.name == "test ubuntu-latest 1"
    assert [s.run for s in leg.substeps] == [
        'echo "leg ${{ matrix.os }} ${{ matrix.n }} ${{ matrix.extra }} $(pwd)"'
    ]
    assert leg.env["CI"] == "true" and leg.env["GITHUB_ACTIONS"] == "true"


def test_legs_for_another_os_and_container_jobs_are_skipped_with_a_reason() -> None:
    spec = load_pipeline_file(CORPUS / "matrix.yml")
    assert spec.steps["test[os=windows-latest,n=2]"].skip_reason == "runner-os"
    assert "Windows" in spec.steps["test[os=windows-latest,n=2]"].note
    assert spec.steps["test[os=macos-latest,n=3]"].skip_reason == "runner-os"
    assert spec.steps["services"].skip_reason == "needs-container"
    assert spec.steps["test[os=ubuntu-latest,n=1]"].skip_reason == ""


def test_unknown_actions_are_visible_skipped_steps_and_strict_makes_them_errors() -> None:
    spec = load_pipeline_file(CORPUS / "matrix.yml")
    subs = spec.steps["unsupported"].substeps
    assert [(s.name, s.skip_reason) for s in subs] == [
        ("Run someone/some-action@v2", "unsupported-action"),
        ("Run actions/github-script@v7", "unsupported-action"),
        ("Run echo ran-after-unsupported", ""),
    ]
    text = (CORPUS / "matrix.yml").read_text()
    found = issues(text, strict=True)
    assert any(
        "jobs.unsupported.steps[0].uses: action someone/some-action@v2 is not supported" in i
        for i in found
    )


def test_errors_are_located_with_file_line_column_and_key_path() -> None:
    with pytest.raises(SpecError) as info:
        load_pipeline_file(CORPUS / "errors.yml")
    found = [f"{i.line}:{i.column}: {i.path}: {i.message}" for i in info.value.issues]
    assert "7:5: jobs.a.step: unknown key 'step'; did you mean 'steps'?" in found
    assert "10:16: jobs.b.needs: needs: unknown job 'c'" in found
    assert any(f.startswith("13:23: jobs.b.steps[0].run: unexpected name 'nosuch'") for f in found)
    assert "14:9: jobs.b.steps[1]: a step needs exactly one of `run` or `uses`" in found
    assert all(i.file and i.file.endswith("errors.yml") for i in info.value.issues)


def test_needs_cycles_and_unknown_jobs_are_errors() -> None:
    text = (
        "on: push\njobs:\n  a:\n    needs: b\n    steps: [{run: x}]\n"
        "  b:\n    needs: a\n    steps: [{run: x}]\n"
    )
    assert any("needs form a cycle" in i for i in issues(text))
    assert any(
        "no job 'zz'" in i
        for i in issues("on: push\njobs:\n  a:\n    steps: [{run: x}]\n", job="zz")
    )


def test_job_option_keeps_the_job_and_what_it_needs() -> None:
    spec = load_pipeline_file(CORPUS / "steps.yml", workflow=WorkflowOptions(job="first"))
    assert list(spec.steps) == ["first"]
    spec = load_pipeline_file(CORPUS / "steps.yml", workflow=WorkflowOptions(job="second"))
    assert list(spec.steps) == ["first", "second"]
    assert spec.steps["second"].needs == ("first",)


def test_event_and_inputs_fill_the_contexts() -> None:
    options = WorkflowOptions(event="workflow_dispatch", inputs={"greeting": "hi"})
    spec = load_pipeline_file(CORPUS / "steps.yml", workflow=options)
    contexts = spec.steps["first"].job["contexts"]
    assert contexts["github"]["event_name"] == "workflow_dispatch"
    assert contexts["inputs"] == {"greeting": "hi"}
    default = load_pipeline_file(CORPUS / "steps.yml").steps["first"].job["contexts"]
    assert default["github"]["event_name"] == "push"
    assert default["inputs"] == {"greeting": "hello"}


def test_job_if_reads_needs_by_job_id_and_github_context() -> None:
    text = (
        "on: push\njobs:\n  a:\n    steps: [{run: x}]\n  b:\n    needs: a\n"
        "    if: github.event_name == 'push' && needs.a.outputs.v == '1'\n    steps: [{run: x}]\n"
    )
    spec = load_pipeline(text)
    condition = spec.steps["b"].condition
    assert condition is not None and not condition.uses_status_function

    class Ctx:
        needs_succeeded, needs_failed, cancelled, env = True, False, False, {}
        needs = {"a": {"result": "success", "outputs": {"v": "1"}}}

    assert condition.evaluate(Ctx())
    Ctx.needs = {"a": {"result": "success", "outputs": {"v": "2"}}}
    assert not condition.evaluate(Ctx())


def test_matrix_include_and_exclude_follow_github() -> None:
    legs = expand(
        {"os": ["a", "b"], "py": ["1", "2"]},
        include=[{"os": "a", "extra": "x"}, {"os": "c", "py": "9"}, {"py": "2", "os": "b", "k": 1}],
        exclude=[{"os": "b", "py": "1"}],
    )
    assert legs == [
        {"os": "a", "py": "1", "extra": "x"},
        {"os": "a", "py": "2", "extra": "x"},
        {"os": "b", "py": "2", "k": 1},
        {"os": "c", "py": "9"},
    ]


def test_a_native_pipeline_still_loads_as_before() -> None:
    spec = load_pipeline("name: p\nsteps:\n  - id: a\n    run: echo\n")
    assert list(spec.steps) == ["a"] and spec.steps["a"].substeps == ()


def test_a_matrix_computed_from_needs_outputs_is_one_node_whose_legs_come_at_run_time() -> None:
    text = (
        "on: push\njobs:\n  a:\n    steps: [{run: x}]\n  b:\n    needs: a\n"
        "    strategy:\n      matrix:\n        v: ${{ fromJSON(needs.a.outputs.list) }}\n"
        "    steps: [{run: x}]\n"
    )
    spec = load_pipeline(text)
    assert list(spec.steps) == ["a", "b"] and spec.steps["b"].skip_reason == ""
    assert "legs are decided at run time" in spec.steps["b"].note


def test_a_python_version_not_installed_skips_the_leg_with_tool_missing() -> None:
    text = (
        "on: push\njobs:\n  t:\n    strategy:\n      matrix:\n"
        "        py: ['3.99', '3.99t']\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/setup-python@v5\n        with:\n"
        "          python-version: ${{ matrix.py }}\n"
    )
    spec = load_pipeline(text)
    for leg, version in (("t[py=3.99]", "3.99"), ("t[py=3.99t]", "3.99t")):
        assert spec.steps[leg].skip_reason == "tool-missing"
        assert spec.steps[leg].note == f"no Python {version} on PATH or in pyenv"


def test_python_version_file_is_read_when_the_file_loads(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".python-version").write_text("3.99\n")
    flows = tmp_path / ".github" / "workflows"
    flows.mkdir(parents=True)
    (flows / "ci.yml").write_text(
        "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/setup-python@v5\n        with:\n"
        "          python-version-file: .python-version\n"
    )
    spec = load_pipeline_file(flows / "ci.yml")
    assert spec.base_dir == tmp_path
    assert (spec.steps["t"].skip_reason, spec.steps["t"].note) == (
        "tool-missing",
        "no Python 3.99 on PATH or in pyenv",
    )
