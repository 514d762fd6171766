"""ansflow-jupyter: live CI/CD-style pipelines inside Jupyter.

Everything heavy is imported lazily: the server never pays for IPython, the kernel
never pays for jupyter_server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .kernel.handle import ExecutionHandle, PipelineFailed


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    """Where jupyter_server finds the extension."""
    from .server.app import AnsFlowApp

    return [{"module": "ansflow_jupyter.server.app", "app": AnsFlowApp}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where JupyterLab finds the front end (for development installs)."""
    return [{"src": "labextension", "dest": "ansflow-jupyter"}]


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext ansflow_jupyter`: register the `%ansflow` magics."""
    from .kernel.magics import load_ipython_extension as load

    load(ipython)


def run_pipeline(*args: Any, **kwargs: Any) -> ExecutionHandle:
    """Start a pipeline (file path or YAML text) and return a live execution handle."""
    from .kernel.handle import run_pipeline as run

    return run(*args, **kwargs)


def show_execution(*args: Any, **kwargs: Any) -> ExecutionHandle:
    """A handle on an existing execution, displayed as its widget (running or finished)."""
    from .kernel.handle import show_execution as show

    return show(*args, **kwargs)


def __getattr__(name: str) -> Any:
    if name in ("ExecutionHandle", "PipelineFailed"):
        from .kernel import handle

        return getattr(handle, name)
    raise AttributeError(name)


__all__ = [
    "ExecutionHandle",
    "PipelineFailed",
    "__version__",
    "load_ipython_extension",
    "run_pipeline",
    "show_execution",
]
