"""GitHub Actions workflow files, loaded into the same PipelineSpec as native pipelines.

Pure: imports nothing outside pipeline/. Each job (and matrix leg) is a step of the
PipelineSpec; its `substeps` are the job's steps, run in order by engine/jobrunner.py.

Only the options are imported here: every run (native pipelines too) names them, while the
workflow loader and its contexts cost ~10 ms of start-up that a native pipeline never uses.
Import those from their modules (`.loader`, `.context`, `.evaluate`).
"""

from .options import WorkflowOptions, is_workflow_spec

__all__ = ["WorkflowOptions", "is_workflow_spec"]
