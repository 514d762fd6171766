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


def output(name: str, value: Any) -> None:
    """Set a step output (its JSON text) from inside a notebook step; elsewhere a no-op
    with a warning."""
    import json
    import os
    import warnings

    path = os.environ.get("ANSFLOW_OUTPUT")
    if not path:
        warnings.warn(
            f"ansflow_jupyter.output({name!r}, ...): not running as a pipeline step, ignored",
            stacklevel=2,
        )
        return
    text = json.dumps(value)
    with open(path, "a", encoding="utf-8") as file:
        file.write(f"{name}={text}\n")


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
    "output",
    "run_pipeline",
    "show_execution",
]
