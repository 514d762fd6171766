"""The entry points: text or file in, a valid PipelineSpec (or every issue at once) out."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from yaml.nodes import MappingNode

from .checker import Checker
from .errors import SpecError, SpecIssue
from .expand import build_steps, check_size, expansions
from .github import WorkflowOptions
from .graph import resolve_needs
from .notebooks import check_notebook_file, check_notebooks, notebook_pipeline
from .source import MAX_BYTES, Reporter, compose, decode, duplicate_keys
from .spec import PipelineSpec
from .templates import hint_budget


def load_pipeline(
    text: str | bytes,
    *,
    path: str | None = None,
    base_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    workflow: WorkflowOptions | None = None,
) -> PipelineSpec:
    """Parse, validate and expand a pipeline; raises SpecError listing every issue.

    A GitHub Actions workflow file (`on:` + `jobs:`) loads into the same model; `workflow`
    says how it runs locally (event, inputs, one job, strict).

    `env` holds run-time overrides (REST `env`, CLI `--env`): they are merged over the
    pipeline's `env` (and so appear in `PipelineSpec.env`) before `${{ env.X }}` substitution.
    """
    spec, issues = _load(text, path, base_dir, env, workflow)
    if spec is None:
        raise SpecError(issues)
    return spec


def load_pipeline_file(
    path: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    parameters: Sequence[tuple[str, str]] = (),
    workflow: WorkflowOptions | None = None,
) -> PipelineSpec:
    """Load a pipeline file; relative working directories resolve against its folder.

    A notebook (`.ipynb`) is a one-step pipeline running it, with `parameters` (NAME,
    VALUE text) typed as papermill's `-p` types them."""
    file = Path(path)
    if file.suffix == ".ipynb":
        check_notebook_file(str(path))
        text = notebook_pipeline(str(file), parameters)
        return load_pipeline(text, path=str(path), base_dir=file.resolve().parent, env=env)
    try:
        size = file.stat().st_size
        # Never read a huge file into memory just to say it is too large.
        data = file.read_bytes() if size <= MAX_BYTES else b"\0" * (MAX_BYTES + 1)
    except FileNotFoundError:
        raise SpecError(
            [SpecIssue(f"pipeline file not found: {file}", 0, 0, "", str(path))]
        ) from None
    except OSError as exc:
        message = f"cannot read pipeline file {file}: {exc.strerror or exc}"
        raise SpecError([SpecIssue(message, 0, 0, "", str(path))]) from None
    if size > MAX_BYTES:
        message = f"pipeline file is too large ({size / 1e6:.1f} MB > 1 MiB)"
        raise SpecError([SpecIssue(message, 0, 0, "", str(path))])
    return load_pipeline(
        data, path=str(path), base_dir=file.resolve().parent, env=env, workflow=workflow
    )


def validate(
    text: str | bytes, path: str | None = None, *, env: Mapping[str, str] | None = None
) -> list[SpecIssue]:
    """Every issue of a pipeline (empty when valid); never raises."""
    try:
        return _load(text, path, None, env)[1]
    except Exception as exc:  # a bug here must not break the editor or the REST endpoint
        return [SpecIssue(f"internal error while validating: {exc!r}", 0, 0, "", path)]


def _load(
    data: str | bytes,
    path: str | None,
    base_dir: Path | None,
    overrides: Mapping[str, str] | None,
    workflow: WorkflowOptions | None = None,
) -> tuple[PipelineSpec | None, list[SpecIssue]]:
    with hint_budget():
        return _parse(data, path, base_dir, overrides, workflow)


def _parse(
    data: str | bytes,
    path: str | None,
    base_dir: Path | None,
    overrides: Mapping[str, str] | None,
    workflow: WorkflowOptions | None,
) -> tuple[PipelineSpec | None, list[SpecIssue]]:
    rep = Reporter(path)
    text = decode(data, rep)
    if text is None:
        return None, rep.issues()
    rep = Reporter(path, text)
    root = compose(text, rep)
    if root is None:
        return None, rep.issues()
    if is_workflow(root):
        from .github.loader import load_workflow  # only workflows pay for the loader

        if duplicate_keys(root, rep):  # the workflow loader reads the first of each
            return None, rep.issues()

        options = workflow or WorkflowOptions()
        flow = load_workflow(root, text, rep, path, base_dir, options, overrides or {})
        return (flow, []) if flow is not None else (None, rep.issues())
    doc = Checker(rep).document(root)
    if not check_size(doc.steps, rep):
        return None, rep.issues()
    env = {k: t.value for k, t in doc.env.items()} | dict(overrides or {})
    needs = resolve_needs(doc.steps, expansions(doc.steps), rep)
    steps = build_steps(doc.steps, needs, env, doc.defaults, rep, doc.secrets)
    # Notebooks resolve against the file's folder, also when only validating it.
    folder = Path(path).resolve().parent if path else Path.cwd()
    check_notebooks(doc.steps, base_dir if base_dir is not None else folder, rep)
    if rep.failed or doc.name is None:
        return None, rep.issues()
    spec = PipelineSpec(
        name=doc.name,
        steps=steps,
        env=env,
        secrets=doc.secrets,
        max_parallel=doc.max_parallel,
        source=text,
        path=path,
        base_dir=base_dir if base_dir is not None else Path.cwd(),
        env_inherit=doc.env_inherit,
    )
    return spec, []


def is_workflow(root: MappingNode) -> bool:
    """A mapping with `jobs` (and no `steps`) is a GitHub Actions workflow file."""
    keys = {str(k.value) for k, _ in root.value}
    return "jobs" in keys and "steps" not in keys
