"""The `artifacts:` and `cache:` step keys: paths that stay inside the working directory."""

from __future__ import annotations

from typing import TYPE_CHECKING

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .source import scalar_text, to_bool
from .spec import IF_NO_FILES, ArtifactsSpec, CacheSpec
from .templates import did_you_mean, join

if TYPE_CHECKING:
    from .checker import Checker


def patterns(ck: Checker, node: Node, path: str) -> tuple[str, ...] | None:
    """A non-empty list of relative path patterns (nothing absolute, nothing with '..')."""
    if not isinstance(node, SequenceNode) or not node.value:
        ck._expect(node, path, "a non-empty list of paths or globs")
        return None
    out: list[str] = []
    for i, item in enumerate(node.value):
        text = ck._string(item, join(path, i))
        if text is None:
            continue
        value = text.value.strip()
        parts = value.replace("\\", "/").split("/")
        if not value:
            ck.rep.at(item, text.path, "must not be empty")
        elif value.startswith(("/", "~")) or ".." in parts:
            ck.rep.at(
                item, text.path, f"'{value}' leaves the working directory (use a relative path)"
            )
        else:
            out.append(value)
    return tuple(out) if len(out) == len(node.value) else None


def artifacts(ck: Checker, node: Node, path: str) -> ArtifactsSpec | None:
    if isinstance(node, SequenceNode):
        paths = patterns(ck, node, path)
        return ArtifactsSpec(paths) if paths is not None else None
    if not isinstance(node, MappingNode):
        ck._expect(node, path, "a list of paths or {paths: [...], if-no-files: ...}")
        return None
    paths, policy, ok = None, "warn", True
    for name, key_node, value in ck.pairs(node, path, "key"):
        if name == "paths":
            paths = patterns(ck, value, join(path, name))
            ok = ok and paths is not None
        elif name == "if-no-files":
            text = ck._string(value, join(path, name))
            if text is not None and text.value not in IF_NO_FILES:
                ck.rep.at(value, text.path, f"must be one of {', '.join(IF_NO_FILES)}")
                text = None
            ok = ok and text is not None
            policy = text.value if text is not None else policy
        else:
            hint = did_you_mean(name, ["paths", "if-no-files"]) or " (allowed: paths, if-no-files)"
            ck.rep.at(key_node, join(path, name), f"unknown key '{name}'{hint}")
            ok = False
    if paths is None:
        if ok:
            ck.rep.at(node, join(path, "paths"), "missing required key 'paths'")
        return None
    return ArtifactsSpec(paths, policy) if ok else None


def cache(ck: Checker, node: Node, path: str) -> CacheSpec | None:
    if isinstance(node, ScalarNode) and to_bool(node) is not None:
        return CacheSpec() if to_bool(node) else None
    if not isinstance(node, MappingNode):
        ck._expect(node, path, "true or {inputs: [globs], key: '...'}")
        return None
    inputs: tuple[str, ...] | None = None
    key, ok = "", True
    for name, key_node, value in ck.pairs(node, path, "key"):
        if name == "inputs":
            inputs = patterns(ck, value, join(path, name))
            ok = ok and inputs is not None
        elif name == "key":
            text = scalar_text(value)
            if text is None:
                ck._expect(value, join(path, name), "a string")
                ok = False
            else:
                key = text
        else:
            hint = did_you_mean(name, ["inputs", "key"]) or " (allowed: inputs, key)"
            ck.rep.at(key_node, join(path, name), f"unknown key '{name}'{hint}")
            ok = False
    return CacheSpec(inputs, key) if ok else None
