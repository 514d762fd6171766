"""Tokens of the expression language, with their offsets for located errors."""

from __future__ import annotations

import re
from collections.abc import Iterator

_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<number>-?(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?))
      | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
      | (?P<op>&&|\|\||==|!=|<=|>=|<|>|!|\(|\)|\[|\]|\.|,|\*)""",
    re.VERBOSE,
)


class ExpressionSyntaxError(ValueError):
    """An expression that does not parse; `offset` is where in the source text."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


def tokenize(body: str, start: int, double_quotes: bool) -> Iterator[tuple[str, str, int]]:
    """(kind, text, offset) tokens: number, name, op or string (its value, unquoted).

    Lazy, so a parser that stops early (too deep) never reads the rest of a huge input."""
    i = 0
    while i < len(body):
        char = body[i]
        if char == "'" or (char == '"' and double_quotes):
            text, end = _string(body, i, start)
            yield ("string", text, start + i)
            i = end
            continue
        match = _TOKEN.match(body, i)
        if match is None:
            hint = {"&": " (use '&&')", "|": " (use '||')", "=": " (use '==')"}.get(char, "")
            if char == '"':
                hint = " (strings use single quotes)"
            raise ExpressionSyntaxError(f"unexpected character {char!r}{hint}", start + i)
        kind = match.lastgroup or ""
        if kind != "space":
            yield (kind, match.group(), start + i)
        i = match.end()


def _string(body: str, i: int, start: int) -> tuple[str, int]:
    """A quoted string at body[i]: its value and the index after it ('' escapes a quote)."""
    quote, j, parts = body[i], i + 1, []
    while True:
        end = body.find(quote, j)
        if end == -1:
            raise ExpressionSyntaxError(f"unterminated string (no closing {quote})", start + i)
        parts.append(body[j:end])
        if body.startswith(quote, end + 1):  # doubled quote: a literal quote
            parts.append(quote)
            j = end + 2
            continue
        return "".join(parts), end + 1


def number(text: str) -> float:
    """The value of a number token (decimal, exponent or hex)."""
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("-")
    if body[:2].lower() == "0x":
        try:
            return sign * float(int(body[2:], 16))
        except OverflowError:  # past ~1.8e308 a number is infinite, as JavaScript reads it
            return sign * float("inf")
    return float(text)
