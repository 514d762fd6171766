"""The engine: runs a PipelineSpec through a Backend and emits its events.

    executor = Executor(spec, execution_id, LocalBackend(), sink)
    status = await executor.run()      # ExecutionStatus; executor.cancel() from anywhere

Behaviour worth knowing (the contract is in docs/internals.md):
- Ready-set scheduling: a step starts as soon as its own needs are finished, up to
  max_parallel (argument, else the pipeline's max-parallel, else CPU count + 2); among
  ready steps, file order wins.
- Step environment (engine/environment.py): the owner's environment minus a deny-list
  and our own virtualenv (or a minimal set with `env-inherit: false`), + pipeline env +
  step env + ANSFLOW_EXECUTION_ID, ANSFLOW_STEP_ID, ANSFLOW_ATTEMPT + the `env` overrides
  given to the Executor. On Dask the inherited part is the worker's.
- Retries: attempt k+1 starts delay * backoff**(k-1) s after attempt k failed (exit code
  or timeout); log offsets continue across attempts; each attempt emits step_update
  `running` with its `attempt` and pid/pgid/host/create_time.
- Cancel (GitHub-like): running trees get SIGTERM, then SIGKILL after kill_grace; queued
  steps end `cancelled`, except cleanup steps whose `if:` calls always() or cancelled():
  they run once their needs are finished. cancel(force=True) stops those too.
- LocalBackend: one session/process group per attempt. When the main process of a step
  exits, what is left in its group (`server &`) is SIGKILLed so the pipes reach EOF and
  nothing outlives the step; processes that left the group (setsid, double forks) are
  swept by the step ids in their environment. Every line is read however slow the sink;
  an untagged process still holding the pipes 2 s after the exit is named in a marker
  line. Timeout/cancel also signal descendants that left the group (found with psutil
  before signalling).
- Events go to the sink in seq order, in batches, from one writer task; at most ~64
  events wait, then the pipe readers wait (a slow sink slows the steps, memory bounded).
"""

from .backend import Backend, OutputHandler, ProcessInfo, SpawnError, StepLaunch, StepProcess
from .executor import Executor
from .output import LineProcessor
from .shell import shell_argv
from .writer import EventSink, EventWriter

__all__ = [
    "Backend",
    "EventSink",
    "EventWriter",
    "Executor",
    "LineProcessor",
    "OutputHandler",
    "ProcessInfo",
    "SpawnError",
    "StepLaunch",
    "StepProcess",
    "shell_argv",
]
