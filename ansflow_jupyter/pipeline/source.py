"""Reading a pipeline file: bytes -> text -> a YAML node tree that keeps positions."""

from __future__ import annotations

import math
import re

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import SpecIssue
from .templates import join

MAX_BYTES = 1024 * 1024
# Deeper YAML is refused before anything walks it: no pipeline nests like that, and the
# composers and checkers recurse (a 5,000-deep `[[[…]]]` ended in a RecursionError).
MAX_NESTING = 100

TAG_STR = "tag:yaml.org,2002:str"
TAG_INT = "tag:yaml.org,2002:int"
TAG_FLOAT = "tag:yaml.org,2002:float"
TAG_BOOL = "tag:yaml.org,2002:bool"
TAG_NULL = "tag:yaml.org,2002:null"

# libyaml composes ~20x faster; the pure-Python loader words syntax errors better, so it
# re-reads a file only when libyaml refuses it.
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_SURROGATE = re.compile("[\ud800-\udfff]")

# PyYAML's own scalar constructors, so `0x1F`, `1_000` or `yes` mean what YAML says.
_CONSTRUCTOR = yaml.constructor.SafeConstructor()


class Reporter:
    """Collects located issues for one file; every stage adds to it, nobody stops early."""

    def __init__(self, file: str | None, text: str = "") -> None:
        self.file = file
        self.lines = text.splitlines()
        self._issues: list[SpecIssue] = []

    def add(self, message: str, line: int, column: int, path: str = "") -> None:
        """Record one issue at a 1-based line and column."""
        self._issues.append(SpecIssue(message, line, column, path, self.file))

    def at(self, node: Node, path: str, message: str) -> None:
        """Record an issue at the start of a YAML node."""
        self.add(message, node.start_mark.line + 1, node.start_mark.column + 1, path)

    def inside(self, node: Node, offset: int, path: str, message: str) -> None:
        """Record an issue at a character offset inside a scalar's value."""
        line, column = scalar_position(node, offset, self.lines)
        self.add(message, line, column, path)

    @property
    def failed(self) -> bool:
        """At least one issue was recorded."""
        return bool(self._issues)

    def issues(self) -> list[SpecIssue]:
        """Every issue once, sorted by position (file-level issues at line 0 first)."""
        unique = dict.fromkeys(self._issues)
        return sorted(unique, key=lambda i: (i.line, i.column, i.path, i.message))


def scalar_position(node: Node, offset: int, lines: list[str]) -> tuple[int, int]:
    """1-based line/column of `node.value[offset]` in the file (best effort for folded text)."""
    line, column = node.start_mark.line, node.start_mark.column
    value = node.value if isinstance(node, ScalarNode) else ""
    before = value[:offset]
    style = node.style if isinstance(node, ScalarNode) else None
    if style in ("|", ">"):
        # Block scalar content starts on the line after the indicator, at the block indent.
        target = line + 1 + before.count("\n")
        src = lines[target] if target < len(lines) else ""
        indent = len(src) - len(src.lstrip(" "))
        return target + 1, indent + len(before.rsplit("\n", 1)[-1]) + 1
    if "\n" in before or node.start_mark.line != node.end_mark.line:
        return line + 1, column + 1  # multi-line flow scalars are folded: no exact mapping
    quote = 1 if style in ("'", '"') else 0
    return line + 1, column + quote + offset + 1


def decode(data: str | bytes, rep: Reporter) -> str | None:
    """The file's text, or None after reporting why it cannot be read (size, encoding)."""
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        rep.add(f"pipeline file is too large ({size / 1e6:.1f} MB > 1 MiB)", 0, 0)
        return None
    if isinstance(data, str):
        # A str (not bytes) can hold a lone surrogate, which libyaml cannot even encode.
        lone = _SURROGATE.search(data)
        if lone is not None:
            before = data[: lone.start()]
            line, column = before.count("\n") + 1, len(before.rsplit("\n", 1)[-1]) + 1
            message = f"text is not valid Unicode (lone surrogate U+{ord(lone.group()):04X})"
            rep.add(message, line, column)
            return None
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        head = data[: exc.start]
        line = head.count(b"\n") + 1
        column = len(head.rsplit(b"\n", 1)[-1].decode("utf-8", "replace")) + 1
        rep.add(
            f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            line,
            column,
        )
        return None


def compose(text: str, rep: Reporter) -> MappingNode | None:
    """The top-level mapping node, or None after reporting a syntax error or a wrong shape."""
    try:
        root = _compose(text, rep)
    except RecursionError:
        _report_nesting(text, rep)
        return None
    if root is not None and _bad_tree(root, rep):
        return None
    return root


def _bad_tree(root: Node, rep: Reporter) -> bool:
    """Report the first node nested deeper than MAX_NESTING and every scalar no later
    stage can use (see _bad_scalar), in an iterative walk; True when there was any.

    Aliases make the tree a graph (a few lines can reach 10^9 nodes): a node already
    walked at this depth or deeper is not walked again."""
    stack: list[tuple[Node, int, str]] = [(root, 1, "")]
    deepest: dict[int, int] = {}
    bad = False
    while stack:
        node, depth, path = stack.pop()
        if deepest.get(id(node), 0) >= depth:
            continue
        deepest[id(node)] = depth
        if depth > MAX_NESTING:
            rep.at(node, "", f"YAML is nested too deeply (more than {MAX_NESTING} levels)")
            return True
        if isinstance(node, ScalarNode):
            bad = _bad_scalar(node, path, rep) or bad
        elif isinstance(node, SequenceNode):
            stack.extend((child, depth + 1, join(path, i)) for i, child in enumerate(node.value))
        elif isinstance(node, MappingNode):
            for key, value in node.value:
                name = join(path, str(key.value)) if isinstance(key, ScalarNode) else path
                stack += [(key, depth + 1, name), (value, depth + 1, name)]
    return bad


def duplicate_keys(root: Node, rep: Reporter) -> bool:
    """Report every repeated key of every mapping (PyYAML keeps the last one silently);
    True when there was any. Native pipelines report them as they check each mapping."""
    stack: list[tuple[Node, str]] = [(root, "")]
    seen_nodes: set[int] = set()
    found = False
    while stack:
        node, path = stack.pop()
        if id(node) in seen_nodes:  # an alias: already walked
            continue
        seen_nodes.add(id(node))
        if isinstance(node, SequenceNode):
            stack.extend((child, join(path, i)) for i, child in enumerate(node.value))
        elif isinstance(node, MappingNode):
            first: dict[str, Node] = {}
            for key, value in node.value:
                name = str(key.value) if isinstance(key, ScalarNode) else ""
                if name in first and isinstance(key, ScalarNode):
                    line = first[name].start_mark.line + 1
                    rep.at(key, join(path, name), f"duplicate key '{name}' (first at line {line})")
                    found = True
                    continue
                first.setdefault(name, key)
                stack.append((value, join(path, name) if name else path))
    return found


def bad_character(text: str) -> str | None:
    """What makes `text` unusable in a step (a NUL: no argument, path or variable can hold
    one; a lone surrogate `"\\ud800"`: no UTF-8 for it, so no store can save it), or None."""
    if "\0" in text:
        return "a NUL character (\\0), which no command, path or variable can hold"
    lone = _SURROGATE.search(text)
    if lone is not None:
        return f"a lone surrogate (U+{ord(lone.group()):04X}), which is not valid Unicode"
    return None


def _bad_scalar(node: ScalarNode, path: str, rep: Reporter) -> bool:
    """Report a typed scalar YAML cannot construct (`!!int abc`, `2020-13-45`, 5,000 digits).

    Every later stage builds values with PyYAML's constructors, which raise on these.
    A double-quoted `"\\0"` or `"\\ud800"` is refused too (see bad_character)."""
    bad = bad_character(node.value)
    if bad is not None:
        rep.at(node, path, f"contains {bad}")
        return True
    construct = _TYPED.get(node.tag)
    if construct is None:
        return False
    try:
        construct(node)
    # PyYAML's constructors trust the resolver's patterns; an explicit tag skips them.
    except (ValueError, KeyError, IndexError, AttributeError, OverflowError, yaml.YAMLError) as exc:
        what = node.tag.rsplit(":", 1)[-1]
        reason = "too many digits" if "digits" in str(exc) else f"not a valid {what}"
        shown = node.value if len(node.value) <= 40 else node.value[:40] + "…"
        rep.at(node, path, f"invalid YAML {what} '{shown}': {reason}")
        return True
    return False


_TYPED = {
    TAG_INT: _CONSTRUCTOR.construct_yaml_int,
    TAG_FLOAT: _CONSTRUCTOR.construct_yaml_float,
    TAG_BOOL: _CONSTRUCTOR.construct_yaml_bool,
    "tag:yaml.org,2002:timestamp": _CONSTRUCTOR.construct_yaml_timestamp,
    "tag:yaml.org,2002:binary": _CONSTRUCTOR.construct_yaml_binary,
}


def _report_nesting(text: str, rep: Reporter) -> None:
    """Locate nesting too deep to compose, from the (flat) event stream."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_FAST_LOADER):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_NESTING and event.start_mark is not None:
                    line, column = event.start_mark.line + 1, event.start_mark.column + 1
                    rep.add(
                        f"YAML is nested too deeply (more than {MAX_NESTING} levels)", line, column
                    )
                    return
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.YAMLError:
        pass
    rep.add(f"YAML is nested too deeply (more than {MAX_NESTING} levels)", 1, 1)


def _compose(text: str, rep: Reporter) -> MappingNode | None:
    try:
        root = yaml.compose(text, Loader=_FAST_LOADER)
    except yaml.MarkedYAMLError as exc:
        if "nesting depth" in str(exc.problem) and exc.problem_mark is not None:
            # libyaml stops at 1,000 levels; the pure-Python loader would recurse instead.
            line, column = exc.problem_mark.line + 1, exc.problem_mark.column + 1
            rep.add(f"YAML is nested too deeply (more than {MAX_NESTING} levels)", line, column)
            return None
        root = None
    except yaml.YAMLError:
        root = None
    else:
        return _check_root(root, rep)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        # PyYAML splits "while scanning a quoted scalar" / "found unexpected end of stream".
        parts = [p for p in (exc.context, exc.problem) if p]
        message = "YAML syntax error: " + (", ".join(parts) or "invalid YAML")
        start = exc.context_mark
        if start is not None and mark is not None and start.line != mark.line:
            message += f" (started at line {start.line + 1}, column {start.column + 1})"
        if "'\\t'" in message:
            message += "; tabs are not allowed for indentation, use spaces"
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        rep.add(message, line, column)
        return None
    except yaml.reader.ReaderError as exc:
        # Control characters such as NUL: position is a character index into the text.
        head = text[: exc.position]
        line = head.count("\n") + 1
        column = len(head.rsplit("\n", 1)[-1]) + 1
        rep.add(f"YAML syntax error: unacceptable character #x{exc.character:04x}", line, column)
        return None
    except yaml.YAMLError as exc:  # pragma: no cover - every PyYAML error is one of the above
        rep.add(f"YAML syntax error: {exc}", 1, 1)
        return None
    return _check_root(root, rep)


def _check_root(root: Node | None, rep: Reporter) -> MappingNode | None:
    if root is None:
        rep.add("pipeline file is empty (expected a mapping with 'name' and 'steps')", 1, 1)
        return None
    if not isinstance(root, MappingNode):
        rep.at(root, "", f"the top level must be a mapping (name, steps, ...), not {kind(root)}")
        return None
    return root


def kind(node: Node) -> str:
    """A human name for what a node holds, for "must be X, not Y" messages."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return {
        TAG_STR: "a string",
        TAG_INT: "an integer",
        TAG_FLOAT: "a number",
        TAG_BOOL: "a boolean",
        TAG_NULL: "an empty value",
    }.get(node.tag, "a " + node.tag.rsplit(":", 1)[-1])


def is_str(node: Node) -> bool:
    """A scalar that YAML reads as a string."""
    return isinstance(node, ScalarNode) and node.tag == TAG_STR


def to_int(node: Node) -> int | None:
    """The integer a scalar holds, or None (booleans are not integers here)."""
    if isinstance(node, ScalarNode) and node.tag == TAG_INT:
        return int(_CONSTRUCTOR.construct_yaml_int(node))
    return None


def to_number(node: Node) -> float | None:
    """The number an int or float scalar holds, or None."""
    if isinstance(node, ScalarNode) and node.tag == TAG_INT:
        value = int(_CONSTRUCTOR.construct_yaml_int(node))
        try:
            return float(value)
        except OverflowError:  # more than ~308 digits: past any limit that reads it
            return math.inf if value > 0 else -math.inf
    if isinstance(node, ScalarNode) and node.tag == TAG_FLOAT:
        return float(_CONSTRUCTOR.construct_yaml_float(node))
    return None


def to_bool(node: Node) -> bool | None:
    """The boolean a scalar holds, or None."""
    if isinstance(node, ScalarNode) and node.tag == TAG_BOOL:
        return bool(_CONSTRUCTOR.construct_yaml_bool(node))
    return None


def scalar_text(node: Node) -> str | None:
    """A string, number or boolean as text (numbers as written, so 3.10 stays "3.10")."""
    if not isinstance(node, ScalarNode) or node.tag == TAG_NULL:
        return None
    if node.tag == TAG_BOOL:
        return "true" if to_bool(node) else "false"
    return str(node.value)
