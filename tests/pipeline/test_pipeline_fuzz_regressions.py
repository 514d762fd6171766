"""Crashes the loader fuzzer found, minimised: each is now a located error (or loads)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansflow_jupyter.pipeline import SpecError, load_pipeline, validate

STEP = "name: p\nsteps:\n  a:\n    run: echo\n"


def errors(text: str, base_dir: Path | None = None) -> list[str]:
    """Every located issue as the CLI prints it; validate() must agree and not crash."""
    with pytest.raises(SpecError) as caught:
        load_pipeline(text, path="ci.yml", base_dir=base_dir)
    found = [str(issue) for issue in caught.value.issues]
    if base_dir is None:
        assert [str(i) for i in validate(text, "ci.yml")] == found
    return found


def notebook_step(tmp_path: Path, parameters: str) -> str:
    (tmp_path / "a.ipynb").write_text(
        '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
    )
    return f"name: p\nsteps:\n  a:\n    notebook: a.ipynb\n    parameters:\n      p: {parameters}\n"


# -- typed YAML scalars PyYAML cannot construct (ValueError/KeyError/IndexError before) --


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("!!int abc", "invalid YAML int 'abc': not a valid int"),
        ("!!int ''", "invalid YAML int '': not a valid int"),
        ("!!int 0x", "invalid YAML int '0x': not a valid int"),
        ("!!float abc", "invalid YAML float 'abc': not a valid float"),
        ("!!bool maybe", "invalid YAML bool 'maybe': not a valid bool"),
        ("!!timestamp 2020-13-45", "invalid YAML timestamp '2020-13-45': not a valid timestamp"),
        ("!!timestamp soon", "invalid YAML timestamp 'soon': not a valid timestamp"),
        ("1" + "0" * 5000, "invalid YAML int '" + "1" + "0" * 39 + "…': too many digits"),
    ],
)
def test_unconstructible_typed_scalar_is_located(value: str, message: str) -> None:
    text = f"name: p\nmax-parallel: {value}\nsteps:\n  a: {{run: echo}}\n"
    assert errors(text) == [f"ci.yml:2:15: max-parallel: {message}"]


def test_impossible_date_in_parameters_is_located(tmp_path: Path) -> None:
    # An unquoted 2020-13-45 is a YAML timestamp (month 13): ValueError before.
    text = notebook_step(tmp_path, "2020-13-45")
    assert errors(text, tmp_path) == [
        "ci.yml:6:10: steps.a.parameters.p: invalid YAML timestamp '2020-13-45': "
        "not a valid timestamp"
    ]


def test_number_too_large_for_a_float_is_an_invalid_duration() -> None:
    # 400 digits is an int YAML reads, but float() of it raised OverflowError.
    text = STEP + "    timeout: 1" + "0" * 400 + "\n"
    assert errors(text) == [
        "ci.yml:5:14: steps.a.timeout: invalid duration 10000000000000000000…: too large"
    ]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('name: p\nenv: {A: "x\\0y"}\nsteps:\n  a: {run: echo}\n', "2:10: env.A"),
        ('name: p\nsteps:\n  a:\n    run: "echo \\0"\n', "4:10: steps.a.run"),
        (STEP + '    working-directory: "a\\0"\n', "5:24: steps.a.working-directory"),
        ('on: push\njobs:\n  t:\n    steps: [{run: "a\\0"}]\n', "4:19: jobs.t.steps[0].run"),
    ],
)
def test_nul_character_is_located(text: str, where: str) -> None:
    # `"\0"` loaded, then the step failed with "internal error: ValueError('embedded null
    # byte')" when the process was started.
    assert errors(text) == [
        f"ci.yml:{where}: contains a NUL character (\\0), which no command, path or "
        "variable can hold"
    ]


def test_hints_stop_after_a_budget_so_a_big_file_still_validates() -> None:
    # 3,000 unknown needs among 3,000 ids: a "did you mean" per need compared each with
    # every id (a minute of CPU for 120 KB). The first ones keep their hint.
    steps = "".join(f"  step{i}: {{run: e, needs: [stepx{i}]}}\n" for i in range(3000))
    found = [str(i) for i in validate("name: p\nsteps:\n" + steps, "ci.yml")]
    assert len(found) == 3000
    assert found[0] == (
        "ci.yml:3:27: steps.step0.needs[0]: unknown step 'stepx0' in needs; did you mean 'step0'?"
    )
    assert found[-1] == "ci.yml:3002:30: steps.step2999.needs[0]: unknown step 'stepx2999' in needs"


def test_a_repeated_hint_is_computed_once_per_file() -> None:
    # The same unknown env name in 1,000 matrix legs among 3,000 variables: one hint.
    env = ", ".join(f"VAR{i}: x" for i in range(3000))
    legs = ", ".join(str(i) for i in range(1000))
    text = (
        f"name: p\nenv: {{{env}}}\nsteps:\n  a:\n    matrix: {{x: [{legs}]}}\n"
        "    run: ${{ env.VARX }}\n"
    )
    found = [str(i) for i in validate(text, "ci.yml")]
    assert found == ["ci.yml:6:10: steps.a.run: unknown env variable 'VARX'; did you mean 'VAR9'?"]


def test_lone_surrogate_in_text_is_located() -> None:
    # A str (REST, %ansflow, the Python API) holding U+D800: libyaml raised
    # UnicodeEncodeError while reading it.
    assert errors("name: p\nsteps:\n  a: {run: echo \ud800}\n") == [
        "ci.yml:3:17: text is not valid Unicode (lone surrogate U+D800)"
    ]


def test_lone_surrogate_escape_is_located() -> None:
    # `"\ud800"` loaded and validated; `ansflow run` then crashed in the store (UTF-8).
    assert errors('name: "x\\ud800"\nsteps:\n  a: {run: echo}\n') == [
        "ci.yml:1:7: name: contains a lone surrogate (U+D800), which is not valid Unicode"
    ]


def test_nul_character_from_an_expression_is_located() -> None:
    # fromJSON() decodes \u0000: the run script loaded, then failed to start.
    text = STEP.replace("echo", 'echo "${{ fromJSON(\'"a\\u0000b"\') }}"')
    assert errors(text) == [
        "ci.yml:4:16: steps.a.run: the value of ${{ fromJSON('\"a\\u0000b\"') }} contains a "
        "NUL character (\\0), which no command, path or variable can hold"
    ]


# -- expressions ----------------------------------------------------------------------


def test_huge_hex_literal_is_infinite_not_a_crash() -> None:
    # `0x` + 300 digits: int -> float raised OverflowError in the lexer.
    text = "name: p\nsteps:\n  a:\n    if: 0x" + "f" * 300 + " > 1\n    run: echo\n"
    spec = load_pipeline(text, path="ci.yml")
    assert spec.steps["a"].condition is not None


def test_infinite_index_reads_null() -> None:
    # `[1e400]` is an infinite index: int(inf) raised OverflowError.
    spec = load_pipeline(STEP.replace("echo", "echo \"${{ fromJSON('[1]')[1e400] }}\""))
    assert spec.steps["a"].run == 'echo ""'


def test_deeply_nested_from_json_is_located() -> None:
    # json.loads of 5,000 `[` raised RecursionError.
    text = STEP.replace("echo", "echo ${{ fromJSON('" + "[" * 5000 + "') }}")
    assert errors(text) == ["ci.yml:4:15: steps.a.run: fromJSON(): invalid JSON: nested too deeply"]


def test_format_placeholder_with_thousands_of_digits_is_located() -> None:
    # int() of a 5,000-digit placeholder raised ValueError (Python's digit limit).
    text = STEP.replace("echo", "echo ${{ format('{" + "9" * 5000 + "}') }}")
    assert errors(text) == [
        "ci.yml:4:15: steps.a.run: format(): {99999999999999999999…} but only 0 value(s) given"
    ]


def test_to_json_of_deeply_nested_value_is_located() -> None:
    # fromJSON() accepts 900 levels; toJSON() of them raised RecursionError.
    nested = "[" * 900 + "]" * 900
    text = STEP.replace("echo", f"echo ${{{{ toJSON(fromJSON('{nested}')) }}}}")
    assert errors(text) == ["ci.yml:4:15: steps.a.run: toJSON(): value nested too deeply"]


@pytest.mark.parametrize(
    ("expression", "shown"),
    [
        ("fromJSON('" + "9" * 400 + "')", "Infinity"),  # a JSON integer past float range
        ("fromJSON('[1]')[fromJSON('" + "9" * 400 + "')]", ""),
        ("'0x" + "f" * 300 + "' == 1", "false"),  # a hex string compared as a number
        ("'-0o" + "7" * 5000 + "' < 1", "true"),
        ("fromJSON('" + "9" * 400 + "') && 'yes'", "yes"),  # truthy() of it
    ],
)
def test_integers_past_float_range_are_infinite(expression: str, shown: str) -> None:
    # float() of these integers raised OverflowError.
    spec = load_pipeline(STEP.replace("echo", f"echo ${{{{ {expression} }}}}"))
    assert spec.steps["a"].run == f"echo {shown}"


# -- notebook parameters ----------------------------------------------------------------


def test_unclosed_expression_in_parameters_is_located(tmp_path: Path) -> None:
    # The substitution reported it, then the typing pass raised ExpressionSyntaxError.
    text = notebook_step(tmp_path, '"${{ matrix.x"')
    assert errors(text, tmp_path) == [
        "ci.yml:6:11: steps.a.parameters.p: unclosed '${{' (missing '}}')"
    ]


@pytest.mark.parametrize("value", ["[", "a: b: c", "2020-13-45", "!!int x", "..."])
def test_expression_value_that_is_not_yaml_stays_text(tmp_path: Path, value: str) -> None:
    # The whole-expression value is re-read as YAML to keep its type: it raised before.
    text = notebook_step(tmp_path, f"\"${{{{ '{value}' }}}}\"")
    spec = load_pipeline(text, path="ci.yml", base_dir=tmp_path)
    assert spec.steps["a"].parameters == {"p": value}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("!foo x", "could not determine a constructor for the tag '!foo'"),
        ("{[a]: 1}", "found unhashable key"),
        ("[!!merge <<]", "could not determine a constructor for the tag 'tag:yaml.org,2002:merge'"),
        (
            "2020-01-02",
            "Object of type date is not JSON serializable (quote it as a string)",
        ),
        ("!!set {a}", "Object of type set is not JSON serializable (quote it as a string)"),
        ("!!binary AAAA", "Object of type bytes is not JSON serializable (quote it as a string)"),
    ],
)
def test_parameter_that_is_not_a_json_value_is_located(
    tmp_path: Path, value: str, message: str
) -> None:
    # A tag or unhashable key raised ConstructorError while loading; a date, set or bytes
    # loaded and then failed the step with "internal error: TypeError(...)".
    text = notebook_step(tmp_path, value)
    assert errors(text, tmp_path) == [
        f"ci.yml:6:10: steps.a.parameters.p: invalid parameter value: {message}"
    ]


def test_notebook_name_too_long_for_the_filesystem_is_located(tmp_path: Path) -> None:
    # is_file() raised OSError (ENAMETOOLONG) instead of answering False.
    text = "name: p\nsteps:\n  a:\n    notebook: " + "x" * 300 + ".ipynb\n"
    found = errors(text, tmp_path)
    assert len(found) == 1
    assert found[0].startswith(f"ci.yml:4:15: steps.a.notebook: cannot read notebook {tmp_path}/")
    assert found[0].endswith(": File name too long")


# -- workflow files ---------------------------------------------------------------------

DYNAMIC_JOB = """\
  tests:
    needs: plan
    runs-on: ubuntu-latest
    strategy:
      matrix:
        p: ${{ fromJSON(needs.plan.outputs.v) }}
    steps: [{run: echo}]
"""
WORKFLOW = """\
on: push
jobs:
  plan:
    runs-on: ubuntu-latest
    outputs: {v: '[1]'}
    steps: [{run: echo}]
"""


def test_duplicate_job_id_is_located() -> None:
    # The second `tests` was built with the first's legs: AssertionError / IndexError.
    text = WORKFLOW + "  tests:\n    runs-on: x\n    steps: [{run: echo}]\n" + DYNAMIC_JOB
    assert errors(text) == ["ci.yml:10:3: jobs.tests: duplicate key 'tests' (first at line 7)"]


def test_duplicate_job_id_after_a_matrix_job_is_located() -> None:
    text = (
        "on: push\njobs:\n  t:\n    strategy: {matrix: {n: [1, 2]}}\n    runs-on: x\n"
        "    steps: [{run: echo}]\n  t:\n    runs-on: x\n    steps: [{run: echo}]\n"
    )
    assert errors(text) == ["ci.yml:7:3: jobs.t: duplicate key 't' (first at line 3)"]


def test_duplicate_key_inside_a_workflow_step_is_located() -> None:
    text = "on: push\njobs:\n  t:\n    runs-on: x\n    steps:\n      - run: a\n        run: b\n"
    assert errors(text) == [
        "ci.yml:7:9: jobs.t.steps[0].run: duplicate key 'run' (first at line 6)"
    ]


def test_blank_workflow_run_script_loads() -> None:
    text = "on: push\njobs:\n  t:\n    runs-on: x\n    steps:\n      - run: ' '\n"
    spec = load_pipeline(text, path="ci.yml")
    assert list(spec.steps) == ["t"]
    assert [sub.name for sub in spec.steps["t"].substeps] == ["Run"]


@pytest.mark.parametrize("key", ["include", "exclude"])
def test_matrix_include_exclude_expression_that_is_not_a_list_is_located(key: str) -> None:
    text = (
        "on: push\njobs:\n  t:\n    runs-on: x\n    strategy:\n      matrix:\n"
        f"        n: [1, 2]\n        {key}: ${{{{ 1 }}}}\n    steps: [{{run: echo}}]\n"
    )
    found = errors(text)
    assert len(found) == 1
    assert found[0].startswith(f"ci.yml:8:{len(key) + 11}: jobs.t.strategy.matrix.{key}: ")
