"""Small helpers over YAML nodes: plain values, keyed access and located checks."""

from __future__ import annotations

from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..expressions import ExpressionSyntaxError, parse_expression
from ..interpolate import segments
from ..source import TAG_BOOL, TAG_NULL, Reporter, kind, to_bool
from .context import CONTEXTS


def plain(node: Node) -> Any:
    """A node as Python: mappings, lists, booleans, None, and every other scalar as the
    text written (so `3.10` stays "3.10")."""
    if isinstance(node, MappingNode):
        return {str(plain(k)): plain(v) for k, v in node.value}
    if isinstance(node, SequenceNode):
        return [plain(item) for item in node.value]
    assert isinstance(node, ScalarNode)
    if node.tag == TAG_NULL:
        return None
    if node.tag == TAG_BOOL:
        return to_bool(node)
    return str(node.value)


def items(node: Node | None) -> list[tuple[str, Node, Node]]:
    """(key, key node, value node) of a mapping; [] for anything else."""
    if not isinstance(node, MappingNode):
        return []
    return [(str(k.value), k, v) for k, v in node.value]


def child(node: Node | None, key: str) -> Node | None:
    """The value node under `key` (None when absent)."""
    for name, _, value in items(node):
        if name == key:
            return value
    return None


def want_mapping(node: Node | None, path: str, rep: Reporter) -> bool:
    """True for a mapping (or an absent/empty value); reports anything else."""
    if node is None or isinstance(node, MappingNode):
        return True
    if isinstance(node, ScalarNode) and node.tag == TAG_NULL:
        return True
    rep.at(node, path, f"{path} must be a mapping, not {kind(node)}")
    return False


def text_of(node: Node | None) -> str:
    """A scalar's text ('' for null or a collection)."""
    if isinstance(node, ScalarNode) and node.tag != TAG_NULL:
        if node.tag == TAG_BOOL:
            return "true" if to_bool(node) else "false"
        return str(node.value)
    return ""


def check_expressions(node: Node | None, path: str, rep: Reporter) -> None:
    """Report every `${{ }}` in the strings of `node` that does not parse (located)."""
    if isinstance(node, MappingNode):
        for name, _, value in items(node):
            check_expressions(value, f"{path}.{name}", rep)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            check_expressions(item, f"{path}[{index}]", rep)
    elif isinstance(node, ScalarNode) and "${{" in str(node.value):
        text = str(node.value)
        try:
            for seg in segments(text):
                try:
                    parse_expression(
                        seg.inner, start=seg.inner_start, contexts=CONTEXTS, double_quotes=False
                    )
                except ExpressionSyntaxError as exc:
                    rep.inside(node, exc.offset, path, exc.message)
        except ExpressionSyntaxError as exc:
            rep.inside(node, exc.offset, path, exc.message)


def env_mapping(node: Node | None, path: str, rep: Reporter) -> dict[str, str]:
    """An `env:` mapping as written (its `${{ }}` are rendered by the job runner)."""
    if not want_mapping(node, path, rep):
        return {}
    check_expressions(node, path, rep)
    return {name: text_of(value) for name, _, value in items(node)}
