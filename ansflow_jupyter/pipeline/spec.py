"""The validated, expanded pipeline model every other layer consumes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .interpolate import Template

SHELLS = ("bash", "sh", "python")
IF_NO_FILES = ("warn", "error", "ignore")
#: Where a notebook step writes its executed notebook (kept as an artifact), under its
#: working directory.
NOTEBOOK_OUTPUT_DIR = ".ansflow"


class ConditionContext(Protocol):
    """What an `if:` expression may look at when it is evaluated."""

    @property
    def needs_succeeded(self) -> bool:
        """Every need ended `success` (a `continue-on-error` failure counts as success)."""

    @property
    def needs_failed(self) -> bool:
        """At least one need (or one of their ancestors) failed."""

    @property
    def cancelled(self) -> bool:
        """The execution has been cancelled."""

    @property
    def env(self) -> Mapping[str, str]:
        """The step's merged environment (pipeline env, overrides, step env, matrix)."""


class Condition(Protocol):
    """A parsed `if:` expression."""

    source: str

    @property
    def calls(self) -> frozenset[str]:
        """The functions the expression calls (`always`, `cancelled`, ...)."""

    @property
    def uses_status_function(self) -> bool:
        """True when the expression calls success(), failure(), always() or cancelled();
        otherwise the executor treats it as `success() && (expr)`, like GitHub Actions."""

    def evaluate(self, ctx: ConditionContext) -> bool:
        """Evaluate against the context; never raises for a parsed expression."""


@dataclass(frozen=True, slots=True)
class RetrySpec:
    """`retry:` — attempts after the first; the delay grows by `backoff` each time."""

    max: int = 0
    delay: float = 0.0
    backoff: float = 1.0


@dataclass(frozen=True, slots=True)
class ArtifactsSpec:
    """`artifacts:` — globs/directories relative to the working directory."""

    paths: tuple[str, ...]
    if_no_files: str = "warn"  # one of IF_NO_FILES: what a pattern matching nothing does


@dataclass(frozen=True, slots=True)
class CacheSpec:
    """`cache:` — skip the step when nothing its key hashes changed."""

    inputs: tuple[str, ...] | None = None  # globs; None: the git-tracked files of the cwd
    key: str = ""  # extra text mixed into the key (e.g. a manual version)


@dataclass(frozen=True, slots=True)
class SubStep:
    """One step of a workflow job: run in order, in the job's workspace, by the job runner.

    Strings keep their `${{ }}` as written: the job runner renders them when the step starts
    (they may read `steps`, `needs` and `secrets`)."""

    index: int
    id: str  # the step's `id` ("" when it has none)
    name: str
    run: str = ""
    uses: str = ""  # an action; `run` is empty then
    with_: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    shell: str = ""  # "" means the job's default
    working_directory: str = ""
    condition: str = ""  # the `if:` as written ("" means success())
    continue_on_error: str = "false"  # a boolean or an expression
    timeout: float | None = None  # seconds
    skip_reason: str = ""  # a StepReason value: shown as a skipped job step
    note: str = ""


@dataclass(frozen=True, slots=True)
class StepSpec:
    """One step after matrix expansion and `${{ }}` substitution."""

    id: str  # expanded id, e.g. "deploy-verify[python=3.11]"
    name: str  # display name; defaults to the id
    run: str  # the script, `${{ matrix.x }}` and `${{ env.X }}` already substituted
    shell: str  # one of SHELLS
    needs: tuple[str, ...]  # expanded ids of the steps this one waits for
    env: Mapping[str, str]  # the step's own env, substituted (matrix values are in `matrix`)
    working_directory: str  # relative to PipelineSpec.base_dir unless absolute
    timeout: float | None  # seconds
    retry: RetrySpec
    continue_on_error: bool
    condition: Condition | None  # None means the default `success()`
    matrix: Mapping[str, str] = field(default_factory=dict)
    template_id: str = ""  # the id as written in the file (before matrix expansion)
    line: int = 0  # 1-based line of the step's key in the file
    env_inherit: bool | None = None  # `env-inherit`; None: the pipeline's
    # `run` ("run") and env values ("env.NAME") whose `${{ }}` read `needs` or call
    # hashFiles(): rendered when the step starts (until then they show the `${{ }}`).
    runtime: Mapping[str, Template] = field(default_factory=dict)
    artifacts: ArtifactsSpec | None = None
    cache: CacheSpec | None = None
    notebook: str = ""  # a notebook step: the notebook's path, relative to base_dir
    kernel: str = ""  # its kernel; "" means the notebook's kernelspec
    parameters: Mapping[str, Any] = field(default_factory=dict)  # JSON values
    # A workflow job: the steps its runner executes in order (empty for a native step).
    substeps: tuple[SubStep, ...] = ()
    job: Mapping[str, Any] = field(default_factory=dict)  # contexts, outputs, defaults (JSON)

    def view_fields(self) -> dict[str, Any]:
        """What views need of the spec before the step reports anything: its needs, whether
        a failure is tolerated, and the matrix leg it is (views group legs by these)."""
        return {
            "step_id": self.id,
            "name": self.name,
            "needs": list(self.needs),
            "continue_on_error": self.continue_on_error,
            "template_id": self.template_id or self.id,
            "matrix": dict(self.matrix),
        }
    skip_reason: str = ""  # a StepReason value: the step is skipped without running
    note: str = ""  # why, in words (shown as the step's message)


@dataclass(frozen=True, slots=True)
class PipelineSpec:
    """A whole valid pipeline; steps keep file order (expanded in place)."""

    name: str
    steps: Mapping[str, StepSpec]
    env: Mapping[str, str]  # the file's `env` with the run-time overrides merged over it
    secrets: tuple[str, ...]
    max_parallel: int | None
    source: str  # the YAML text as loaded
    path: str | None  # the file it came from, if any
    base_dir: Path  # where relative working directories resolve
    env_inherit: bool = True  # `env-inherit: false`: steps start from a minimal environment
