"""A workflow file (`on:` + `jobs:`) -> the PipelineSpec the executor runs: one node per
job and matrix leg, whose steps the job runner executes in order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..conditions import ConditionSyntaxError
from ..expand import expanded_id
from ..source import Reporter, kind, to_number
from ..spec import PipelineSpec, RetrySpec, StepSpec, SubStep
from ..templates import did_you_mean
from .actions import classify
from .context import github_context, host_os, label_os, repository_root, runner_arch
from .evaluate import job_condition, render_static, static_value
from .matrix import expand, text
from .nodes import check_expressions, child, items, plain, text_of, want_mapping

TOP_KEYS = ("name", "run-name", "on", "env", "defaults", "jobs", "concurrency", "permissions")
JOB_KEYS = (
    "name", "runs-on", "needs", "if", "env", "defaults", "steps", "strategy", "outputs",
    "timeout-minutes", "continue-on-error", "services", "container", "concurrency",
    "permissions", "environment", "uses", "with", "secrets",
)  # fmt: skip
STEP_KEYS = (
    "id", "name", "run", "uses", "with", "env", "shell", "working-directory", "if",
    "continue-on-error", "timeout-minutes",
)  # fmt: skip
IGNORED = ("concurrency", "permissions", "environment")


@dataclass(frozen=True, slots=True)
class WorkflowOptions:
    """How a workflow is run locally: its event, dispatch inputs, a job to run, strictness."""

    event: str = "push"
    inputs: Mapping[str, str] = field(default_factory=dict)
    job: str | None = None
    strict: bool = False


def is_workflow(root: MappingNode) -> bool:
    """A mapping with `jobs` (and no `steps`) is a workflow file."""
    keys = {str(k.value) for k, _ in root.value}
    return "jobs" in keys and "steps" not in keys


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
    workflow_env = _env(child(root, "env"), "env", rep)
    contexts: dict[str, Any] = {"github": github, "inputs": inputs, "vars": {}}
    jobs_node = child(root, "jobs")
    if not isinstance(jobs_node, MappingNode) or not jobs_node.value:
        where = jobs_node if jobs_node is not None else root
        rep.at(where, "jobs", "jobs must be a mapping of job ids to jobs")
        return None
    job_ids = [name for name, _, _ in items(jobs_node)]
    legs_of: dict[str, list[str]] = {}
    leg_job: dict[str, str] = {}
    pending: list[tuple[str, Node, list[dict[str, Any]]]] = []
    dynamic: set[str] = set()
    for job_id, _, job in items(jobs_node):
        if not want_mapping(job, f"jobs.{job_id}", rep):
            continue
        legs = _legs(job, f"jobs.{job_id}", contexts, rep)
        if legs and _DYNAMIC in legs[0]:
            legs = [{}]
            dynamic.add(job_id)
        ids = [expanded_id(job_id, {k: text(v) for k, v in leg.items()}) for leg in legs]
        legs_of[job_id] = ids
        leg_job.update(dict.fromkeys(ids, job_id))
        pending.append((job_id, job, legs))
    needs_of = {job_id: _needs(job, job_id, job_ids, rep) for job_id, job, _ in pending}
    _check_cycles(needs_of, rep, jobs_node)
    selected = _selected(options.job, needs_of, rep, jobs_node)
    defaults = child(child(root, "defaults"), "run")
    steps: dict[str, StepSpec] = {}
    for job_id, job, legs in pending:
        if selected is not None and job_id not in selected:
            continue
        ctx = dict(contexts, env={**workflow_env})
        built = _Job(job_id, job, rep, options, ctx, defaults, workflow_env, overrides)
        if job_id in dynamic:
            built.dynamic = (
                "its matrix is computed at run time (from needs outputs): not supported yet"
            )
        needs = tuple(leg for need in needs_of[job_id] for leg in legs_of.get(need, []))
        for index, leg in enumerate(legs):
            spec = built.leg(leg, legs_of[job_id][index], needs, leg_job, len(legs), index)
            steps[spec.id] = spec
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


def _env(node: Node | None, path: str, rep: Reporter) -> dict[str, str]:
    """An `env:` mapping as written (its `${{ }}` are rendered by the job runner)."""
    if not want_mapping(node, path, rep):
        return {}
    check_expressions(node, path, rep)
    return {name: text_of(value) for name, _, value in items(node)}


def _legs(job: Node, path: str, contexts: Mapping[str, Any], rep: Reporter) -> list[dict[str, Any]]:
    """The matrix legs of a job ([{}] without a matrix)."""
    matrix = child(child(job, "strategy"), "matrix")
    if matrix is None:
        return [{}]
    raw = static_value(plain(matrix), contexts)
    if not isinstance(raw, Mapping):
        rep.at(matrix, f"{path}.strategy.matrix", f"matrix must be a mapping, not {kind(matrix)}")
        return [{}]
    axes: dict[str, list[Any]] = {}
    for name, value in raw.items():
        if name in ("include", "exclude"):
            continue
        dynamic = isinstance(value, str) and "${{" in value
        value = static_value(value, contexts)
        if value is None and dynamic:
            # e.g. fromJSON(needs.build.outputs.versions): only known once `build` ran.
            return [{_DYNAMIC: name}]
        if not isinstance(value, list):
            where = child(matrix, name) or matrix
            rep.at(where, f"{path}.strategy.matrix.{name}", f"matrix.{name} must be a list")
            return [{}]
        axes[name] = value
    include = [
        e for e in static_value(raw.get("include") or [], contexts) or [] if isinstance(e, Mapping)
    ]
    exclude = [
        e for e in static_value(raw.get("exclude") or [], contexts) or [] if isinstance(e, Mapping)
    ]
    legs = expand(axes, include, exclude)
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


class _Job:
    """One job of the file; `leg()` builds the node of each of its matrix legs."""

    def __init__(
        self,
        job_id: str,
        node: Node,
        rep: Reporter,
        options: WorkflowOptions,
        contexts: dict[str, Any],
        defaults: Node | None,
        workflow_env: Mapping[str, str],
        overrides: Mapping[str, str],
    ) -> None:
        self.id, self.node, self.rep, self.options = job_id, node, rep, options
        self.path = f"jobs.{job_id}"
        self.contexts = contexts
        self.overrides = overrides
        for name, key, _ in items(node):
            if name not in JOB_KEYS:
                hint = did_you_mean(name, JOB_KEYS)
                rep.at(key, f"{self.path}.{name}", f"unknown key '{name}'{hint}")
        self.env = {**workflow_env, **_env(child(node, "env"), f"{self.path}.env", rep)}
        job_defaults = child(child(node, "defaults"), "run")
        self.shell = text_of(child(job_defaults, "shell")) or text_of(child(defaults, "shell"))
        self.workdir = text_of(child(job_defaults, "working-directory")) or text_of(
            child(defaults, "working-directory")
        )
        self.outputs = {n: text_of(v) for n, _, v in items(child(node, "outputs"))}
        check_expressions(child(node, "outputs"), f"{self.path}.outputs", rep)
        check_expressions(child(node, "with"), f"{self.path}.with", rep)
        self.notes = [f"{k} is ignored locally" for k in IGNORED if child(node, k) is not None]
        self.condition_text = text_of(child(node, "if"))
        self.dynamic = ""
        self.steps_node = child(node, "steps")
        if child(node, "uses") is None and not isinstance(self.steps_node, SequenceNode):
            where = self.steps_node or node
            rep.at(where, f"{self.path}.steps", "a job needs a list of steps (or `uses`)")
        self.timeout = self._minutes(child(node, "timeout-minutes"), f"{self.path}.timeout-minutes")

    def _minutes(self, node: Node | None, path: str) -> float | None:
        if node is None:
            return None
        minutes = to_number(node)
        if minutes is None and "${{" not in text_of(node):
            self.rep.at(node, path, f"{path} must be a number of minutes, not {kind(node)}")
        return minutes * 60 if minutes is not None and minutes > 0 else None

    def leg(
        self,
        matrix: dict[str, Any],
        leg_id: str,
        needs: tuple[str, ...],
        leg_job: Mapping[str, str],
        total: int,
        index: int,
    ) -> StepSpec:
        """The node of one matrix leg."""
        ctx = dict(self.contexts, matrix=matrix)
        strategy = child(self.node, "strategy")
        fail_fast = static_value(plain(child(strategy, "fail-fast") or _TRUE), ctx)
        fail_fast = fail_fast is not False and fail_fast != "false"
        max_parallel = text_of(child(strategy, "max-parallel"))
        ctx["strategy"] = {
            "fail-fast": fail_fast,
            "job-index": index,
            "job-total": total,
            "max-parallel": int(max_parallel) if max_parallel.isdigit() else total,
        }
        ctx["job"] = {"status": "success"}
        skip, note = self._skip(ctx)
        substeps = self._substeps(ctx)
        if not skip:
            for sub in substeps:
                if sub.skip_reason == "tool-missing":
                    skip, note = "tool-missing", sub.note
        written = text_of(child(self.node, "name"))
        name = render_static(written, ctx) if written else None
        if name is None:
            name = leg_id
        elif matrix and "matrix." not in written:
            name = f"{name} ({', '.join(text(v) for v in matrix.values())})"
        condition = None
        if self.condition_text:
            try:
                condition = job_condition(self.condition_text, ctx, leg_job)
            except ConditionSyntaxError as exc:
                where = child(self.node, "if") or self.node
                self.rep.inside(where, exc.offset, f"{self.path}.if", exc.message)
        coe = static_value(plain(child(self.node, "continue-on-error") or _NULL), ctx)
        job = {
            "job_id": self.id,
            "env": self.env,
            "shell": self.shell,
            "working_directory": self.workdir,
            "outputs": self.outputs,
            "contexts": ctx,
            "notes": self.notes,
            "fail_fast": fail_fast and total > 1,
        }
        return StepSpec(
            id=leg_id,
            name=name,
            run="\n".join(s.name for s in substeps),
            shell="bash",
            needs=needs,
            env={**_runner_env(self.id), **self.overrides},
            working_directory=".",
            timeout=self.timeout,
            retry=_NO_RETRY,
            continue_on_error=coe is True or coe == "true",
            condition=condition,
            matrix={k: text(v) for k, v in matrix.items()},
            template_id=self.id,
            line=self.node.start_mark.line + 1,
            substeps=substeps,
            job=job,
            skip_reason=skip,
            note="; ".join([note, *self.notes] if note else self.notes),
        )

    def _skip(self, ctx: Mapping[str, Any]) -> tuple[str, str]:
        """Why this leg cannot run here (reason, words), or ('', '')."""
        if self.dynamic:
            return "unsupported-action", self.dynamic
        if child(self.node, "services") is not None or child(self.node, "container") is not None:
            return "needs-container", "the job needs `services` or `container` (Docker)"
        uses = text_of(child(self.node, "uses"))
        if uses:
            return "unsupported-action", f"reusable workflow {uses} is not supported yet"
        runs_on = plain(child(self.node, "runs-on") or _NULL)
        labels = runs_on if isinstance(runs_on, list) else [runs_on]
        if isinstance(runs_on, Mapping):
            labels = list(runs_on.get("labels") or [])
        host = host_os()
        for label in labels:
            rendered = render_static(str(label), ctx) if isinstance(label, str) else None
            wanted = label_os(rendered) if rendered else None
            if wanted is not None and wanted != host:
                return "runner-os", f"runs-on {rendered} needs {wanted}; this machine runs {host}"
        return "", ""

    def _substeps(self, ctx: Mapping[str, Any]) -> tuple[SubStep, ...]:
        if not isinstance(self.steps_node, SequenceNode):
            return ()
        out: list[SubStep] = []
        for index, node in enumerate(self.steps_node.value):
            path = f"{self.path}.steps[{index}]"
            if not want_mapping(node, path, self.rep):
                continue
            for name, key, _ in items(node):
                if name not in STEP_KEYS:
                    hint = did_you_mean(name, STEP_KEYS)
                    self.rep.at(key, f"{path}.{name}", f"unknown key '{name}'{hint}")
            check_expressions(node, path, self.rep)
            run, uses = text_of(child(node, "run")), text_of(child(node, "uses"))
            if bool(run) == bool(uses):
                self.rep.at(node, path, "a step needs exactly one of `run` or `uses`")
                continue
            with_ = {k: text_of(v) for k, _, v in items(child(node, "with"))}
            skip, note = ("", "")
            if uses:
                skip, note = classify(uses, with_, ctx)
                if skip == "unsupported-action" and self.options.strict:
                    self.rep.at(child(node, "uses") or node, f"{path}.uses", f"{note} (--strict)")
            condition = text_of(child(node, "if"))
            if condition:
                try:
                    job_condition(condition, {}, {})
                except ConditionSyntaxError as exc:
                    where = child(node, "if") or node
                    self.rep.inside(where, exc.offset, f"{path}.if", exc.message)
            written = text_of(child(node, "name"))
            default = f"Run {uses}" if uses else f"Run {run.strip().splitlines()[0]}"
            out.append(
                SubStep(
                    index=index,
                    id=text_of(child(node, "id")),
                    name=(render_static(written, ctx) or written) if written else default,
                    run=run,
                    uses=uses,
                    with_=with_,
                    env={k: text_of(v) for k, _, v in items(child(node, "env"))},
                    shell=text_of(child(node, "shell")),
                    working_directory=text_of(child(node, "working-directory")),
                    condition=condition,
                    continue_on_error=text_of(child(node, "continue-on-error")) or "false",
                    timeout=self._minutes(
                        child(node, "timeout-minutes"), f"{path}.timeout-minutes"
                    ),
                    skip_reason=skip,
                    note=note,
                )
            )
        return tuple(out)


_NULL = ScalarNode("tag:yaml.org,2002:null", "")
_NO_RETRY = RetrySpec()
#: The one leg of a matrix computed at run time (from needs outputs): not supported yet.
_DYNAMIC = "\0dynamic"
_TRUE = ScalarNode("tag:yaml.org,2002:bool", "true")


def _runner_env(job_id: str) -> dict[str, str]:
    """The variables every GitHub job sees (the runner adds the per-run ones)."""
    return {
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_JOB": job_id,
        "RUNNER_OS": host_os(),
        "RUNNER_ARCH": runner_arch(),
        "RUNNER_NAME": "ansflow",
        "RUNNER_ENVIRONMENT": "self-hosted",
    }
