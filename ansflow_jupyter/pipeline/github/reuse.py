"""Reusable workflows: a job with `uses: ./.github/workflows/x.yml` runs that file's jobs.

The called jobs become nodes `caller/job` (`caller[leg]/job` for each leg of the caller's
matrix); the ones that need nothing in the called file wait for the caller's `needs` and
obey its `if:`. One more node, the caller's own id, waits for all of them: it fails when
one of them failed and carries `on.workflow_call.outputs`, so `needs.caller.outputs.X`
and `needs.caller.result` read as on GitHub.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..conditions import ConditionSyntaxError
from ..source import MAX_BYTES, Reporter, compose, decode
from ..spec import Condition, RetrySpec, StepSpec, SubStep
from ..templates import did_you_mean
from .calls import AfterCalledJobs, Both
from .evaluate import job_condition, render_static, static_value
from .matrix import text
from .nodes import check_expressions, child, env_mapping, items, plain, text_of
from .options import WorkflowOptions

#: A top-level workflow and the reusable workflows it calls, nested, count as levels.
MAX_LEVELS = 4
INPUT_TYPES = ("string", "number", "boolean")
#: The keys of a job that calls a reusable workflow (GitHub allows no others).
CALL_KEYS = (
    "name", "uses", "with", "secrets", "needs", "if", "strategy", "permissions", "concurrency",
)  # fmt: skip
_JOBS_CONTEXT = re.compile(r"\bjobs\.")


@dataclass
class Level:
    """One workflow file being turned into nodes: the top file, or one a job calls."""

    rep: Reporter
    repo: Path
    contexts: dict[str, Any]  # github, inputs, vars
    workflow_env: dict[str, str]
    defaults: Node | None  # `defaults.run`
    options: WorkflowOptions
    overrides: Mapping[str, str]
    prefix: str = ""  # "caller/" for the jobs of a called workflow
    chain: tuple[str, ...] = ()  # the files from the top one down to this one
    needs: tuple[str, ...] = ()  # the caller's needs, for the jobs that need nothing here
    condition: Condition | None = None  # the caller's `if:`, for the same jobs
    skip: tuple[str, str] = ("", "")  # (reason, words): every job here is skipped

    def adopt(self, spec: StepSpec, job_id: str, first: bool) -> StepSpec:
        """A job's node as a node of this level (prefixed, the caller's rules applied)."""
        if not self.prefix:
            return spec
        changes: dict[str, Any] = {"template_id": self.prefix + job_id}
        if first and self.condition is not None:
            own = spec.condition
            changes["condition"] = self.condition if own is None else Both(self.condition, own)
        if self.skip[0] and not spec.skip_reason:
            changes["skip_reason"], changes["note"] = self.skip
        return dataclasses.replace(spec, **changes)


BuildJobs = Callable[[Level, MappingNode, dict[str, StepSpec]], None]


class Call:
    """A job that calls a local reusable workflow."""

    def __init__(
        self,
        level: Level,
        job_id: str,
        node: Node,
        legs: list[dict[str, Any]],
        leg_ids: list[str],
        needs: tuple[str, ...],
        leg_job: Mapping[str, str],
    ) -> None:
        self.level, self.id, self.node = level, job_id, node
        self.legs, self.leg_ids, self.needs, self.leg_job = legs, leg_ids, needs, leg_job
        self.path = f"jobs.{job_id}"
        self.rep = level.rep
        self.uses_node = child(node, "uses") or node
        self.uses = text_of(child(node, "uses"))
        for name, key, _ in items(node):
            if name not in CALL_KEYS:
                hint = did_you_mean(name, CALL_KEYS)
                message = f"unknown key '{name}' for a job that calls a workflow{hint}"
                self.rep.at(key, f"{self.path}.{name}", message)
        check_expressions(child(node, "with"), f"{self.path}.with", self.rep)

    def build(self, steps: dict[str, StepSpec], build_jobs: BuildJobs) -> None:
        """Add the called jobs' nodes and the caller's node, for each leg of the caller."""
        loaded = self._load()
        if loaded is None:
            return
        file, display, root, rep = loaded
        from .loader import TOP_KEYS  # here: loader.py imports this module

        for name, key, _ in items(root):
            if name not in TOP_KEYS:
                rep.at(key, name, f"unknown key '{name}'" + did_you_mean(name, TOP_KEYS))
        call = _workflow_call(child(root, "on"))
        if call is None:
            self._error(f"{self.uses} is not a reusable workflow (its `on:` has no workflow_call)")
            return
        jobs_node = child(root, "jobs")
        if not isinstance(jobs_node, MappingNode) or not jobs_node.value:
            rep.at(jobs_node or root, "jobs", "jobs must be a mapping of job ids to jobs")
            return
        self._check_with(call)
        secret_env = self._secrets(call)
        called_env = env_mapping(child(root, "env"), "env", rep)
        outputs = _outputs(child(call, "outputs"), rep)
        for index, leg in enumerate(self.legs):
            leg_id = self.leg_ids[index]
            ctx = dict(self.level.contexts, matrix=leg, env=dict(self.level.workflow_env))
            ctx["strategy"] = {"job-index": index, "job-total": len(self.legs)}
            inputs, late = self._inputs(child(call, "inputs"), ctx, rep)
            skip = self.level.skip
            if late and not skip[0]:
                skip = ("unsupported-action", f"with: {late} is only known at run time")
                if self.level.options.strict:
                    where = child(child(self.node, "with"), late) or self.uses_node
                    self.rep.at(where, f"{self.path}.with.{late}", f"{skip[1]} (--strict)")
            level = Level(
                rep=rep,
                repo=self.level.repo,
                contexts={**self.level.contexts, "inputs": inputs},
                workflow_env={**secret_env, **called_env},
                defaults=child(child(root, "defaults"), "run"),
                options=dataclasses.replace(self.level.options, job=None),
                overrides=self.level.overrides,
                prefix=f"{leg_id}/",
                chain=(*self.level.chain, file),
                needs=self.needs,
                condition=self._condition(ctx),
                skip=skip,
            )
            before = set(steps)
            build_jobs(level, jobs_node, steps)
            called = tuple(sid for sid in steps if sid not in before)
            steps[leg_id] = self._caller_node(leg_id, leg, ctx, called, outputs, display)

    def _error(self, message: str) -> None:
        self.rep.at(self.uses_node, f"{self.path}.uses", message)

    def _load(self) -> tuple[str, str, MappingNode, Reporter] | None:
        """(resolved file, its path for messages, its root, its reporter), or None."""
        if "@" in self.uses:
            self._error(f"a local reusable workflow takes no @ref: {self.uses}")
            return None
        repo = self.level.repo.resolve()
        target = (repo / self.uses[2:]).resolve()
        if not target.is_relative_to(repo) or not target.is_file():
            self._error(f"reusable workflow {self.uses} not found in {repo}")
            return None
        file = str(target)
        if file in self.level.chain:
            names = [Path(f).name for f in (*self.level.chain, file)]
            self._error(f"reusable workflows call each other in a cycle: {' -> '.join(names)}")
            return None
        if len(self.level.chain) >= MAX_LEVELS:
            chain = " -> ".join(Path(f).name for f in (*self.level.chain, file))
            self._error(f"reusable workflows nest at most {MAX_LEVELS} levels deep: {chain}")
            return None
        try:
            data = (
                target.read_bytes()
                if target.stat().st_size <= MAX_BYTES
                else b"\0" * (MAX_BYTES + 1)
            )
        except OSError as exc:
            self._error(f"cannot read {self.uses}: {exc.strerror or exc}")
            return None
        display = target.relative_to(repo).as_posix()
        rep = _sharing(self.rep, str(target))
        source = decode(data, rep)
        if source is None:
            return None
        rep.lines = source.splitlines()
        root = compose(source, rep)
        if root is None:
            return None
        return file, display, root, rep

    def _check_with(self, call: Node) -> None:
        """Every `with:` key is an input the called workflow declares."""
        declared = [name for name, _, _ in items(child(call, "inputs"))]
        for name, key, _ in items(child(self.node, "with")):
            if name not in declared:
                hint = did_you_mean(name, declared)
                message = f"{self.uses} has no input '{name}' (on.workflow_call.inputs){hint}"
                self.rep.at(key, f"{self.path}.with.{name}", message)

    def _inputs(
        self, declared: Node | None, ctx: Mapping[str, Any], rep: Reporter
    ) -> tuple[dict[str, Any], str]:
        """The `inputs` context of the called workflow, typed; and the first input only
        known at run time ('' when none)."""
        given = {name: value for name, _, value in items(child(self.node, "with"))}
        out: dict[str, Any] = {}
        late = ""
        for name, _, spec in items(declared):
            kind = text_of(child(spec, "type")) or "string"
            if kind not in INPUT_TYPES:
                where = child(spec, "type") or spec
                path = f"on.workflow_call.inputs.{name}.type"
                rep.at(where, path, f"input type must be one of {', '.join(INPUT_TYPES)}")
                continue
            default = child(spec, "default")
            if name in given:
                node, reporter, path = given[name], self.rep, f"{self.path}.with.{name}"
            elif default is not None:
                node, reporter = default, rep
                path = f"on.workflow_call.inputs.{name}.default"
            else:
                if text_of(child(spec, "required")) == "true":
                    self._error(f"{self.uses} needs input '{name}' (required, no default)")
                out[name] = {"boolean": False, "number": 0}.get(kind, "")
                continue
            raw = plain(node)
            value = static_value(raw, ctx)
            if isinstance(raw, str) and value is raw and "${{" in raw:
                value = render_static(raw, ctx)
            if value is None and isinstance(raw, str) and "${{" in raw:
                late = late or name
                out[name] = ""
                continue
            typed = _typed(value, kind)
            if typed is None:
                reporter.at(node, path, f"input '{name}' must be a {kind}, not {text(value)!r}")
                continue
            out[name] = typed
        return out, late

    def _secrets(self, call: Node) -> dict[str, str]:
        """`secrets:` as variables of the called jobs (the runner reads secrets from its
        environment: `secrets.NAME` then finds the caller's value, masked)."""
        node = child(self.node, "secrets")
        inherit = isinstance(node, ScalarNode) and text_of(node) == "inherit"
        given = {name: value for name, _, value in items(node)}
        check_expressions(node, f"{self.path}.secrets", self.rep)
        if not inherit:
            for name, _, spec in items(child(call, "secrets")):
                if text_of(child(spec, "required")) == "true" and name not in given:
                    self._error(f"{self.uses} needs secret '{name}' (required)")
        return {name: text_of(value) for name, value in given.items()}

    def _condition(self, ctx: Mapping[str, Any]) -> Condition | None:
        written = text_of(child(self.node, "if"))
        if not written:
            return None
        try:
            return job_condition(written, ctx, self.leg_job)
        except ConditionSyntaxError as exc:
            where = child(self.node, "if") or self.node
            self.rep.inside(where, exc.offset, f"{self.path}.if", exc.message)
            return None

    def _caller_node(
        self,
        leg_id: str,
        leg: Mapping[str, Any],
        ctx: dict[str, Any],
        called: tuple[str, ...],
        outputs: Mapping[str, str],
        display: str,
    ) -> StepSpec:
        """The caller's node: waits for its called jobs, fails when one failed, and holds
        the called workflow's outputs."""
        written = text_of(child(self.node, "name"))
        name = (render_static(written, ctx) or written) if written else leg_id
        script = (
            "echo \"results: ${{ join(needs.*.result, ', ') }}\"\n"
            "exit ${{ (contains(needs.*.result, 'failure') "
            "|| contains(needs.*.result, 'cancelled')) && 1 || 0 }}\n"
        )
        collect = SubStep(index=0, id="", name=f"Results of {display}", run=script)
        job = {
            "job_id": self.id,
            "env": {},
            "shell": "",
            "working_directory": "",
            "outputs": dict(outputs),
            "contexts": dict(ctx, job={"status": "success"}),
            "notes": [f"runs the jobs of {display}"],
            "fail_fast": False,
        }
        return StepSpec(
            id=leg_id,
            name=name,
            run=collect.name,
            shell="bash",
            needs=called,
            env={**self.level.overrides},
            working_directory=".",
            timeout=None,
            retry=RetrySpec(),
            continue_on_error=False,
            condition=AfterCalledJobs(),
            matrix={k: text(v) for k, v in leg.items()},
            template_id=self.level.prefix + self.id,
            line=self.node.start_mark.line + 1,
            substeps=(collect,),
            job=job,
            skip_reason=self.level.skip[0],
            note=self.level.skip[1],
        )


def _workflow_call(on: Node | None) -> Node | None:
    """The `workflow_call` trigger (an empty mapping when written bare), or None."""
    if isinstance(on, ScalarNode):
        return MappingNode("tag:yaml.org,2002:map", []) if text_of(on) == "workflow_call" else None
    if isinstance(on, SequenceNode):
        names = [text_of(item) for item in on.value]
        return MappingNode("tag:yaml.org,2002:map", []) if "workflow_call" in names else None
    for name, _, value in items(on):
        if name == "workflow_call":
            return (
                value
                if isinstance(value, MappingNode)
                else MappingNode("tag:yaml.org,2002:map", [])
            )
    return None


def _outputs(node: Node | None, rep: Reporter) -> dict[str, str]:
    """`on.workflow_call.outputs`: each `value` reads `jobs.X.outputs.Y`, which the
    caller's node evaluates as `needs.X.outputs.Y` (its needs are the called jobs)."""
    out: dict[str, str] = {}
    for name, _, spec in items(node):
        value = text_of(child(spec, "value"))
        if not value:
            rep.at(spec, f"on.workflow_call.outputs.{name}", "an output needs a `value`")
            continue
        out[name] = _JOBS_CONTEXT.sub("needs.", value)
    return out


def _typed(value: Any, kind: str) -> Any:
    """An input value as its declared type, or None when it is not one."""
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        return {"true": True, "false": False}.get(str(value).strip().lower())
    if kind == "number":
        if isinstance(value, bool):
            return None
        try:
            number = float(str(value))
        except ValueError:
            return None
        return int(number) if number.is_integer() else number
    return text(value)


def _sharing(parent: Reporter, file: str) -> Reporter:
    """A reporter for a called file whose issues land in `parent`'s list (one report)."""
    rep = Reporter(file)
    rep._issues = parent._issues  # one list: every file's issues in one report
    return rep
