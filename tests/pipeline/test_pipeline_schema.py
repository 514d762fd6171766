"""The JSON Schema is generated from the validator's key tables and agrees with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from ansflow_jupyter.pipeline import json_schema, validate
from ansflow_jupyter.pipeline.checker import Checker
from ansflow_jupyter.pipeline.keys import KIND_SCHEMAS, STEP_KEYS, TOP_KEYS, Key
from ansflow_jupyter.pipeline.source import Reporter

EXAMPLES = sorted((Path(__file__).parents[2] / "notebooks" / "pipelines").glob("*.yml"))


def _validator() -> jsonschema.Draft202012Validator:
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_is_valid_draft_2020_12() -> None:
    schema = json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    _validator()


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_examples_are_valid_for_schema_and_loader(example: Path) -> None:
    text = example.read_text()
    assert list(_validator().iter_errors(yaml.safe_load(text))) == []
    assert validate(text, path=example.name) == []


def test_there_are_examples() -> None:
    assert {p.name for p in EXAMPLES} >= {"demo.yml", "failures.yml", "secrets.yml"}


@pytest.mark.parametrize(
    "doc",
    [
        {"steps": {"a": {"run": "x"}}},  # no name
        {"name": "p"},  # no steps
        {"name": "p", "steps": {}},
        {"name": "p", "steps": []},
        {"name": "p", "steps": {"a": {"run": "x", "need": "b"}}},
        {"name": "p", "steps": {"a": {"needs": "b"}}},  # no run
        {"name": "p", "steps": {"a": {"run": "x", "notebook": "n.ipynb"}}},  # both
        {"name": "p", "steps": {"a": {"run": "x", "kernel": "python3"}}},  # kernel without nb
        {"name": "p", "steps": {"my step": {"run": "x"}}},
        {"name": "p", "steps": [{"run": "x"}]},  # list form without id
        {"name": "p", "steps": {"a": {"run": "x", "shell": "zsh"}}},
        {"name": "p", "steps": {"a": {"run": "x", "timeout": "10x"}}},
        {"name": "p", "steps": {"a": {"run": "x", "timeout": 0}}},
        {"name": "p", "steps": {"a": {"run": "x", "retry": {"max": -1}}}},
        {"name": "p", "steps": {"a": {"run": "x", "retry": {"max": 1, "backoff": 0.5}}}},
        {"name": "p", "steps": {"a": {"run": "x", "matrix": {"py": []}}}},
        {"name": "p", "steps": {"a": {"run": "x", "matrix": {"py": [{"v": 1}]}}}},
        {"name": "p", "steps": {"a": {"run": "x", "continue-on-error": "yes"}}},
        {"name": "p", "max-parallel": 0, "steps": {"a": {"run": "x"}}},
        {"name": "p", "secrets": "TOKEN", "steps": {"a": {"run": "x"}}},
        {"name": "p", "env": {"MY-VAR": "1"}, "steps": {"a": {"run": "x"}}},
        {"name": "p", "defaults": {"working-dir": "."}, "steps": {"a": {"run": "x"}}},
    ],
)
def test_invalid_documents_are_rejected_by_schema_and_loader(doc: dict[str, Any]) -> None:
    assert list(_validator().iter_errors(doc))
    assert validate(yaml.safe_dump(doc))


def test_schema_lists_every_key_of_the_tables() -> None:
    schema = json_schema()
    assert set(schema["properties"]) == set(TOP_KEYS)
    assert set(schema["$defs"]["step"]["properties"]) == set(STEP_KEYS)
    assert schema["required"] == ["name", "steps"]
    assert schema["$defs"]["step"]["required"] == []
    assert schema["$defs"]["step"]["oneOf"] == [
        {"required": ["run"]},
        {"required": ["steps"]},
        {"required": ["notebook"]},
    ]


def test_every_kind_has_a_schema_and_a_converter() -> None:
    def kinds(table: dict[str, Key]) -> set[str]:
        out = set()
        for key in table.values():
            out |= kinds(dict(key.table)) if key.table else {key.kind}
        return out

    used = kinds(TOP_KEYS) | kinds(STEP_KEYS) | {"id"}
    assert used - {"steps"} <= set(KIND_SCHEMAS)
    assert used <= set(Checker(Reporter(None)).converters)
