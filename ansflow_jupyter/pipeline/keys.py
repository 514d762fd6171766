"""The key tables of the pipeline format: the validator and the JSON Schema both read them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .durations import DURATION_PATTERN
from .spec import IF_NO_FILES, SHELLS

ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]*$"
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


@dataclass(frozen=True, slots=True)
class Key:
    """One allowed key: its value kind (see KIND_SCHEMAS), whether required, what it means."""

    kind: str
    doc: str
    required: bool = False
    table: Mapping[str, Key] | None = None  # the sub-keys of a "mapping" kind


RETRY_KEYS: dict[str, Key] = {
    "max": Key("count", "Attempts after the first one.", required=True),
    "delay": Key("delay", "Wait before the first retry ('1s', 0.5, ...)."),
    "backoff": Key("factor", "Multiplier applied to the delay after each retry (>= 1)."),
}

DEFAULTS_KEYS: dict[str, Key] = {
    "shell": Key("shell", "Default shell of every step (bash)."),
    "working-directory": Key("string", "Default working directory, relative to the file."),
    "timeout": Key("duration", "Default timeout of every step ('10m', 90, ...)."),
}

SUBSTEP_KEYS: dict[str, Key] = {
    "name": Key("string", "Display name of the sub-step (default: its first line)."),
    "run": Key("string", "The script of the sub-step.", required=True),
    "if": Key("condition", "Run it only when this holds (default: the sub-steps so far passed)."),
    "env": Key("env", "Environment variables of this sub-step."),
    "shell": Key("shell", "Interpreter of `run` (default: the step's shell)."),
    "continue-on-error": Key("bool", "A failure of this sub-step does not fail the step."),
    "working-directory": Key("string", "Relative to the step's working directory."),
    "timeout": Key("duration", "Kill the sub-step after this long."),
}

STEP_KEYS: dict[str, Key] = {
    "name": Key("string", "Display name (default: the step id)."),
    "run": Key("string", "The script to run (a step has `run`, `steps` or `notebook`)."),
    "steps": Key(
        "substeps", "Sub-steps run in order in one process, each its own group: [{name, run}]."
    ),
    "notebook": Key("string", "A notebook to run instead of `run`, relative to the file."),
    "parameters": Key("parameters", "Notebook parameters, injected after the 'parameters' cell."),
    "kernel": Key("string", "The notebook's kernel (default: its kernelspec)."),
    "shell": Key("shell", "Interpreter of `run`."),
    "needs": Key("needs", "Step id(s) that must end before this one starts."),
    "if": Key("condition", "success() | failure() | always() | cancelled(), env.X == 'y', ..."),
    "env": Key("env", "Environment variables of this step."),
    "env-inherit": Key("bool", "false: start from a minimal environment (default: pipeline's)."),
    "working-directory": Key("string", "Working directory, relative to the file."),
    "timeout": Key("duration", "Kill the step's process tree after this long."),
    "retry": Key("mapping", "Retry a failing step.", table=RETRY_KEYS),
    "continue-on-error": Key("bool", "A failure of this step does not fail the pipeline."),
    "matrix": Key("matrix", "Run once per combination: {python: ['3.11', '3.12']}."),
    "artifacts": Key(
        "artifacts",
        "Files to keep: globs/directories relative to the working directory, or "
        "{paths: [...], if-no-files: warn|error|ignore}.",
    ),
    "cache": Key(
        "cache",
        "Skip the step when its inputs did not change: true (git-tracked files) or "
        "{inputs: [globs], key: '...'}.",
    ),
}

# Only in the list form of `steps`: `- id: build`.
LIST_STEP_KEYS: dict[str, Key] = {
    "id": Key("id", "The step id.", required=True),
    **STEP_KEYS,
}

TOP_KEYS: dict[str, Key] = {
    "name": Key("string", "Pipeline name.", required=True),
    "env": Key("env", "Environment merged into every step."),
    "env-inherit": Key("bool", "false: steps start from a minimal environment, not ours."),
    "secrets": Key("names", "Env names whose values are masked as *** in logs."),
    "defaults": Key("mapping", "Defaults for every step.", table=DEFAULTS_KEYS),
    "max-parallel": Key("positive-int", "Steps running at once (default: CPU count + 2)."),
    "steps": Key("steps", "Mapping id -> step, or a list of steps with an `id`.", required=True),
}

_SCALAR: dict[str, Any] = {"type": ["string", "number", "boolean"]}

# The JSON Schema fragment of every value kind; "mapping" and "steps" are built from tables.
KIND_SCHEMAS: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "id": {"type": "string", "pattern": ID_PATTERN},
    "bool": {"type": "boolean"},
    "count": {"type": "integer", "minimum": 0},
    "positive-int": {"type": "integer", "minimum": 1},
    "factor": {"type": "number", "minimum": 1},
    "shell": {"enum": list(SHELLS)},
    "duration": {
        "anyOf": [
            {"type": "number", "exclusiveMinimum": 0},
            {"type": "string", "pattern": DURATION_PATTERN},
        ]
    },
    "delay": {
        "anyOf": [
            {"type": "number", "minimum": 0},
            {"type": "string", "pattern": DURATION_PATTERN},
        ]
    },
    "condition": {"type": ["string", "boolean"]},
    "needs": {
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
    },
    "names": {
        "type": "array",
        "items": {"type": "string", "pattern": ENV_NAME_PATTERN},
    },
    "env": {
        "type": "object",
        "propertyNames": {"pattern": ENV_NAME_PATTERN},
        "additionalProperties": _SCALAR,
    },
    "artifacts": {
        "anyOf": [
            {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
            {
                "type": "object",
                "properties": {
                    "paths": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                    "if-no-files": {"enum": list(IF_NO_FILES)},
                },
                "required": ["paths"],
                "additionalProperties": False,
            },
        ]
    },
    "cache": {
        "anyOf": [
            {"type": "boolean"},
            {
                "type": "object",
                "properties": {
                    "inputs": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                    "key": {"type": "string"},
                },
                "additionalProperties": False,
            },
        ]
    },
    "parameters": {"type": "object", "propertyNames": {"pattern": ENV_NAME_PATTERN}},
    "substeps": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/subStep"}},
    "matrix": {
        "type": "object",
        "minProperties": 1,
        "propertyNames": {"pattern": ID_PATTERN},
        "additionalProperties": {"type": "array", "minItems": 1, "items": _SCALAR},
    },
}


def _object_schema(table: Mapping[str, Key]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {name: _key_schema(key) for name, key in table.items()},
        "required": [name for name, key in table.items() if key.required],
        "additionalProperties": False,
    }


def _key_schema(key: Key) -> dict[str, Any]:
    if key.kind == "mapping":
        assert key.table is not None
        schema = _object_schema(key.table)
    elif key.kind == "steps":
        schema = {
            "anyOf": [
                {
                    "type": "object",
                    "minProperties": 1,
                    "propertyNames": {"pattern": ID_PATTERN},
                    "additionalProperties": {"$ref": "#/$defs/step"},
                },
                {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/listStep"}},
            ]
        }
    else:
        schema = dict(KIND_SCHEMAS[key.kind])
    return {"description": key.doc, **schema}


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a pipeline file, built from the key tables."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:ansflow-jupyter:pipeline",
        "title": "AnsFlow pipeline",
        **_object_schema(TOP_KEYS),
        "$defs": {
            "step": _step_schema(STEP_KEYS),
            "listStep": _step_schema(LIST_STEP_KEYS),
            "subStep": _object_schema(SUBSTEP_KEYS),
        },
    }


def _step_schema(table: Mapping[str, Key]) -> dict[str, Any]:
    """A step has exactly one of `run`, `steps` and `notebook`; `parameters`/`kernel` need
    `notebook`."""
    return {
        **_object_schema(table),
        "oneOf": [{"required": ["run"]}, {"required": ["steps"]}, {"required": ["notebook"]}],
        "dependentRequired": {"parameters": ["notebook"], "kernel": ["notebook"]},
    }
