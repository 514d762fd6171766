"""A workflow file (`on:` + `jobs:`) -> the PipelineSpec the executor runs: one node per
job and matrix leg, whose steps the job runner executes in order."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from yaml.nodes import MappingNode, Node, SequenceNode

from ..expand import expanded_id
from ..source import Reporter, kind
from ..spec import PipelineSpec, StepSpec
from ..templates import did_you_mean
from .context import github_context, repository_root
from .dynamic import DynamicMatrix, placeholder, reads_needs
from .evaluate import static_value
from .job import Job
from .matrix import expand, text
from .nodes import child, env_mapping, items, plain, text_of, want_mapping
from .options import WorkflowOptions
from .reuse import Call, Level

#: The one leg of a matrix computed at run time (from needs outputs): see dynamic.py.
_DYNAMIC = "\0dynamic"
TOP_KEYS = ("name", "run-name", "on", "env", "defaults", "jobs", "concurrency", "permissions")


def load_workflow(
    root: MappingNode,
    text_: str,
    rep: Reporter,
    path: str | None,
    base_dir: Path | None,
    options: WorkflowOptions,
    overrides: Mapping[str, str],
) -> PipelineSpec | None:
    """The PipelineSpec of a workflow, or None after reporting every located issue."""
    for name, key, _ in items(root):
        if name not in TOP_KEYS:
            rep.at(key, name, f"unknown key '{name}'" + did_you_mean(name, TOP_KEYS))
    start = Path(path).resolve().parent if path else (base_dir or Path.cwd())
    repo = repository_root(start)
    file_name = Path(path).name if path else "workflow"
    name = text_of(child(root, "name")) or file_name
    inputs = _inputs(child(root, "on"), options)
    github = github_context(repo, options.event, name)
    workflow_env = env_mapping(child(root, "env"), "env", rep)
    contexts: dict[str, Any] = {"github": github, "inputs": inputs, "vars": {}}
    jobs_node = child(root, "jobs")
    if not isinstance(jobs_node, MappingNode) or not jobs_node.value:
        where = jobs_node if jobs_node is not None else root
        rep.at(where, "jobs", "jobs must be a mapping of job ids to jobs")
        return None
    level = Level(
        rep=rep,
        repo=repo,
        contexts=contexts,
        workflow_env=workflow_env,
        defaults=child(child(root, "defaults"), "run"),
        options=options,
        overrides=overrides,
        chain=(str(Path(path).resolve()),) if path else (),
    )
    steps: dict[str, StepSpec] = {}
    build_jobs(level, jobs_node, steps)
    if rep.failed:
        return None
    return PipelineSpec(
        name=name,
        steps=steps,
        env=dict(overrides),
        secrets=(),
        max_parallel=None,
        source=text_,
        path=path,
        base_dir=repo,
    )


def build_jobs(level: Level, jobs_node: MappingNode, steps: dict[str, StepSpec]) -> None:
    """Add the nodes of every job of one workflow file (and of the workflows it calls)."""
    rep = level.rep
    job_ids = [name for name, _, _ in items(jobs_node)]
    legs_of: dict[str, list[str]] = {}
    leg_job: dict[str, str] = {}
    pending: list[tuple[str, Node, list[dict[str, Any]]]] = []
    dynamic: set[str] = set()
    for job_id, _, job in items(jobs_node):
        if not want_mapping(job, f"jobs.{job_id}", rep):
            continue
        legs = _legs(job, f"jobs.{job_id}", level.contexts, rep)
        if legs and _DYNAMIC in legs[0]:
            legs = [{}]
            dynamic.add(job_id)
        ids = [
            level.prefix + expanded_id(job_id, {k: text(v) for k, v in leg.items()}) for leg in legs
        ]
        legs_of[job_id] = ids
        leg_job.update(dict.fromkeys(ids, level.prefix + job_id))
        pending.append((job_id, job, legs))
    needs_of = {job_id: _needs(job, job_id, job_ids, rep) for job_id, job, _ in pending}
    _check_cycles(needs_of, rep, jobs_node)
    selected = _selected(level.options.job, needs_of, rep, jobs_node) if not level.prefix else None
    for job_id, job, legs in pending:
        if selected is not None and job_id not in selected:
            continue
        needs = tuple(leg for need in needs_of[job_id] for leg in legs_of.get(need, []))
        first = not needs_of[job_id]  # the caller's needs and `if:` apply to these
        if first:
            needs = level.needs + needs
        if text_of(child(job, "uses")).startswith("./") and job_id not in dynamic:
            call = Call(level, job_id, job, legs, legs_of[job_id], needs, leg_job)
            call.build(steps, build_jobs)
            continue
        ctx = dict(level.contexts, env={**level.workflow_env})
        built = Job(
            job_id,
            job,
            rep,
            level.options,
            ctx,
            level.defaults,
            level.workflow_env,
            level.overrides,
        )
        built.repo = level.repo
        built.dynamic = job_id in dynamic
        for index, leg in enumerate(legs):
            spec = built.leg(leg, legs_of[job_id][index], needs, leg_job, len(legs), index)
            spec = level.adopt(spec, job_id, first)
            if built.dynamic and not spec.skip_reason:
                matrix = child(child(job, "strategy"), "matrix")
                assert matrix is not None
                adopt = _adopter(level, job_id, first)
                found = DynamicMatrix(built, matrix, needs, leg_job, level.prefix, adopt)
                spec = placeholder(spec, found)
            steps[spec.id] = spec


def _adopter(level: Level, job_id: str, first: bool) -> Callable[[StepSpec], StepSpec]:
    return lambda spec: level.adopt(spec, job_id, first)


def _inputs(on: Node | None, options: WorkflowOptions) -> dict[str, Any]:
    """`inputs`: workflow_dispatch/workflow_call defaults, overridden by `--input`."""
    out: dict[str, Any] = {}
    for event in ("workflow_dispatch", "workflow_call"):
        for name, _, spec in items(child(child(on, event), "inputs")):
            given = child(spec, "default")
            default = plain(given) if given is not None else ""
            out[name] = default if default is not None else ""
    out.update(options.inputs)
    return out


def _legs(job: Node, path: str, contexts: Mapping[str, Any], rep: Reporter) -> list[dict[str, Any]]:
    """The matrix legs of a job ([{}] without a matrix)."""
    matrix = child(child(job, "strategy"), "matrix")
    if matrix is None:
        return [{}]
    if reads_needs(matrix):
        # e.g. fromJSON(needs.build.outputs.versions): only known once `build` ran.
        return [{_DYNAMIC: ""}]
    raw = static_value(plain(matrix), contexts)
    if not isinstance(raw, Mapping):
        rep.at(matrix, f"{path}.strategy.matrix", f"matrix must be a mapping, not {kind(matrix)}")
        return [{}]
    axes: dict[str, list[Any]] = {}
    for name, value in raw.items():
        if name in ("include", "exclude"):
            continue
        value = static_value(value, contexts)
        if not isinstance(value, list):
            where = child(matrix, name) or matrix
            rep.at(where, f"{path}.strategy.matrix.{name}", f"matrix.{name} must be a list")
            return [{}]
        axes[name] = value
    extra: dict[str, list[Mapping[str, Any]]] = {}
    for name in ("include", "exclude"):
        value = static_value(raw.get(name) or [], contexts) or []
        if not isinstance(value, list):
            where = child(matrix, name) or matrix
            rep.at(where, f"{path}.strategy.matrix.{name}", f"matrix.{name} must be a list")
            return [{}]
        extra[name] = [e for e in value if isinstance(e, Mapping)]
    legs = expand(axes, extra["include"], extra["exclude"])
    if not legs:
        rep.at(matrix, f"{path}.strategy.matrix", "the matrix has no legs (everything excluded)")
        return [{}]
    return legs


def _needs(job: Node, job_id: str, job_ids: list[str], rep: Reporter) -> list[str]:
    node = child(job, "needs")
    if node is None:
        return []
    entries = node.value if isinstance(node, SequenceNode) else [node]
    out: list[str] = []
    for entry in entries:
        name = text_of(entry)
        if name not in job_ids or name == job_id:
            hint = did_you_mean(name, [j for j in job_ids if j != job_id])
            rep.at(entry, f"jobs.{job_id}.needs", f"needs: unknown job '{name}'{hint}")
        else:
            out.append(name)
    return out


def _check_cycles(needs_of: Mapping[str, list[str]], rep: Reporter, jobs: MappingNode) -> None:
    state: dict[str, int] = {}

    def visit(job: str, trail: list[str]) -> None:
        if state.get(job) == 2:
            return
        if state.get(job) == 1:
            cycle = " -> ".join([*trail[trail.index(job) :], job])
            rep.at(child(jobs, job) or jobs, f"jobs.{job}.needs", f"needs form a cycle: {cycle}")
            return
        state[job] = 1
        for need in needs_of.get(job, []):
            visit(need, [*trail, job])
        state[job] = 2

    for job in needs_of:
        visit(job, [])


def _selected(
    job: str | None, needs_of: Mapping[str, list[str]], rep: Reporter, jobs: MappingNode
) -> set[str] | None:
    """`--job ID`: that job and everything it needs (None: every job)."""
    if job is None:
        return None
    if job not in needs_of:
        rep.at(jobs, "jobs", f"no job '{job}' in this workflow" + did_you_mean(job, list(needs_of)))
        return set()
    out: set[str] = set()
    todo = [job]
    while todo:
        current = todo.pop()
        if current not in out:
            out.add(current)
            todo.extend(needs_of.get(current, []))
    return out
