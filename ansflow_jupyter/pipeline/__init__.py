"""Pipeline files: load, validate and expand YAML into the PipelineSpec model.

Pure Python: imports nothing else of ours, so every layer (engine, server, CLI, kernel)
can use it. Data flow: source (bytes -> YAML nodes) -> checker (key tables in keys.py)
-> graph (needs, cycles) -> expand (matrix, `${{ }}`) -> PipelineSpec.
"""

from .conditions import ConditionSyntaxError, parse_condition
from .durations import parse_duration
from .errors import SpecError, SpecIssue
from .keys import json_schema
from .loader import load_pipeline, load_pipeline_file, validate
from .spec import (
    SHELLS,
    Condition,
    ConditionContext,
    PipelineSpec,
    RetrySpec,
    StepSpec,
)

__all__ = [
    "SHELLS",
    "Condition",
    "ConditionContext",
    "ConditionSyntaxError",
    "PipelineSpec",
    "RetrySpec",
    "SpecError",
    "SpecIssue",
    "StepSpec",
    "json_schema",
    "load_pipeline",
    "load_pipeline_file",
    "parse_condition",
    "parse_duration",
    "validate",
]
