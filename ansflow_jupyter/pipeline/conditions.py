"""`if:` expressions: a tiny recursive-descent parser and evaluator (never `eval`).

Grammar (whitespace between tokens is ignored; an outer `${{ ... }}` is optional)::

    expr    := and ('||' and)*
    and     := unary ('&&' unary)*
    unary   := '!' unary | compare
    compare := primary (('==' | '!=') primary)?
    primary := '(' expr ')' | FUNC '(' ')' | 'env' '.' NAME | STRING | 'true' | 'false'

Status functions, evaluated against a `ConditionContext`:

- `success()`   -- `ctx.needs_succeeded and not ctx.cancelled`
- `failure()`   -- `ctx.needs_failed`
- `always()`    -- `True`
- `cancelled()` -- `ctx.cancelled`

`env.X` is the variable's value ("" when unset); a string is true when non-empty.
`==`/`!=` compare text (`true`/`false` compare as "true"/"false").
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Protocol

from .spec import ConditionContext

STATUS_FUNCTIONS = ("success", "failure", "always", "cancelled")

_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<op>&&|\|\||==|!=|!|\(|\)|\.)
      | (?P<string>'[^']*'|"[^"]*")
      | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)""",
    re.VERBOSE,
)
_WRAPPED = re.compile(r"^(\s*\$\{\{)(.*)\}\}\s*$", re.DOTALL)

Value = str | bool


class ConditionSyntaxError(ValueError):
    """An `if:` expression that does not parse; `offset` is where in the source text."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


class _Node(Protocol):
    def value(self, ctx: ConditionContext) -> Value: ...


@dataclass(frozen=True, slots=True)
class _Literal:
    literal: Value

    def value(self, ctx: ConditionContext) -> Value:
        return self.literal


@dataclass(frozen=True, slots=True)
class _Env:
    name: str

    def value(self, ctx: ConditionContext) -> Value:
        return ctx.env.get(self.name, "")


@dataclass(frozen=True, slots=True)
class _Call:
    function: str

    def value(self, ctx: ConditionContext) -> Value:
        if self.function == "success":
            return ctx.needs_succeeded and not ctx.cancelled
        if self.function == "failure":
            return ctx.needs_failed
        if self.function == "cancelled":
            return ctx.cancelled
        return True  # always()


@dataclass(frozen=True, slots=True)
class _Not:
    operand: _Node

    def value(self, ctx: ConditionContext) -> Value:
        return not _truthy(self.operand.value(ctx))


@dataclass(frozen=True, slots=True)
class _Binary:
    op: str
    left: _Node
    right: _Node

    def value(self, ctx: ConditionContext) -> Value:
        if self.op == "&&":
            return _truthy(self.left.value(ctx)) and _truthy(self.right.value(ctx))
        if self.op == "||":
            return _truthy(self.left.value(ctx)) or _truthy(self.right.value(ctx))
        same = _text(self.left.value(ctx)) == _text(self.right.value(ctx))
        return same if self.op == "==" else not same


def _truthy(value: Value) -> bool:
    return value if isinstance(value, bool) else value != ""


def _text(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


@dataclass(slots=True)
class ParsedCondition:
    """A parsed `if:` expression; implements the `Condition` protocol of spec.py."""

    source: str
    root: _Node
    calls: frozenset[str]

    @property
    def uses_status_function(self) -> bool:
        """True when the expression calls success(), failure(), always() or cancelled()."""
        return bool(self.calls)

    def evaluate(self, ctx: ConditionContext) -> bool:
        """Evaluate against the context; never raises."""
        return _truthy(self.root.value(ctx))


def parse_condition(text: str) -> ParsedCondition:
    """Parse an `if:` expression; raises ConditionSyntaxError with the offending offset."""
    wrapped = _WRAPPED.match(text)
    start, body = (len(wrapped.group(1)), wrapped.group(2)) if wrapped else (0, text)
    parser = _Parser(body, start)
    if not parser.tokens:
        raise ConditionSyntaxError("empty `if` expression", start)
    root = parser.expr()
    if parser.pos < len(parser.tokens):
        _, token, offset = parser.tokens[parser.pos]
        raise ConditionSyntaxError(f"unexpected {token!r}; expected '&&', '||' or the end", offset)
    return ParsedCondition(text, root, frozenset(parser.calls))


class _Parser:
    def __init__(self, body: str, start: int) -> None:
        self.end = start + len(body)
        self.tokens = self._tokenize(body, start)
        self.pos = 0
        self.calls: set[str] = set()

    @staticmethod
    def _tokenize(body: str, start: int) -> list[tuple[str, str, int]]:
        tokens, i = [], 0
        while i < len(body):
            match = _TOKEN.match(body, i)
            if match is None:
                char, hint = body[i], ""
                if char in "'\"":
                    raise ConditionSyntaxError(
                        f"unterminated string (no closing {char})", start + i
                    )
                if char in "&|":
                    hint = f" (use '{char}{char}')"
                elif char == "=":
                    hint = " (use '==')"
                raise ConditionSyntaxError(f"unexpected character {char!r}{hint}", start + i)
            kind = match.lastgroup or ""
            if kind != "space":
                tokens.append((kind, match.group(), start + i))
            i = match.end()
        return tokens

    def _peek(self) -> tuple[str, str, int]:
        if self.pos < len(self.tokens):
            return self.tokens[self.pos]
        return ("end", "", self.end)

    def _take(self, token: str, what: str) -> None:
        kind, text, offset = self._peek()
        if text != token or kind == "string":
            found = "the end of the expression" if kind == "end" else repr(text)
            raise ConditionSyntaxError(f"expected {what}, found {found}", offset)
        self.pos += 1

    def expr(self) -> _Node:
        node = self._and()
        while self._peek()[1] == "||" and self._peek()[0] == "op":
            self.pos += 1
            node = _Binary("||", node, self._and())
        return node

    def _and(self) -> _Node:
        node = self._unary()
        while self._peek()[1] == "&&" and self._peek()[0] == "op":
            self.pos += 1
            node = _Binary("&&", node, self._unary())
        return node

    def _unary(self) -> _Node:
        if self._peek()[:2] == ("op", "!"):
            self.pos += 1
            return _Not(self._unary())
        left = self._primary()
        kind, text, _ = self._peek()
        if kind == "op" and text in ("==", "!="):
            self.pos += 1
            return _Binary(text, left, self._primary())
        return left

    def _primary(self) -> _Node:
        kind, text, offset = self._peek()
        if kind == "end":
            raise ConditionSyntaxError("unexpected end of expression", offset)
        self.pos += 1
        if kind == "string":
            return _Literal(text[1:-1])
        if (kind, text) == ("op", "("):
            node = self.expr()
            self._take(")", "')'")
            return node
        if kind == "op":
            raise ConditionSyntaxError(f"unexpected {text!r}", offset)
        if text in ("true", "false"):
            return _Literal(text == "true")
        if text == "env":
            self._take(".", "'.' after 'env'")
            kind, name, offset = self._peek()
            if kind != "name":
                raise ConditionSyntaxError("expected a variable name after 'env.'", offset)
            self.pos += 1
            return _Env(name)
        if self._peek()[:2] == ("op", "("):
            if text not in STATUS_FUNCTIONS:
                close = difflib.get_close_matches(text, STATUS_FUNCTIONS, n=1)
                hint = f"; did you mean '{close[0]}()'?" if close else ""
                raise ConditionSyntaxError(f"unknown function '{text}()'{hint}", offset)
            self.pos += 1
            self._take(")", f"')' ({text}() takes no arguments)")
            self.calls.add(text)
            return _Call(text)
        if text in STATUS_FUNCTIONS:
            raise ConditionSyntaxError(f"expected '(' after '{text}'", offset + len(text))
        raise ConditionSyntaxError(
            f"unexpected name {text!r}; expected a status function such as success(), "
            "env.NAME, a quoted string, true or false",
            offset,
        )
