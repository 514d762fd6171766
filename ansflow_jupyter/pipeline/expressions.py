"""GitHub's expression language: a recursive-descent parser and an evaluator (never `eval`).

Grammar, loosest binding first (whitespace between tokens is ignored)::

    expr    := and ('||' and)*            -- returns the deciding operand, like GitHub
    and     := equal ('&&' equal)*
    equal   := compare (('==' | '!=') compare)*
    compare := unary (('<' | '<=' | '>' | '>=') unary)*
    unary   := '!' unary | postfix
    postfix := primary ('.' NAME | '.*' | '[' expr ']' | '[*]')*
    primary := '(' expr ')' | FUNC '(' [expr (',' expr)*] ')' | CONTEXT
             | 'string' | NUMBER | true | false | null

Nesting (parentheses, `!`, `[...]`, call arguments) is limited to MAX_DEPTH levels, so a
hostile expression is a located error in microseconds, never a stack overflow; operator
chains are kept flat so evaluating a long `a && b && ...` does not recurse either.
Tokens are in expr_lexer.py; values, coercion and the functions in expr_values.py.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .expr_lexer import ExpressionSyntaxError, number, tokenize
from .expr_values import (
    ALL_FUNCTIONS,
    FUNCTIONS,
    STATUS_FUNCTIONS,
    ExpressionRuntimeError,
    Value,
    compare,
    hash_files,
    lookup,
    loose_equal,
    star,
    truthy,
)

__all__ = [
    "MAX_DEPTH",
    "NATIVE_CONTEXTS",
    "Expression",
    "ExpressionSyntaxError",
    "Ref",
    "Scope",
    "parse_expression",
]

MAX_DEPTH = 50
#: The contexts a native pipeline's expressions may read.
NATIVE_CONTEXTS = ("env", "matrix", "needs")

_CANONICAL = {name.casefold(): name for name in ALL_FUNCTIONS}


@dataclass(slots=True)
class Scope:
    """What an expression is evaluated against."""

    contexts: Mapping[str, Value] = field(default_factory=dict)
    status: Callable[[str], bool] | None = None  # success/failure/always/cancelled
    workdir: Path | None = None  # hashFiles() patterns resolve here
    bool_text: bool = False  # native pipelines: 'true' == true (see loose_equal)


class Node(Protocol):
    """One node of a parsed expression."""

    def value(self, scope: Scope) -> Value: ...


@dataclass(frozen=True, slots=True)
class Literal:
    """null, true, false, a number or a string."""

    literal: Value

    def value(self, scope: Scope) -> Value:
        return self.literal


@dataclass(frozen=True, slots=True)
class Access:
    """A context or value followed by `.name`, `[expr]` and `.*` accessors."""

    base: Node | str  # a str is a context name
    accessors: tuple[str | Node | None, ...]  # str: property, Node: index, None: `*`

    def value(self, scope: Scope) -> Value:
        current: Value = (
            scope.contexts.get(self.base) if isinstance(self.base, str) else self.base.value(scope)
        )
        filtered = False  # after `*`, accessors apply to every item
        for accessor in self.accessors:
            if accessor is None:
                current = [v for item in current for v in star(item)] if filtered else star(current)
                filtered = True
                continue
            key = accessor if isinstance(accessor, str) else accessor.value(scope)
            if filtered:
                current = [v for v in (lookup(item, key) for item in current) if v is not None]
            else:
                current = lookup(current, key)
        return current


@dataclass(frozen=True, slots=True)
class Not:
    """`!x`."""

    operand: Node

    def value(self, scope: Scope) -> Value:
        return not truthy(self.operand.value(scope))


@dataclass(frozen=True, slots=True)
class Logical:
    """`a && b && ...` or `a || b || ...`: the operand that decides, like JavaScript."""

    op: str
    operands: tuple[Node, ...]

    def value(self, scope: Scope) -> Value:
        result: Value = None
        for operand in self.operands:
            result = operand.value(scope)
            if truthy(result) == (self.op == "||"):
                return result
        return result


@dataclass(frozen=True, slots=True)
class Comparison:
    """`a == b`, `a < b`, ...; chains fold from the left (`a == b == c` is `(a == b) == c`)."""

    first: Node
    rest: tuple[tuple[str, Node], ...]

    def value(self, scope: Scope) -> Value:
        left = self.first.value(scope)
        for op, node in self.rest:
            right = node.value(scope)
            if op in ("==", "!="):
                left = loose_equal(left, right, bool_text=scope.bool_text) == (op == "==")
            else:
                left = compare(op, left, right)
        return left


@dataclass(frozen=True, slots=True)
class Call:
    """A function call."""

    name: str
    args: tuple[Node, ...]

    def value(self, scope: Scope) -> Value:
        if self.name in STATUS_FUNCTIONS:
            if scope.status is None:
                raise ExpressionRuntimeError(f"{self.name}() is only available in `if:`")
            return scope.status(self.name)
        values = [arg.value(scope) for arg in self.args]
        if self.name == "hashFiles":
            if scope.workdir is None:
                raise ExpressionRuntimeError("hashFiles() is not available here")
            return hash_files(scope.workdir, values)
        return FUNCTIONS[self.name][2](*values)


@dataclass(frozen=True, slots=True)
class Ref:
    """A context read as written: `needs.build.outputs.version` -> ('needs', 'build', ...).

    `name` is the first property (None for `*` or a computed index); `key` the third one
    when the second is `outputs` (what `needs.ID.outputs.KEY` reads)."""

    context: str
    name: str | None
    key: str | None
    offset: int


@dataclass(frozen=True, slots=True)
class Expression:
    """A parsed expression: evaluate it, or ask what it calls and reads."""

    source: str
    root: Node
    calls: frozenset[str]  # function names called, as GitHub spells them
    contexts: frozenset[str]  # context names read
    refs: tuple[Ref, ...]  # every context read, in source order

    @property
    def needs(self) -> tuple[Ref, ...]:
        """The reads of the `needs` context."""
        return tuple(r for r in self.refs if r.context == "needs")

    def evaluate(self, scope: Scope) -> Value:
        """The value; raises ExpressionRuntimeError for bad JSON or format strings."""
        return self.root.value(scope)


def parse_expression(
    text: str,
    *,
    start: int = 0,
    contexts: Sequence[str] = NATIVE_CONTEXTS,
    double_quotes: bool = True,
) -> Expression:
    """Parse one expression (no `${{ }}`); offsets in errors are `start` + position in text.

    `double_quotes` accepts "strings" as well as GitHub's 'strings' (native pipelines
    always did)."""
    parser = _Parser(text, start, tuple(contexts), double_quotes)
    if parser.peek()[0] == "end":
        raise ExpressionSyntaxError("empty expression", start)
    root = parser.expr()
    if parser.peek()[0] != "end":
        _, token, offset = parser.peek()
        raise ExpressionSyntaxError(f"unexpected {token!r}; expected '&&', '||' or the end", offset)
    return Expression(
        text, root, frozenset(parser.calls), frozenset(parser.used), tuple(parser.refs)
    )


class _Parser:
    def __init__(
        self, body: str, start: int, contexts: tuple[str, ...], double_quotes: bool
    ) -> None:
        self.end = start + len(body)
        self.contexts = contexts
        self.tokens = tokenize(body, start, double_quotes)
        self.seen: list[tuple[str, str, int]] = []  # tokens read so far
        self.pos = 0
        self.depth = 0
        self.arguments = 0  # > 0 while parsing call arguments: a bare context is fine there
        self.calls: set[str] = set()
        self.used: set[str] = set()
        self.refs: list[Ref] = []

    def peek(self) -> tuple[str, str, int]:
        """The token at `pos` (kind "end" after the last one)."""
        if self.pos == len(self.seen):
            token = next(self.tokens, None)
            if token is None:
                return ("end", "", self.end)
            self.seen.append(token)
        return self.seen[self.pos]

    def _is_op(self, *texts: str) -> bool:
        kind, text, _ = self.peek()
        return kind == "op" and text in texts

    def _take(self, token: str, what: str) -> None:
        kind, text, offset = self.peek()
        if kind != "op" or text != token:
            raise ExpressionSyntaxError(f"expected {what}, found {_describe(kind, text)}", offset)
        self.pos += 1

    def _deeper(self, offset: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionSyntaxError(
                f"expression nested too deeply (more than {MAX_DEPTH} levels)", offset
            )

    def expr(self) -> Node:
        return self._chain("||", self._and)

    def _and(self) -> Node:
        return self._chain("&&", self._equal)

    def _chain(self, op: str, operand: Callable[[], Node]) -> Node:
        nodes = [operand()]
        while self._is_op(op):
            self.pos += 1
            nodes.append(operand())
        return nodes[0] if len(nodes) == 1 else Logical(op, tuple(nodes))

    def _equal(self) -> Node:
        return self._comparison(("==", "!="), self._compare)

    def _compare(self) -> Node:
        return self._comparison(("<", "<=", ">", ">="), self._unary)

    def _comparison(self, ops: tuple[str, ...], operand: Callable[[], Node]) -> Node:
        first = operand()
        rest: list[tuple[str, Node]] = []
        while self._is_op(*ops):
            op = self.peek()[1]
            self.pos += 1
            rest.append((op, operand()))
        return Comparison(first, tuple(rest)) if rest else first

    def _unary(self) -> Node:
        if self._is_op("!"):
            self._deeper(self.peek()[2])
            self.pos += 1
            node = Not(self._unary())
            self.depth -= 1
            return node
        return self._postfix()

    def _postfix(self) -> Node:
        base, context, offset = self._primary()
        accessors: list[str | Node | None] = []
        while self._is_op(".", "["):
            _, text, at = self.peek()
            self.pos += 1
            if text == ".":
                accessors.append(self._property(context, accessors))
                continue
            if self._is_op("*"):
                self.pos += 1
                accessors.append(None)
            else:
                self._deeper(at)
                accessors.append(self.expr())
                self.depth -= 1
            self._take("]", "']'")
        if context is not None and not accessors and not self.arguments:
            kind, text, at = self.peek()
            raise ExpressionSyntaxError(
                f"expected '.' after '{context}', found {_describe(kind, text)}", at
            )
        if context is not None:
            self.refs.append(_ref(context, accessors, offset))
        if not accessors and context is None:
            return base
        return Access(context if context is not None else base, tuple(accessors))

    def _property(self, context: str | None, accessors: list[str | Node | None]) -> str | None:
        kind, text, offset = self.peek()
        if (kind, text) == ("op", "*"):
            self.pos += 1
            return None
        if kind != "name":
            if context == "env" and not accessors:
                raise ExpressionSyntaxError("expected a variable name after 'env.'", offset)
            raise ExpressionSyntaxError(
                f"expected a property name after '.', found {_describe(kind, text)}", offset
            )
        self.pos += 1
        return text

    def _primary(self) -> tuple[Node, str | None, int]:
        """The node, the context name when it is one, and its offset."""
        kind, text, offset = self.peek()
        if kind == "end":
            raise ExpressionSyntaxError("unexpected end of expression", offset)
        self.pos += 1
        if kind == "string":
            return Literal(text), None, offset
        if kind == "number":
            return Literal(number(text)), None, offset
        if kind == "op":
            if text != "(":
                raise ExpressionSyntaxError(f"unexpected {text!r}", offset)
            self._deeper(offset)
            node = self.expr()
            self._take(")", "')'")
            self.depth -= 1
            return node, None, offset
        if text in ("true", "false", "null"):
            return Literal({"true": True, "false": False}.get(text)), None, offset
        if self._is_op("("):
            return self._call(text, offset), None, offset
        if text.casefold() in _CANONICAL:
            name = _CANONICAL[text.casefold()]
            raise ExpressionSyntaxError(f"expected '(' after '{name}'", offset + len(text))
        if text in self.contexts:
            self.used.add(text)
            return Literal(None), text, offset
        raise ExpressionSyntaxError(
            f"unexpected name '{text}'; expected a function call, a context "
            f"({', '.join(self.contexts)}), a 'string', a number, true, false or null",
            offset,
        )

    def _call(self, text: str, offset: int) -> Node:
        name = _CANONICAL.get(text.casefold())
        if name is None:
            close = difflib.get_close_matches(text, ALL_FUNCTIONS, n=1)
            hint = f"; did you mean '{close[0]}()'?" if close else ""
            raise ExpressionSyntaxError(f"unknown function '{text}()'{hint}", offset)
        self._deeper(offset)
        self.pos += 1  # (
        args: list[Node] = []
        if name in STATUS_FUNCTIONS:
            self._take(")", f"')' ({name}() takes no arguments)")
        else:
            self.arguments += 1
            if not self._is_op(")"):
                args.append(self.expr())
                while self._is_op(","):
                    self.pos += 1
                    args.append(self.expr())
            self._take(")", "',' or ')'")
            self.arguments -= 1
            fewest, most, _ = FUNCTIONS.get(name, (1, None, None))
            if len(args) < fewest or (most is not None and len(args) > most):
                count = str(fewest) if fewest == most else f"{fewest} or more"
                if most is not None and most != fewest:
                    count = f"{fewest} to {most}"
                raise ExpressionSyntaxError(
                    f"{name}() takes {count} argument(s), got {len(args)}", offset
                )
        self.depth -= 1
        self.calls.add(name)
        return Call(name, tuple(args))


def _describe(kind: str, text: str) -> str:
    return "the end of the expression" if kind == "end" else repr(text)


def _ref(context: str, accessors: Sequence[str | Node | None], offset: int) -> Ref:
    """What a context read names, from accessors that are names or literal strings."""
    names = [
        a if isinstance(a, str) else a.literal if isinstance(a, Literal) else None
        for a in accessors[:3]
    ]
    name = names[0] if names and isinstance(names[0], str) else None
    key = None
    if len(names) == 3 and isinstance(names[1], str) and names[1].casefold() == "outputs":
        key = names[2] if isinstance(names[2], str) else None
    return Ref(context, name, key, offset)
