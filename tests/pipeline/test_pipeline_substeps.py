"""Native sub-steps (`steps:` inside a step): loaded, located errors, the JSON Schema."""

from __future__ import annotations

import jsonschema
import pytest
import yaml

from ansflow_jupyter.pipeline import SpecError, json_schema, load_pipeline
from ansflow_jupyter.pipeline.github import is_workflow_spec

PIPELINE = """\
name: subs
env:
  WHO: world
steps:
  build:
    matrix: {py: ['3.11', '3.12']}
    working-directory: src
    steps:
      - name: Say ${{ matrix.py }}
        run: echo "hello $WHO ${{ env.WHO }} ${{ matrix.py }}"
      - run: |
          false
        continue-on-error: true
      - name: Cleanup
        if: always()
        env: {MODE: '${{ matrix.py }}'}
        shell: python
        working-directory: out
        run: print("cleanup")
"""


def test_sub_steps_load_with_matrix_and_env_substituted() -> None:
    spec = load_pipeline(PIPELINE)
    step = spec.steps["build[py=3.12]"]
    assert [s.name for s in step.substeps] == ["Say 3.12", "Run false", "Cleanup"]
    first, second, third = step.substeps
    assert first.run == 'echo "hello $WHO world 3.12"'
    assert second.continue_on_error == "true" and first.continue_on_error == "false"
    assert third.condition == "always()" and third.shell == "python"
    assert third.env == {"MODE": "3.12"} and third.working_directory == "src/out"
    assert step.job["in_place"] is True and step.job["working_directory"] == "src"
    assert "WHO" in step.job["env"] and step.job["env"]["WHO"] == ""  # names only
    assert not is_workflow_spec(spec)  # workflow options stay refused for it
    # The sub-steps' scripts are the step's `run`: what the views show, what a cache hashes.
    assert "# Say 3.12" in step.run and 'print("cleanup")' in step.run


def test_errors_are_located() -> None:
    text = """\
name: bad
steps:
  a:
    run: echo also
    steps:
      - name: no run
      - run: echo ok
        shel: bash
  b:
    steps: []
"""
    with pytest.raises(SpecError) as info:
        load_pipeline(text, path="p.yml")
    assert [str(i) for i in info.value.issues] == [
        "p.yml:4:5: steps.a.run: a step has `steps` or `run`, not both",
        "p.yml:6:9: steps.a.steps[0].run: missing required key 'run'",
        "p.yml:8:9: steps.a.steps[1].shel: unknown key 'shel'; did you mean 'shell'?",
        "p.yml:10:12: steps.b.steps: at least one sub-step is required",
    ]


def test_the_schema_accepts_sub_steps() -> None:
    jsonschema.validate(yaml.safe_load(PIPELINE), json_schema())
    bad = yaml.safe_load(PIPELINE.replace("        shell: python\n", "        shel: python\n"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, json_schema())
