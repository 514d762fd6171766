"""Walks the YAML node tree against the key tables: every key, every type, every position."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from . import data_keys, substeps
from .conditions import ConditionSyntaxError, ParsedCondition, parse_condition
from .durations import parse_duration
from .keys import ENV_NAME_PATTERN, ID_PATTERN, LIST_STEP_KEYS, STEP_KEYS, TOP_KEYS, Key
from .source import Reporter, is_str, kind, scalar_text, to_bool, to_int, to_number
from .spec import SHELLS, RetrySpec
from .templates import Document, StepTemplate, Text, did_you_mean, join

_ID = re.compile(ID_PATTERN)
_ENV_NAME = re.compile(ENV_NAME_PATTERN)


class Checker:
    """Converts the node tree into a Document, reporting every problem on the way."""

    def __init__(self, rep: Reporter) -> None:
        self.rep = rep
        self.converters: dict[str, Callable[[Node, str], Any]] = {
            "string": self._string,
            "id": self._id,
            "bool": self._bool,
            "count": lambda n, p: self._int(n, p, 0),
            "positive-int": lambda n, p: self._int(n, p, 1),
            "factor": self._factor,
            "shell": self._shell,
            "duration": lambda n, p: self._duration(n, p, allow_zero=False),
            "delay": lambda n, p: self._duration(n, p, allow_zero=True),
            "condition": self._condition,
            "needs": self._needs,
            "names": self._names,
            "env": self._env,
            "matrix": self._matrix,
            "artifacts": lambda n, p: data_keys.artifacts(self, n, p),
            "cache": lambda n, p: data_keys.cache(self, n, p),
            "parameters": self._parameters,
            "steps": self._steps,
            "substeps": lambda n, p: substeps.check(self, n, p),
        }

    def document(self, root: MappingNode) -> Document:
        """Check the top-level mapping."""
        fields = self.table(root, "", TOP_KEYS, anchor=root) or {}
        return Document(
            name=fields["name"].value if "name" in fields else None,
            env=fields.get("env", {}),
            secrets=fields.get("secrets", ()),
            defaults=fields.get("defaults", {}),
            max_parallel=fields.get("max-parallel"),
            env_inherit=fields.get("env-inherit", True),
            steps=fields.get("steps", []),
        )

    # -- mappings -------------------------------------------------------------------------

    def pairs(self, node: MappingNode, path: str, what: str) -> Iterator[tuple[str, Node, Node]]:
        """The (key, key node, value node) of a mapping; duplicate and non-string keys reported.

        PyYAML silently keeps the last of duplicate keys, which would hide a duplicate step id.
        """
        seen: dict[str, Node] = {}
        for key_node, value in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == "tag:yaml.org,2002:null":
                self.rep.at(key_node, path, f"a {what} must be a plain string")
                continue
            name = str(key_node.value)
            if name == "<<":
                self.rep.at(key_node, join(path, name), "YAML merge keys (<<) are not supported")
                continue
            if name in seen:
                first = seen[name].start_mark.line + 1
                self.rep.at(
                    key_node, join(path, name), f"duplicate {what} '{name}' (first at line {first})"
                )
                continue
            seen[name] = key_node
            yield name, key_node, value

    def table(
        self, node: Node, path: str, table: Mapping[str, Key], anchor: Node
    ) -> dict[str, Any] | None:
        """Check a mapping against a key table; returns the valid converted values."""
        if not isinstance(node, MappingNode):
            self.rep.at(node, path, f"must be a mapping, not {kind(node)}")
            return None
        out: dict[str, Any] = {}
        present: set[str] = set()
        for name, key_node, value in self.pairs(node, path, "key"):
            key = table.get(name)
            if key is None:
                allowed = ", ".join(table)
                hint = did_you_mean(name, list(table)) or f" (allowed: {allowed})"
                self.rep.at(key_node, join(path, name), f"unknown key '{name}'{hint}")
                continue
            present.add(name)
            if key.kind == "mapping":
                assert key.table is not None
                converted = self.table(value, join(path, name), key.table, anchor=key_node)
            else:
                converted = self.converters[key.kind](value, join(path, name))
            if converted is not None:
                out[name] = converted
        for name, key in table.items():
            if key.required and name not in present:
                self.rep.at(anchor, join(path, name), f"missing required key '{name}'")
        return out

    # -- scalars --------------------------------------------------------------------------

    def _expect(self, node: Node, path: str, what: str) -> None:
        """Report a wrong type."""
        self.rep.at(node, path, f"must be {what}, not {kind(node)}")

    def _string(self, node: Node, path: str) -> Text | None:
        if not is_str(node):
            self._expect(node, path, "a string")
            return None
        return Text(str(node.value), node, path)

    def _id(self, node: Node, path: str) -> Text | None:
        text = self._string(node, path)
        if text is not None and not self.valid_id(text.value, node, path):
            return None
        return text

    def valid_id(self, value: str, node: Node, path: str) -> bool:
        """Check a step id's spelling; ids end up in paths, URLs and file names."""
        if _ID.match(value):
            return True
        self.rep.at(
            node,
            path,
            f"invalid step id '{value}': use letters, digits, '_' and '-', "
            "starting with a letter or '_'",
        )
        return False

    def _bool(self, node: Node, path: str) -> bool | None:
        value = to_bool(node)
        if value is None:
            self._expect(node, path, "true or false")
            return None
        return value

    def _int(self, node: Node, path: str, minimum: int) -> int | None:
        value = to_int(node)
        if value is None:
            self._expect(node, path, f"an integer >= {minimum}")
            return None
        if value < minimum:
            self.rep.at(node, path, f"must be an integer >= {minimum}, got {value}")
            return None
        return value

    def _factor(self, node: Node, path: str) -> float | None:
        value = to_number(node)
        if value is None:
            self._expect(node, path, "a number >= 1")
            return None
        if not value >= 1:
            self.rep.at(node, path, f"must be a number >= 1, got {node.value}")
            return None
        return value

    def _shell(self, node: Node, path: str) -> str | None:
        if not is_str(node):
            self._expect(node, path, f"one of {', '.join(SHELLS)}")
            return None
        value = str(node.value)
        if value not in SHELLS:
            hint = did_you_mean(value, SHELLS)
            self.rep.at(node, path, f"unknown shell '{value}' (expected {', '.join(SHELLS)}){hint}")
            return None
        return value

    def _duration(self, node: Node, path: str, *, allow_zero: bool) -> float | None:
        raw: str | float | None = str(node.value) if is_str(node) else to_number(node)
        if raw is None:
            self._expect(node, path, "a duration like '90s' or a number of seconds")
            return None
        if raw == float("inf"):  # `.inf`, or an integer of hundreds of digits
            shown = str(node.value) if len(str(node.value)) <= 20 else f"{node.value!s:.20}…"
            self.rep.at(node, path, f"invalid duration {shown}: too large")
            return None
        try:
            return parse_duration(raw, allow_zero=allow_zero)
        except ValueError as exc:
            self.rep.at(node, path, str(exc))
            return None

    def _condition(self, node: Node, path: str) -> ParsedCondition | None:
        boolean = to_bool(node)
        if boolean is not None:
            return parse_condition("true" if boolean else "false")
        if not is_str(node):
            self._expect(node, path, "an expression string such as 'success()'")
            return None
        try:
            condition = parse_condition(str(node.value))
        except ConditionSyntaxError as exc:
            self.rep.inside(node, exc.offset, path, f"invalid if expression: {exc.message}")
            return None
        condition.where = Text(str(node.value), node, path)
        return condition

    # -- collections ----------------------------------------------------------------------

    def _needs(self, node: Node, path: str) -> list[Text] | None:
        if is_str(node):
            return [Text(str(node.value), node, path)]
        if not isinstance(node, SequenceNode):
            self._expect(node, path, "a step id or a list of step ids")
            return None
        out = []
        for i, item in enumerate(node.value):
            text = self._string(item, join(path, i))
            if text is not None:
                out.append(text)
        return out

    def _names(self, node: Node, path: str) -> tuple[str, ...] | None:
        if not isinstance(node, SequenceNode):
            self._expect(node, path, "a list of environment variable names")
            return None
        out: list[str] = []
        for i, item in enumerate(node.value):
            text = self._string(item, join(path, i))
            if text is None:
                continue
            if not _ENV_NAME.match(text.value):
                self.rep.at(item, text.path, f"invalid environment variable name '{text.value}'")
            elif text.value not in out:
                out.append(text.value)
        return tuple(out)

    def _env(self, node: Node, path: str) -> dict[str, Text] | None:
        if not isinstance(node, MappingNode):
            self._expect(node, path, "a mapping of NAME: value")
            return None
        out: dict[str, Text] = {}
        for name, key_node, value in self.pairs(node, path, "variable"):
            item_path = join(path, name)
            if not _ENV_NAME.match(name):
                self.rep.at(key_node, item_path, f"invalid environment variable name '{name}'")
                continue
            text = scalar_text(value)
            if text is None:
                self._expect(value, item_path, "a string, number or boolean")
                continue
            out[name] = Text(text, value, item_path)
        return out

    def _matrix(self, node: Node, path: str) -> list[tuple[str, list[Text]]] | None:
        if not isinstance(node, MappingNode):
            self._expect(node, path, "a mapping of name: [values]")
            return None
        if not node.value:
            self.rep.at(node, path, "matrix must have at least one entry")
            return None
        out = []
        for name, key_node, value in self.pairs(node, path, "matrix name"):
            item_path = join(path, name)
            if not _ID.match(name):
                self.rep.at(key_node, item_path, f"invalid matrix name '{name}'")
                continue
            values = self._matrix_values(value, item_path)
            if values is not None:
                out.append((name, values))
        return out

    def _matrix_values(self, node: Node, path: str) -> list[Text] | None:
        if not isinstance(node, SequenceNode):
            self._expect(node, path, "a list of values")
            return None
        if not node.value:
            self.rep.at(node, path, "must list at least one value")
            return None
        out: list[Text] = []
        seen: set[str] = set()  # a list scan per value is quadratic: 100k values took minutes
        for i, item in enumerate(node.value):
            text = scalar_text(item)
            if text is None:
                self._expect(item, join(path, i), "a string, number or boolean")
            elif text in seen:
                self.rep.at(item, join(path, i), f"duplicate matrix value '{text}'")
            else:
                seen.add(text)
                out.append(Text(text, item, join(path, i)))
        return out if len(out) == len(node.value) else None

    # -- steps ----------------------------------------------------------------------------

    def _steps(self, node: Node, path: str) -> list[StepTemplate] | None:
        if isinstance(node, MappingNode) and node.value:
            steps = []
            for step_id, key_node, value in self.pairs(node, path, "step id"):
                step_path = join(path, step_id)
                self.valid_id(step_id, key_node, step_path)
                fields = self.table(value, step_path, STEP_KEYS, anchor=key_node) or {}
                self._one_command(value, fields, step_path, key_node)
                steps.append(self._template(step_id, step_path, key_node, fields))
            return steps
        if isinstance(node, SequenceNode) and node.value:
            return self._step_list(node, path)
        if isinstance(node, MappingNode | SequenceNode) or kind(node) == "an empty value":
            self.rep.at(node, path, "at least one step is required")
            return None
        self._expect(node, path, "a mapping of id: step (or a list of steps)")
        return None

    def _step_list(self, node: SequenceNode, path: str) -> list[StepTemplate]:
        steps: list[StepTemplate] = []
        first: dict[str, Node] = {}
        for i, item in enumerate(node.value):
            step_path = join(path, i)
            fields = self.table(item, step_path, LIST_STEP_KEYS, anchor=item) or {}
            step_id: Text | None = fields.get("id")
            if step_id is None:
                continue
            if step_id.value in first:
                line = first[step_id.value].start_mark.line + 1
                self.rep.at(
                    step_id.node,
                    step_id.path,
                    f"duplicate step id '{step_id.value}' (first at line {line})",
                )
                continue
            first[step_id.value] = step_id.node
            self._one_command(item, fields, step_path, step_id.node)
            steps.append(self._template(step_id.value, step_path, step_id.node, fields))
        return steps

    def _one_command(self, node: Node, fields: dict[str, Any], path: str, anchor: Node) -> None:
        """A step has exactly one of `run`, `steps` and `notebook`; notebook keys need
        `notebook`."""
        if not isinstance(node, MappingNode):
            return
        present = {str(k.value): k for k, _ in node.value if isinstance(k, ScalarNode)}
        if "steps" in present:
            substeps.one_command(self, present, path)
        elif "run" in present and "notebook" in present:
            where = present["notebook"]
            self.rep.at(where, join(path, "notebook"), "a step has `run` or `notebook`, not both")
        elif "run" not in present and "notebook" not in present:
            self.rep.at(anchor, join(path, "run"), "missing required key 'run' (or 'notebook')")
        elif "run" in present:
            for name in ("parameters", "kernel"):
                if name in present:
                    self.rep.at(present[name], join(path, name), f"`{name}` needs `notebook`")

    def _parameters(self, node: Node, path: str) -> dict[str, Any] | None:
        if not isinstance(node, MappingNode):
            self._expect(node, path, "a mapping of name: value")
            return None
        out: dict[str, Any] = {}
        for name, key_node, value in self.pairs(node, path, "parameter"):
            item_path = join(path, name)
            if not _ENV_NAME.match(name):
                self.rep.at(key_node, item_path, f"invalid parameter name '{name}'")
            elif is_str(value):
                out[name] = Text(str(value.value), value, item_path)
            else:
                try:
                    loaded = yaml.safe_load(yaml.serialize(value))
                    json.dumps(loaded)  # the runner receives them as JSON
                except yaml.YAMLError as exc:  # `!tag x`, `{[a]: 1}`
                    problem = getattr(exc, "problem", None) or "not a plain YAML value"
                    self.rep.at(value, item_path, f"invalid parameter value: {problem}")
                except (TypeError, ValueError) as exc:  # a date, a !!set, !!binary
                    self.rep.at(
                        value, item_path, f"invalid parameter value: {exc} (quote it as a string)"
                    )
                else:
                    out[name] = loaded
        return out

    @staticmethod
    def _template(step_id: str, path: str, anchor: Node, f: dict[str, Any]) -> StepTemplate:
        retry = f.get("retry", {})
        return StepTemplate(
            id=step_id,
            path=path,
            anchor=anchor,
            name=f.get("name"),
            run=f.get("run"),
            shell=f.get("shell"),
            needs=f.get("needs", []),
            condition=f.get("if"),
            env=f.get("env", {}),
            working_directory=f.get("working-directory"),
            timeout=f.get("timeout"),
            retry=RetrySpec(
                max=retry.get("max", 0),
                delay=retry.get("delay", 0.0),
                backoff=retry.get("backoff", 1.0),
            ),
            continue_on_error=f.get("continue-on-error", False),
            matrix=f.get("matrix", []),
            env_inherit=f.get("env-inherit"),
            artifacts=f.get("artifacts"),
            cache=f.get("cache"),
            notebook=f.get("notebook"),
            kernel=f.get("kernel"),
            parameters=f.get("parameters", {}),
            substeps=f.get("steps"),
        )
