"""GitHub Actions workflow files, loaded into the same PipelineSpec as native pipelines.

Pure: imports nothing outside pipeline/. Each job (and matrix leg) is a step of the
PipelineSpec; its `substeps` are the job's steps, run in order by engine/jobrunner.py.
"""

from .context import CONTEXTS
from .evaluate import job_needs
from .loader import is_workflow, load_workflow
from .options import WorkflowOptions, is_workflow_spec

__all__ = [
    "CONTEXTS",
    "WorkflowOptions",
    "is_workflow",
    "is_workflow_spec",
    "job_needs",
    "load_workflow",
]
