"""hynek/build-and-inspect-python-package, built in: the Python projects' usual first job.

It builds the sdist and a wheel from it (`uv build`, or `python -m build` in a virtualenv of
the job when uv is not installed: the package registry must be reachable for the build
backend), uploads them as the artifact `Packages` and the metadata as `Package Metadata`
(plus `upload-name-suffix`), and sets the action's outputs (`dist`, `artifact-name`,
`package_name`, `package_version`, `supported_python_classifiers_json_array|object`).
twine's and check-wheel-contents' checks are not run (noted in the log).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

from .jobartifacts import Output, upload
from .jobbox import Box

NAME = "hynek/build-and-inspect-python-package"
PREFIX = "Programming Language :: Python :: "


def _metadata(dist: Path) -> str:
    """The core metadata of the built wheel (else the sdist's PKG-INFO)."""
    for wheel in sorted(dist.glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                if name.endswith(".dist-info/METADATA"):
                    return archive.read(name).decode("utf-8", "replace")
    for sdist in sorted(dist.glob("*.tar.gz")):
        with tarfile.open(sdist) as archive:
            for member in archive:
                if member.name.count("/") == 1 and member.name.endswith("/PKG-INFO"):
                    source = archive.extractfile(member)
                    if source is not None:
                        return source.read().decode("utf-8", "replace")
    return ""


def _builder(temp: Path, sdist_only: bool) -> list[str] | None:
    uv = shutil.which("uv")
    if uv:
        return [uv, "build", *(["--sdist"] if sdist_only else []), "--out-dir"]
    venv = temp / "baipp" / "venv"
    python = venv / "bin" / "python"
    if not python.exists():
        print("uv is not installed: `build` goes into a virtualenv of this job")
        made = subprocess.run([sys.executable, "-m", "venv", str(venv)])
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        if made.returncode != 0 or subprocess.run([*pip, "build"]).returncode != 0:
            return None
    return [str(python), "-m", "build", *(["--sdist"] if sdist_only else []), "--outdir"]


def build_and_inspect(
    with_: dict[str, str], box: Box | None, workspace: Path, temp: Path, out: Output
) -> int:
    """Build, upload `Packages`, set the outputs; 1 when the step fails."""
    project = workspace / (with_.get("path", "").strip() or ".")
    dist = temp / "baipp" / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    argv = _builder(temp, with_.get("skip-wheel", "").strip().lower() == "true")
    if argv is None:
        print("::error::cannot install the `build` package (is the package registry reachable?)")
        return 1
    done = subprocess.run([*argv, str(dist), str(project)], cwd=project)
    if done.returncode != 0:
        return done.returncode
    for file in sorted(dist.glob("[!.]*")):
        print(f"Built {file.name} ({file.stat().st_size} bytes)")
    print("Not run locally: twine check, check-wheel-contents")
    meta = Parser().parsestr(_metadata(dist))
    versions = [c[len(PREFIX) :] for c in meta.get_all("Classifier") or [] if c.startswith(PREFIX)]
    versions = [v for v in versions if v.count(".") == 1 and v.replace(".", "").isdigit()]
    suffix = with_.get("upload-name-suffix", "")
    info = temp / "baipp" / "metadata"
    info.mkdir(parents=True, exist_ok=True)
    (info / "PKG-INFO").write_text(_metadata(dist), encoding="utf-8")
    for name, path in ((f"Packages{suffix}", dist), (f"Package Metadata{suffix}", info)):
        code = upload(f"{NAME}@v4", {"name": name, "path": str(path)}, box, workspace, _quiet)
        if code != 0:
            return code
    out(f"dist={dist}")
    out(f"artifact-name=Packages{suffix}")
    out(f"package_name={meta.get('Name', '')}")
    out(f"package_version={meta.get('Version', '')}")
    out(f"supported_python_classifiers_json_array={json.dumps(versions)}")
    out(f"supported_python_classifiers_json_object={json.dumps({'python-version': versions})}")
    return 0


def _quiet(line: str) -> None:
    """upload-artifact's own outputs are not this action's."""
