"""Helpers of the job runner: `${{ }}` rendering, the env/output files, masked secrets."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from ..pipeline.expr_values import Value, to_text
from ..pipeline.expressions import Scope, parse_expression
from ..pipeline.github.context import CONTEXTS
from ..pipeline.interpolate import segments
from .stepfiles import OutputError, parse_outputs


class Secrets(dict[str, Value]):
    """The `secrets` context: environment variables, each masked once it is read."""

    def __init__(self, env: Mapping[str, str], announce: Callable[[str], None]) -> None:
        super().__init__()
        self._env = env
        self._announce = announce
        self._unset_keys: set[str] = set()

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str) and not self._env.get(key):
            self._unset(key)
        return isinstance(key, str) and (key in self._env or key == "GITHUB_TOKEN")

    def _unset(self, key: str) -> None:
        """Say once that a secret is not set: it reads as '' (null), as on GitHub."""
        # A job failing for a secret it never got (a publish step's token) must not
        # look like a bug of the project.
        if key not in self._unset_keys:
            self._unset_keys.add(key)
            self._announce(
                f"::warning::secrets.{key} is not set on this machine: it reads as ''"
                f" (set {key} in the environment to give it)"
            )

    def __missing__(self, key: str) -> Value:
        value = self._env.get(key, "")
        if not value:
            self._unset(key)
        if value:
            for line in value.splitlines():
                if line.strip():
                    self._announce(f"::add-mask::{line}")
        self[key] = value
        return value


def render(text: str, scope: Scope) -> str:
    """`text` with every `${{ }}` evaluated (GitHub's rules: 'single quotes' only)."""
    if "${{" not in text:
        return text
    out: list[str] = []
    pos = 0
    for seg in segments(text):
        out.append(text[pos : seg.start])
        expression = parse_expression(
            seg.inner, start=seg.inner_start, contexts=CONTEXTS, double_quotes=False
        )
        out.append(to_text(expression.evaluate(scope)))
        pos = seg.end
    out.append(text[pos:])
    return "".join(out)


def read_env_file(path: Path) -> dict[str, str]:
    """A GITHUB_ENV / GITHUB_OUTPUT file (`k=v` lines, `k<<EOF` blocks); bad ones say why."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    try:
        return parse_outputs(text)
    except OutputError as exc:
        print(f"::warning::{path.name}: {exc}")
        return {}


def escape(text: str) -> str:
    """A title for a `::command::` line (GitHub's escapes)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
