"""`${{ needs.ID.outputs.KEY }}` and the rest of the language inside pipeline strings."""

from __future__ import annotations

from ansflow_jupyter.pipeline import load_pipeline, validate
from ansflow_jupyter.pipeline.expressions import Scope

PIPELINE = """\
name: p
steps:
  build:
    matrix: {python: ["3.11", "3.12"]}
    run: echo build
  one:
    run: echo one
  use:
    needs: [build, one]
    env: {V: "v${{ needs['build[python=3.11]'].outputs.version }}"}
    if: needs.one.outputs.ok == 'yes'
    run: echo ${{ needs.one.outputs.word }} ${{ format('{0}-{1}', 'a', '' || 'b') }}
"""


def test_needs_reads_are_kept_for_the_start_and_the_rest_is_substituted() -> None:
    step = load_pipeline(PIPELINE).steps["use"]
    assert step.run == "echo ${{ needs.one.outputs.word }} a-b"
    assert set(step.runtime) == {"run", "env.V"}
    needs = {
        "one": {"result": "success", "outputs": {"word": "hi", "ok": "YES"}},
        "build[python=3.11]": {"result": "success", "outputs": {"version": "2.0"}},
    }
    scope = Scope({"needs": needs})
    assert step.runtime["run"].render(scope) == "echo hi a-b"
    assert step.runtime["env.V"].render(scope) == "v2.0"
    assert step.condition is not None
    assert not step.condition.uses_status_function


def located(text: str) -> list[tuple[int, int, str, str]]:
    return [(i.line, i.column, i.path, i.message) for i in validate(text)]


def test_a_step_not_in_needs_is_a_located_error() -> None:
    text = PIPELINE.replace("needs: [build, one]", "needs: [build]")
    assert located(text) == [
        (11, 9, "steps.use.if", "needs.one: step 'one' is not in this step's needs"),
        (12, 19, "steps.use.run", "needs.one: step 'one' is not in this step's needs"),
    ]


def test_unknown_step_gets_a_hint() -> None:
    text = (
        "name: p\nsteps:\n  build: {run: x}\n  b:\n    needs: build\n"
        "    run: echo ${{ needs.biuld.outputs.v }}\n"
    )
    assert located(text) == [
        (6, 19, "steps.b.run", "needs.biuld: unknown step 'biuld'; did you mean 'build'?")
    ]


def test_bare_matrix_id_with_several_legs_is_an_error() -> None:
    text = PIPELINE.replace("needs['build[python=3.11]']", "needs.build")
    assert located(text) == [
        (
            10,
            20,
            "steps.use.env.V",
            "needs.build has 2 matrix legs; name one, e.g. needs['build[python=3.11]']",
        )
    ]


def test_bare_id_of_a_single_leg_matrix_is_fine() -> None:
    text = PIPELINE.replace('"3.11", "3.12"', '"3.11"').replace(
        "needs['build[python=3.11]']", "needs.build"
    )
    assert validate(text) == []


def test_needs_and_status_functions_where_they_do_not_belong() -> None:
    text = """\
name: p
steps:
  a: {run: x}
  b:
    needs: a
    name: "b ${{ needs.a.outputs.x }}"
    run: echo ${{ success() }}
"""
    assert [(i.line, i.path, i.message) for i in validate(text)] == [
        (
            6,
            "steps.b.name",
            "'${{ needs.a.outputs.x }}' is not allowed here (needs and hashFiles() work in run, "
            "env and if)",
        ),
        (7, "steps.b.run", "success() is only available in `if:`"),
    ]


def test_closing_braces_inside_a_string_literal() -> None:
    text = "name: p\nsteps:\n  a: {run: \"echo ${{ format('}}{0}', 'x') }}\"}\n"
    assert load_pipeline(text).steps["a"].run == "echo }x"


def test_syntax_error_inside_run_points_at_the_character() -> None:
    text = "name: p\nsteps:\n  a:\n    run: echo ${{ 1 = 2 }}\n"
    assert located(text) == [(4, 21, "steps.a.run", "unexpected character '=' (use '==')")]
