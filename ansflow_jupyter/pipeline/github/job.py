"""One job of a workflow file -> the StepSpec of each of its matrix legs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from yaml.nodes import Node, ScalarNode, SequenceNode

from ..conditions import ConditionSyntaxError
from ..source import Reporter, kind, to_number
from ..spec import RetrySpec, StepSpec, SubStep
from ..templates import did_you_mean
from .actions import classify
from .context import host_os, label_arch, label_os, runner_arch
from .evaluate import job_condition, render_static, static_value
from .matrix import text
from .nodes import check_expressions, child, env_mapping, items, plain, text_of, want_mapping
from .options import WorkflowOptions

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


class Job:
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
        self.env = {**workflow_env, **env_mapping(child(node, "env"), f"{self.path}.env", rep)}
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
        self.dynamic = False  # the matrix reads `needs`: legs are built at run time
        self.repo: Path | None = None  # where python-version-file is read at load time
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
        written = static_value(plain(child(strategy, "max-parallel") or _NULL), ctx)
        limit = _positive(written)
        if written is not None and limit is None:
            where = child(strategy, "max-parallel") or self.node
            path = f"{self.path}.strategy.max-parallel"
            self.rep.at(where, path, f"max-parallel must be a positive integer, not {written!r}")
        ctx["strategy"] = {
            "fail-fast": fail_fast,
            "job-index": index,
            "job-total": total,
            "max-parallel": limit or total,
        }
        ctx["job"] = {"status": "success"}
        skip, note = self._skip(ctx)
        substeps = self._substeps(ctx)
        if not skip and not self.dynamic:  # a placeholder's steps are checked per leg
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
            # At most this many legs at once (the executor counts them per job).
            "max_parallel": limit if limit is not None and limit < total else None,
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
        if child(self.node, "services") is not None or child(self.node, "container") is not None:
            return "needs-container", "the job needs `services` or `container` (Docker)"
        uses = text_of(child(self.node, "uses"))
        if uses and self.dynamic:
            note = f"calling {uses} with a matrix computed at run time is not supported"
            return "unsupported-action", note
        if uses:  # a local one is a Call (reuse.py): this is another repository's
            note = f"reusable workflow {uses} is in another repository (not fetched)"
            if self.options.strict:
                where = child(self.node, "uses") or self.node
                self.rep.at(where, f"{self.path}.uses", f"{note} (--strict)")
            return "unsupported-action", note
        runs_on = plain(child(self.node, "runs-on") or _NULL)
        labels = runs_on if isinstance(runs_on, list) else [runs_on]
        if isinstance(runs_on, Mapping):
            labels = list(runs_on.get("labels") or [])
        host = host_os()
        for label in [] if self.dynamic else labels:  # a placeholder: checked per leg
            rendered = render_static(str(label), ctx) if isinstance(label, str) else None
            wanted = label_os(rendered) if rendered else None
            if wanted is not None and wanted != host:
                return "runner-os", f"runs-on {rendered} needs {wanted}; this machine runs {host}"
            arch = label_arch(rendered) if rendered else None
            if arch is not None and arch != runner_arch():
                words = f"runs-on {rendered} needs an {arch} machine; this one is {runner_arch()}"
                return "runner-os", words
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
                skip, note = classify(uses, with_, ctx, self.repo)
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
            first = next((line.strip() for line in run.splitlines() if line.strip()), "")
            default = f"Run {uses or first}".rstrip()  # a blank script: just "Run"
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
_TRUE = ScalarNode("tag:yaml.org,2002:bool", "true")


def _positive(value: Any) -> int | None:
    """A positive integer written as a number or its text, else None."""
    if isinstance(value, bool) or value is None:
        return None
    text_ = str(value).strip()
    return int(text_) if text_.isdigit() and int(text_) > 0 else None


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
