"""Checks of notebook steps before anything runs: the file, its JSON, its kernel."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from pathlib import Path

from .errors import SpecError, SpecIssue
from .source import Reporter
from .templates import StepTemplate, join

#: Bigger notebooks are still run; only reading them here is skipped.
MAX_CHECK_BYTES = 64 * 1024 * 1024


@functools.lru_cache(maxsize=1)
def _kernel_names() -> frozenset[str] | None:
    """The installed kernelspecs; None when jupyter_client is not installed."""
    try:
        from jupyter_client.kernelspec import KernelSpecManager
    except ImportError:
        return None
    return frozenset(KernelSpecManager().find_kernel_specs())


def check_notebooks(steps: Sequence[StepTemplate], base_dir: Path, rep: Reporter) -> None:
    """A missing notebook, one that is not valid JSON, or an unknown kernel is a located
    error; a path or kernel holding `${{ }}` is checked when it runs."""
    for step in steps:
        if step.notebook is None or "${{" in step.notebook.value:
            continue
        text = step.notebook
        file = base_dir / text.value
        try:
            found = file.is_file()
            size = file.stat().st_size if found else 0
        except OSError as exc:  # a name too long for the filesystem, no permission
            rep.at(text.node, text.path, f"cannot read notebook {file}: {exc.strerror or exc}")
            continue
        if not found:
            rep.at(text.node, text.path, f"notebook not found: {file}")
            continue
        kernel = step.kernel.value if step.kernel is not None else ""
        if size <= MAX_CHECK_BYTES:
            try:
                nb = json.loads(file.read_bytes())
            except (ValueError, OSError) as exc:
                rep.at(text.node, text.path, f"not a valid notebook ({file.name}): {exc}")
                continue
            if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
                rep.at(text.node, text.path, f"not a valid notebook ({file.name}): no cells")
                continue
            spec = nb.get("metadata", {}).get("kernelspec", {})
            kernel = kernel or (spec.get("name", "") if isinstance(spec, dict) else "")
        known = _kernel_names()
        if kernel and "${{" not in kernel and known is not None and kernel not in known:
            where = step.kernel or text
            path = join(step.path, "kernel") if step.kernel else text.path
            installed = ", ".join(sorted(known)) or "none"
            rep.at(where.node, path, f"unknown kernel '{kernel}' (installed: {installed})")


def check_notebook_file(path: str) -> None:
    """Raise a SpecError located in the notebook itself (its JSON line and column) when
    `ansflow run NB.ipynb` names a missing file or one that is not a notebook; the checks
    of the one-step pipeline built around it could only point at that generated YAML."""
    file = Path(path)
    try:
        if file.stat().st_size > MAX_CHECK_BYTES:
            return
        nb = json.loads(file.read_bytes())
    except FileNotFoundError:
        raise SpecError([SpecIssue(f"notebook not found: {file}", 0, 0, "", path)]) from None
    except OSError as exc:
        message = f"cannot read notebook {file}: {exc.strerror or exc}"
        raise SpecError([SpecIssue(message, 0, 0, "", path)]) from None
    except json.JSONDecodeError as exc:
        issue = SpecIssue(f"not a valid notebook: {exc.msg}", exc.lineno, exc.colno, "", path)
        raise SpecError([issue]) from None
    except ValueError as exc:  # not UTF-8
        raise SpecError([SpecIssue(f"not a valid notebook: {exc}", 0, 0, "", path)]) from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise SpecError([SpecIssue("not a valid notebook: no cells", 1, 1, "cells", path)])


def _value(text: str) -> object:
    """papermill's `-p` typing: True/False/None, an int, a float, else the string."""
    if text in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[text]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def notebook_pipeline(path: str, parameters: Sequence[tuple[str, str]] = ()) -> str:
    """The YAML of a one-step pipeline running the notebook at `path` (`ansflow run NB.ipynb`)."""
    import yaml

    stem = Path(path).stem
    step_id = re.sub(r"[^A-Za-z0-9_-]", "_", stem)
    if not re.match(r"[A-Za-z_]", step_id):
        step_id = f"_{step_id}"
    step: dict[str, object] = {"notebook": Path(path).name}
    if parameters:
        step["parameters"] = {name: _value(value) for name, value in parameters}
    document = {"name": stem, "steps": {step_id: step}}
    return str(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
