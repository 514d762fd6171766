"""`${{ expression }}` inside strings: finding them, and templates resolved when a step starts."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from .expr_values import Value, lookup, to_text
from .expressions import Expression, ExpressionSyntaxError, Scope


@dataclass(frozen=True, slots=True)
class Segment:
    """One `${{ ... }}` in a string: where it starts and ends, and the text inside."""

    start: int  # index of '$'
    end: int  # index after '}}'
    inner: str

    @property
    def inner_start(self) -> int:
        """Index of the first character inside the braces."""
        return self.start + 3


def segments(text: str) -> Iterator[Segment]:
    """Every `${{ }}` in order; a `}}` inside a 'string' literal does not close one.

    Raises ExpressionSyntaxError (at the '$') for a `${{` that is never closed."""
    pos = 0
    while (start := text.find("${{", pos)) != -1:
        i = start + 3
        while True:
            if i >= len(text):
                raise ExpressionSyntaxError("unclosed '${{' (missing '}}')", start)
            if text[i] == "'":
                close = text.find("'", i + 1)
                while close != -1 and text.startswith("''", close):
                    close = text.find("'", close + 2)
                if close == -1:
                    raise ExpressionSyntaxError("unclosed '${{' (missing '}}')", start)
                i = close + 1
            elif text.startswith("}}", i):
                yield Segment(start, i + 2, text[start + 3 : i])
                pos = i + 2
                break
            else:
                i += 1


@dataclass(frozen=True, slots=True)
class Template:
    """A string whose `${{ }}` parts are evaluated when the step starts (they read `needs`)."""

    parts: tuple[str | Expression, ...]

    @property
    def expressions(self) -> tuple[Expression, ...]:
        """The parts still to evaluate."""
        return tuple(p for p in self.parts if not isinstance(p, str))

    def render(self, scope: Scope) -> str:
        """The text with every expression's value in place (raises ExpressionRuntimeError)."""
        return "".join(p if isinstance(p, str) else to_text(p.evaluate(scope)) for p in self.parts)


def missing_outputs(template: Template, needs: Mapping[str, Value]) -> list[str]:
    """`needs.ID.outputs.KEY` reads whose KEY the step ID did not set (they read as '')."""
    missing: list[str] = []
    for expression in template.expressions:
        for ref in expression.needs:
            if ref.name is None or ref.key is None:
                continue
            outputs = lookup(lookup(needs, ref.name), "outputs")
            if isinstance(outputs, Mapping) and lookup(outputs, ref.key) is None:
                missing.append(f"needs.{ref.name}.outputs.{ref.key}")
    return list(dict.fromkeys(missing))
