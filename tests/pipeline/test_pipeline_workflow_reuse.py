"""Reusable workflows (`uses: ./.github/workflows/x.yml`): nodes, inputs, outputs, errors."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ansflow_jupyter.pipeline import SpecError, load_pipeline_file
from ansflow_jupyter.pipeline.github import WorkflowOptions

CORPUS = Path(__file__).parent / "workflows" / "reuse"


def repository(tmp_path: Path, files: dict[str, str]) -> Path:
    """A git repository whose .github/workflows holds `files` (name -> text)."""
    repo = tmp_path / "repo"
    folder = repo / ".github" / "workflows"
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return folder


def corpus(tmp_path: Path) -> Path:
    folder = repository(tmp_path, {})
    for file in CORPUS.iterdir():
        shutil.copy(file, folder / file.name)
    return folder


def issues(path: Path, **options: object) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_pipeline_file(path, workflow=WorkflowOptions(**options))  # type: ignore[arg-type]
    return [str(issue) for issue in info.value.issues]


def test_called_jobs_are_caller_slash_job_nodes_with_the_callers_needs(tmp_path: Path) -> None:
    spec = load_pipeline_file(corpus(tmp_path) / "ci.yml")
    assert list(spec.steps) == [
        "setup",
        "call[flavour=plain]/build",
        "call[flavour=plain]/test",
        "call[flavour=plain]",
        "call[flavour=fancy]/build",
        "call[flavour=fancy]/test",
        "call[flavour=fancy]",
        "after",
    ]
    steps = spec.steps
    assert steps["call[flavour=plain]/build"].needs == ("setup",)  # the caller's needs
    assert steps["call[flavour=plain]/test"].needs == ("call[flavour=plain]/build",)
    assert steps["call[flavour=plain]"].needs == (
        "call[flavour=plain]/build",
        "call[flavour=plain]/test",
    )
    assert steps["after"].needs == ("call[flavour=plain]", "call[flavour=fancy]")
    # The caller's `if:` guards the called jobs that need nothing in the called file.
    assert steps["call[flavour=plain]/build"].condition is not None
    assert steps["call[flavour=plain]/test"].condition is None
    assert steps["call[flavour=fancy]/build"].template_id == "call[flavour=fancy]/build"


def test_inputs_are_typed_with_defaults_and_outputs_map_to_the_called_jobs(
    tmp_path: Path,
) -> None:
    spec = load_pipeline_file(corpus(tmp_path) / "ci.yml")
    build = spec.steps["call[flavour=fancy]/build"]
    assert build.job["contexts"]["inputs"] == {
        "who": "fancy",
        "loud": True,
        "count": 2,
        "fail": False,
    }
    assert build.job["env"]["token"] == "${{ secrets.CALLER_TOKEN }}"
    caller = spec.steps["call[flavour=fancy]"]
    assert caller.job["outputs"] == {"greeting": "${{ needs.build.outputs.greeting }}"}
    assert caller.matrix == {"flavour": "fancy"}


CALLER = """\
name: caller
on: push
jobs:
  call:
    uses: ./.github/workflows/called.yml
{extra}
"""
CALLED = """\
on:
  workflow_call:
    inputs:
      who: {type: string, required: true}
      loud: {type: boolean, default: false}
jobs:
  one:
    runs-on: ubuntu-latest
    steps:
      - run: echo ${{ inputs.who }}
"""


def test_a_missing_required_input_is_located_at_the_caller(tmp_path: Path) -> None:
    folder = repository(tmp_path, {"ci.yml": CALLER.format(extra=""), "called.yml": CALLED})
    assert issues(folder / "ci.yml") == [
        f"{folder / 'ci.yml'}:5:11: jobs.call.uses: ./.github/workflows/called.yml needs "
        "input 'who' (required, no default)"
    ]


def test_unknown_and_mistyped_inputs_are_located(tmp_path: Path) -> None:
    extra = "    with:\n      who: ada\n      lowd: true\n      loud: maybe\n"
    folder = repository(tmp_path, {"ci.yml": CALLER.format(extra=extra), "called.yml": CALLED})
    found = issues(folder / "ci.yml")
    assert f"{folder / 'ci.yml'}:8:7: jobs.call.with.lowd: " in found[0]
    assert "has no input 'lowd'" in found[0] and "did you mean 'loud'" in found[0]
    assert found[1] == (
        f"{folder / 'ci.yml'}:9:13: jobs.call.with.loud: input 'loud' must be a boolean, "
        "not 'maybe'"
    )


def test_an_error_inside_the_called_file_is_located_there(tmp_path: Path) -> None:
    called = CALLED.replace(
        "    runs-on: ubuntu-latest\n", "    runs-on: ubuntu-latest\n    sterps: []\n"
    )
    called = "enf: {}\n" + called
    extra = "    with:\n      who: ada\n"
    folder = repository(tmp_path, {"ci.yml": CALLER.format(extra=extra), "called.yml": called})
    found = issues(folder / "ci.yml")
    assert found[0] == f"{folder / 'called.yml'}:1:1: enf: unknown key 'enf'; did you mean 'env'?"
    assert len(found) == 2 and found[1].startswith(
        f"{folder / 'called.yml'}:10:5: jobs.one.sterps: unknown key 'sterps'"
    )


def test_not_a_reusable_workflow_or_missing_file(tmp_path: Path) -> None:
    not_reusable = CALLED.replace("  workflow_call:", "  workflow_dispatch:")
    folder = repository(tmp_path, {"ci.yml": CALLER.format(extra=""), "called.yml": not_reusable})
    assert issues(folder / "ci.yml") == [
        f"{folder / 'ci.yml'}:5:11: jobs.call.uses: ./.github/workflows/called.yml is not a "
        "reusable workflow (its `on:` has no workflow_call)"
    ]
    (folder / "called.yml").unlink()
    found = issues(folder / "ci.yml")
    assert found[0].startswith(f"{folder / 'ci.yml'}:5:11: jobs.call.uses: reusable workflow")
    assert "not found" in found[0]


def _calls(target: str) -> str:
    return f"on: [push, workflow_call]\njobs:\n  next:\n    uses: ./.github/workflows/{target}\n"


def test_cycles_and_the_nesting_limit_are_located(tmp_path: Path) -> None:
    folder = repository(tmp_path, {"a.yml": _calls("b.yml"), "b.yml": _calls("a.yml")})
    assert issues(folder / "a.yml") == [
        f"{folder / 'b.yml'}:4:11: jobs.next.uses: reusable workflows call each other in a "
        "cycle: a.yml -> b.yml -> a.yml"
    ]
    files = {f"w{i}.yml": _calls(f"w{i + 1}.yml") for i in range(4)}
    files["w4.yml"] = CALLED.replace("who: {type: string, required: true}", "who: {type: string}")
    folder = repository(tmp_path / "deep", files)
    assert issues(folder / "w0.yml") == [
        f"{folder / 'w3.yml'}:4:11: jobs.next.uses: reusable workflows nest at most 4 levels "
        "deep: w0.yml -> w1.yml -> w2.yml -> w3.yml -> w4.yml"
    ]
    spec = load_pipeline_file(folder / "w1.yml")  # three levels below it: fine
    assert list(spec.steps) == ["next/next/next/one", "next/next/next", "next/next", "next"]


def test_a_remote_reusable_workflow_is_skipped_or_an_error_under_strict(tmp_path: Path) -> None:
    remote = "name: r\non: push\njobs:\n  call:\n    uses: octo/repo/.github/workflows/x.yml@v1\n"
    folder = repository(tmp_path, {"ci.yml": remote})
    spec = load_pipeline_file(folder / "ci.yml")
    assert spec.steps["call"].skip_reason == "unsupported-action"
    assert "octo/repo/.github/workflows/x.yml@v1" in spec.steps["call"].note
    assert issues(folder / "ci.yml", strict=True) == [
        f"{folder / 'ci.yml'}:5:11: jobs.call.uses: reusable workflow "
        "octo/repo/.github/workflows/x.yml@v1 is in another repository (not fetched) (--strict)"
    ]


def test_keys_a_calling_job_cannot_have_and_bad_expressions_are_located(tmp_path: Path) -> None:
    extra = "    runs-on: ubuntu-latest\n    with:\n      who: ${{ matrix. }}\n"
    folder = repository(tmp_path, {"ci.yml": CALLER.format(extra=extra), "called.yml": CALLED})
    found = issues(folder / "ci.yml")
    assert found[0] == (
        f"{folder / 'ci.yml'}:6:5: jobs.call.runs-on: unknown key 'runs-on' for a job that "
        "calls a workflow"
    )
    assert found[1].startswith(f"{folder / 'ci.yml'}:8:")
    assert "jobs.call.with.who:" in found[1]
