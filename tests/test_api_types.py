"""The front end's REST types (labextension/widget/api.generated.ts) match openapi.yaml.

`npm run build:api` writes them with openapi-typescript; `npm test` checks them too. This
test also proves the check bites: a spec with one more field makes it fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LABEXTENSION = ROOT / "labextension"
SPEC = ROOT / "ansflow_jupyter" / "server" / "openapi.yaml"

pytestmark = pytest.mark.skipif(
    not os.environ.get("CI")
    and (
        not (LABEXTENSION / "node_modules" / "openapi-typescript").is_dir()
        or shutil.which("node") is None
    ),
    reason="the front end is not installed (npm ci in labextension/); never skipped in CI",
)


def _check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", "scripts/gen-api.mjs", "--check", *args],
        cwd=LABEXTENSION,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_generated_types_are_up_to_date() -> None:
    result = _check()
    assert result.returncode == 0, result.stderr


def test_a_changed_spec_makes_the_types_stale(tmp_path: Path) -> None:
    text = SPEC.read_text()
    anchor = "    Execution:\n      type: object\n      properties:\n"
    assert anchor in text
    changed = tmp_path / "openapi.yaml"
    changed.write_text(text.replace(anchor, anchor + "        owner: {type: string}\n"))
    result = _check("--spec", str(changed))
    assert result.returncode == 1
    assert "is stale: run `npm run build:api`" in result.stderr
