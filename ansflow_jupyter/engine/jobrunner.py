"""Runs one workflow job: its steps in order, in the job's own workspace.

`python -m ansflow_jupyter.engine.jobrunner PLAN_JSON` is the process the executor starts
for a workflow job (one node of the DAG). Each job step runs as its own subprocess with the
shell GitHub uses, and is announced with `::job-step::NAME` / `::end-job-step status=…::`
lines, which the line processor turns into `group_update` events of kind `job-step`.
Between steps it carries `GITHUB_ENV`, `GITHUB_PATH`, `GITHUB_OUTPUT` (`steps.ID.outputs`)
and appends each `GITHUB_STEP_SUMMARY` to the job's summary. Job outputs are written to
`$ANSFLOW_OUTPUT`, so `needs.JOB.outputs.X` works like any step output.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..pipeline.conditions import parse_condition
from ..pipeline.expr_values import truthy
from ..pipeline.expressions import Scope
from ..pipeline.github.actions import action_name
from ..pipeline.github.context import CONTEXTS, find_node, find_python, host_os, runner_arch
from . import jobbox, workspace
from .jobactions import become_subreaper, checkout, run_action, sweep
from .jobartifacts import download, upload
from .jobbaipp import NAME as BAIPP
from .jobbaipp import build_and_inspect
from .jobcache import ACTIONS as CACHE_ACTIONS
from .jobcache import Caches
from .jobcomposite import run_composite
from .jobfiles import Secrets, escape, read_env_file, render

# How GitHub runs each shell: {0} is the script file.
SHELLS = {
    "": ["bash", "-e", "{0}"],  # no `shell:` on Linux and macOS
    "bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail", "{0}"],
    "sh": ["sh", "-e", "{0}"],
    "python": ["python", "{0}"],
    "pwsh": ["pwsh", "-command", ". '{0}'"],
}
SUFFIX = {"python": ".py", "pwsh": ".ps1"}


def announce(line: str) -> None:
    """One control line on stdout, after everything printed before it."""
    sys.stderr.flush()
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def command_argv(shell: str, script: Path) -> list[str]:
    """The command line of a job step (`shell: cmd {0}` forms are used as written)."""
    template = SHELLS.get(shell) or shell.split()
    if "{0}" not in " ".join(template):
        template = [*template, "{0}"]
    return [part.replace("{0}", str(script)) for part in template]


class JobRunner:
    """The state of one job while its steps run."""

    def __init__(self, plan: Mapping[str, Any]) -> None:
        self.plan = plan
        self.repo = Path(plan["repo"])
        self.dest = workspace.root_for(plan["execution_id"], plan["leg_id"]) / self.repo.name
        if plan.get("in_place"):  # a native step's sub-steps: its own folder, no copy
            self.dest = self.repo
        self.temp = Path(tempfile.mkdtemp(prefix="ansflow-runner-"))
        self.env = dict(os.environ)
        box = self.env.pop(jobbox.ENV, "")
        self.box = jobbox.Box(box) if box else None
        if self.box is not None:  # removed by the engine's side should this process die
            if plan.get("in_place"):  # the step's own folder is never removed
                self.box.leave([str(self.temp)], [], str(self.repo))
            else:
                root = self.dest.parent
                self.box.leave([str(self.temp), str(root)], [str(root.parent)], str(self.repo))
        self.caches = Caches(self.box, self.dest, self.temp)
        self.checkouts: list[Path] = []  # actions/checkout `path:` copies
        self.title = ""
        self.path: list[str] = []
        self.steps: dict[str, Any] = {}
        self.status = "success"
        self.secrets = Secrets(self.env, announce)
        contexts = dict(plan["contexts"])
        contexts["github"] = dict(contexts["github"], workspace=str(self.dest), job=plan["job_id"])
        contexts["github"]["run_id"] = plan["execution_id"]
        contexts["runner"] = {
            "os": host_os(),
            "arch": runner_arch(),
            "name": "ansflow",
            "temp": str(self.temp),
            "tool_cache": str(self.temp / "tool-cache"),
            "debug": "",
            "environment": "self-hosted",
        }
        contexts["needs"] = plan.get("needs", {})
        contexts["job"] = {"status": "success"}
        self.contexts = contexts

    def scope(self) -> Scope:
        """Every context, as it stands now."""
        contexts = dict(self.contexts, env=self._env_context(), steps=self.steps)
        contexts["secrets"] = self.secrets
        contexts["job"] = {"status": self.status}
        return Scope(contexts=contexts, status=self._status, workdir=self.dest)

    def _env_context(self) -> dict[str, str]:
        return {k: v for k, v in self.env.items() if k in self.declared}

    def _status(self, name: str) -> bool:
        return {"success": self.status == "success", "failure": self.status == "failure"}.get(
            name, name == "always"
        )

    def run(self) -> int:
        """Every step; the exit code says whether the job failed."""
        if self.plan.get("in_place"):
            return self.run_in_place()
        announce("::job-step::Set up job")
        self.declared: set[str] = set()
        try:
            workspace.create(self.repo, self.dest)
        except OSError as exc:
            print(f"ansflow: cannot create the job's workspace: {exc}", file=sys.stderr)
            announce("::end-job-step status=failed,reason=exit::")
            return 1
        print(f"Workspace: {self.dest}")
        for note in self.plan.get("notes", []):
            print(f"Note: {note}")
        self.env.update(
            GITHUB_WORKSPACE=str(self.dest),
            GITHUB_RUN_ID=self.plan["execution_id"],
            GITHUB_RUN_NUMBER="1",
            GITHUB_EVENT_NAME=self.contexts["github"]["event_name"],
            GITHUB_SHA=self.contexts["github"]["sha"],
            GITHUB_REF=self.contexts["github"]["ref"],
            GITHUB_REF_NAME=self.contexts["github"]["ref_name"],
            GITHUB_REPOSITORY=self.contexts["github"]["repository"],
            GITHUB_ACTOR=self.contexts["github"]["actor"],
            GITHUB_SERVER_URL=self.contexts["github"]["server_url"],
            GITHUB_WORKFLOW=self.contexts["github"]["workflow"],
            RUNNER_TEMP=str(self.temp),
            RUNNER_TOOL_CACHE=str(self.temp / "tool-cache"),
        )
        for name, value in self.plan["env"].items():
            self.declared.add(name)
            self.env[name] = render(value, self.scope())
        announce("::end-job-step status=success,reason=exit::")
        try:
            for step in self.plan["steps"]:
                self.step(step)
            self._post()
            self._outputs()
        finally:
            sweep()
            for extra in self.checkouts:
                workspace.remove(self.repo, extra)
            workspace.remove(self.repo, self.dest)
            shutil.rmtree(self.temp, ignore_errors=True)
            for empty in (self.dest.parent, self.dest.parent.parent):
                with contextlib.suppress(OSError):
                    empty.rmdir()
        return 1 if self.status == "failure" else 0

    def run_in_place(self) -> int:
        """A native step's sub-steps, in order, where the step runs (its environment is
        this process's own; `env` names which variables `env.X` reads)."""
        self.declared = set(self.plan["env"])
        try:
            for step in self.plan["steps"]:
                self.step(step)
        finally:
            shutil.rmtree(self.temp, ignore_errors=True)
        return 1 if self.status == "failure" else 0

    def step(self, step: Mapping[str, Any]) -> None:
        """One job step: decide, run, carry its files over, report its status."""
        name = render(step["name"], self.scope()) if "${{" in step["name"] else step["name"]
        announce(f"::job-step::{escape(name)}")
        self.title = name
        sid = step["id"] or f"__{step['index']}"
        if step["skip_reason"]:
            print(f"Skipped: {step['note']}")
            self._end(sid, "skipped", step["skip_reason"], {})
            return
        if not self._should_run(step):
            self._end(sid, "skipped", "condition-false", {})
            return
        files = {n: self.temp / f"{n.lower()}-{step['index']}" for n in FILE_VARS}
        for file in files.values():
            file.write_text("")
        env = dict(self.env, **{n: str(f) for n, f in files.items()})
        if self.path:
            env["PATH"] = os.pathsep.join([*reversed(self.path), self.env.get("PATH", "")])
        scope = self.scope()
        own = {key: render(value, scope) for key, value in step["env"].items()}
        env.update(own)
        scope.contexts = {**scope.contexts, "env": {**scope.contexts["env"], **own}}
        workdir = step["working_directory"] or self.plan["working_directory"]
        cwd = self.dest / render(workdir, scope) if workdir else self.dest
        if step["uses"].startswith("./"):
            with_ = {k: render(v, scope) for k, v in step["with"].items()}
            code = run_composite(
                step["uses"],
                with_,
                env,
                self.dest,
                scope,
                self._script,
                self._action,
                step["index"],
            )
        elif step["uses"]:
            with_ = {k: render(v, scope) for k, v in step["with"].items()}
            code = self._action(step["uses"], with_, env)
        else:
            code = self._script(step, render(step["run"], scope), env, cwd)
        outputs = self._carry(files)
        outcome = "success" if code == 0 else "failure"
        if code != 0:
            print(f"::error::Process completed with exit code {code}.")
        coe = step["continue_on_error"]
        tolerated = truthy(render(coe, scope) if "${{" in coe else coe == "true")
        if outcome == "failure" and not tolerated:
            self.status = "failure"
        self._end(sid, outcome, "exit", outputs, "success" if tolerated else outcome)

    def _action(self, uses: str, with_: dict[str, str], env: dict[str, str]) -> int:
        name = action_name(uses)

        def out(line: str) -> None:
            with open(env["GITHUB_OUTPUT"], "a", encoding="utf-8") as fh:
                fh.write(line + "\n")

        try:
            if name == "actions/upload-artifact":
                return upload(uses, with_, self.box, self.dest, out)
            if name == "actions/download-artifact":
                return download(with_, self.box, self.dest, env, out)
            if name == BAIPP:
                return build_and_inspect(with_, self.box, self.dest, self.temp, out)
            if name in CACHE_ACTIONS:
                return self.caches.run(name, self.title, with_, out)
        except OSError as exc:  # an unreadable file, the store unreachable: the step says so
            print(f"::error::{name}: {exc}")
            return 1
        if name == "actions/checkout":
            return checkout(with_, self.repo, self.dest, self.checkouts)
        return run_action(uses, with_, env, self.dest, self.temp, announce)

    def _post(self) -> None:
        """The post steps of actions/cache: save when the job succeeded (or save-always)."""
        for pending in self.caches.pending:
            announce(f"::job-step::{escape('Post ' + pending.title)}")
            if self.status != "success" and not pending.always:
                print("Not saving cache: the job failed")
                announce("::end-job-step status=skipped,reason=condition-false::")
                continue
            try:
                code = self.caches.save(pending.key, pending.paths)
            except OSError as exc:
                print(f"::warning::Failed to save: {exc}")
                code = 0
            announce(f"::end-job-step status={'success' if code == 0 else 'failed'},reason=exit::")

    def _should_run(self, step: Mapping[str, Any]) -> bool:
        if not step["condition"]:
            return self.status == "success"
        condition = parse_condition(step["condition"], contexts=CONTEXTS, native=False)
        try:
            value = truthy(condition.expression.evaluate(self.scope()))
        except ValueError as exc:
            print(f"ansflow: if: {step['condition']}: {exc}", file=sys.stderr)
            return False
        if not condition.uses_status_function:
            return self.status == "success" and value
        return value

    def _script(self, step: Mapping[str, Any], script: str, env: dict[str, str], cwd: Path) -> int:
        shell = step["shell"] or self.plan.get("shell", "")
        file = self.temp / f"step-{step['index']}{SUFFIX.get(shell, '.sh')}"
        file.write_text(script)
        argv = command_argv(shell, file)
        if argv[0] == "python":
            argv[0] = "python3"
        if not cwd.is_dir():  # else the OSError below blames the shell ("cannot run bash")
            print(
                f"::error::An error occurred trying to start process '{argv[0]}' with working"
                f" directory '{cwd}'. No such file or directory"
            )
            return 127
        try:
            done = subprocess.run(argv, cwd=cwd, env=env, timeout=step["timeout"])
        except subprocess.TimeoutExpired:
            print(f"::error::The step timed out after {step['timeout']:g} s")
            return 124
        except OSError as exc:
            print(f"::error::cannot run {argv[0]}: {exc.strerror or exc}")
            return 127
        return done.returncode

    def _carry(self, files: Mapping[str, Path]) -> dict[str, str]:
        """Apply GITHUB_ENV and GITHUB_PATH; return GITHUB_OUTPUT; keep the summary."""
        for name, value in read_env_file(files["GITHUB_ENV"]).items():
            self.env[name] = value
            self.declared.add(name)
        for line in files["GITHUB_PATH"].read_text().splitlines():
            if line.strip():
                self.path.append(line.strip())
        summary = files["GITHUB_STEP_SUMMARY"].read_text()
        target = os.environ.get("ANSFLOW_STEP_SUMMARY")
        if summary and target:
            with open(target, "a", encoding="utf-8") as out:
                out.write(summary if summary.endswith("\n") else summary + "\n")
        return read_env_file(files["GITHUB_OUTPUT"])

    def _end(
        self, sid: str, outcome: str, reason: str, outputs: dict[str, str], conclusion: str = ""
    ) -> None:
        self.steps[sid] = {
            "outcome": outcome,
            "conclusion": conclusion or outcome,
            "outputs": outputs,
        }
        sys.stdout.flush()
        status = "failed" if outcome == "failure" else outcome
        announce(f"::end-job-step status={status},reason={reason}::")

    def _outputs(self) -> None:
        """Job outputs into $ANSFLOW_OUTPUT (a missing one is '')."""
        target = os.environ.get("ANSFLOW_OUTPUT")
        if not target or not self.plan["outputs"]:
            return
        scope = self.scope()
        with open(target, "a", encoding="utf-8") as out:
            for name, value in self.plan["outputs"].items():
                out.write(f"{name}<<ANSFLOW_EOF_7f3a\n{render(value, scope)}\nANSFLOW_EOF_7f3a\n")


FILE_VARS = ("GITHUB_ENV", "GITHUB_OUTPUT", "GITHUB_PATH", "GITHUB_STEP_SUMMARY")

__all__ = ["JobRunner", "command_argv", "find_node", "find_python", "main"]


def main(argv: list[str]) -> int:
    """Entry point: the plan is the first argument (JSON)."""
    plan = json.loads(argv[1])
    # Cancel and timeouts send SIGTERM: leave through `finally`, so the job's workspace
    # (and its git worktree registration) is removed even then.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    become_subreaper()
    return JobRunner(plan).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
