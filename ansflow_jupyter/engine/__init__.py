"""The engine: runs a PipelineSpec through a Backend and emits its events.

    executor = Executor(spec, execution_id, LocalBackend(), sink)
    status = await executor.run()
"""

from .backend import Backend, OutputHandler, ProcessInfo, SpawnError, StepLaunch, StepProcess
from .executor import Executor, shell_argv
from .output import LineProcessor
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
