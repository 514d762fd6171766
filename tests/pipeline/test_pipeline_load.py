"""Loading valid pipelines: defaults, list form, matrix expansion, substitution, files."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ansflow_jupyter.pipeline import (
    RetrySpec,
    SpecError,
    SpecIssue,
    load_pipeline,
    load_pipeline_file,
    validate,
)

SPEC_EXAMPLE = """\
name: WebSocket test pipeline
env: {PYTHONUNBUFFERED: "1"}
secrets: [DEPLOY_TOKEN]
defaults: {shell: bash, working-directory: ., timeout: 10m}
max-parallel: 4
steps:
  env-check:   {name: Environment check, run: python --version}
  checkout:    {run: git status}
  install:     {run: pip --version}
  unit-test:
    needs: [env-check, checkout, install]
    run: |
      pytest -q
    retry: {max: 2, delay: 1s, backoff: 2}
    timeout: 5m
  build:
    needs: [env-check, checkout, install]
    continue-on-error: true
    working-directory: app
    env: {FLAG: "1"}
    run: make
  deploy-verify:
    needs: [unit-test, build]
    if: success()
    matrix: {python: ["3.11", "3.12"]}
    run: echo deploying on ${{ matrix.python }}
"""


def test_spec_example_loads() -> None:
    spec = load_pipeline(SPEC_EXAMPLE, base_dir=Path("/srv"))
    assert spec.name == "WebSocket test pipeline"
    assert list(spec.steps) == [
        "env-check",
        "checkout",
        "install",
        "unit-test",
        "build",
        "deploy-verify[python=3.11]",
        "deploy-verify[python=3.12]",
    ]
    assert spec.env == {"PYTHONUNBUFFERED": "1"}
    assert spec.secrets == ("DEPLOY_TOKEN",)
    assert spec.max_parallel == 4
    assert spec.base_dir == Path("/srv")
    assert spec.source == SPEC_EXAMPLE
    unit = spec.steps["unit-test"]
    assert unit.needs == ("env-check", "checkout", "install")
    assert unit.run == "pytest -q\n"
    assert unit.retry == RetrySpec(max=2, delay=1.0, backoff=2.0)
    assert unit.timeout == 300.0
    assert unit.condition is None
    assert unit.line == 10
    build = spec.steps["build"]
    assert build.continue_on_error is True
    assert build.working_directory == "app"
    assert build.env == {"FLAG": "1"}
    assert build.timeout == 600.0  # from defaults
    verify = spec.steps["deploy-verify[python=3.12]"]
    assert verify.run == "echo deploying on 3.12"
    assert verify.needs == ("unit-test", "build")
    assert verify.matrix == {"python": "3.12"}
    assert verify.template_id == "deploy-verify"
    assert verify.name == "deploy-verify[python=3.12]"
    assert verify.condition is not None
    assert verify.condition.source == "success()"
    assert spec.steps["env-check"].name == "Environment check"
    assert spec.steps["checkout"].name == "checkout"


def test_defaults_when_absent() -> None:
    spec = load_pipeline("name: p\nsteps:\n  a: {run: x}\n")
    step = spec.steps["a"]
    assert (step.shell, step.working_directory, step.timeout) == ("bash", ".", None)
    assert step.retry == RetrySpec()
    assert step.continue_on_error is False
    assert spec.max_parallel is None
    assert spec.secrets == ()
    assert spec.env == {}
    assert spec.path is None
    assert spec.base_dir == Path.cwd()


def test_step_keys_override_defaults() -> None:
    text = """\
name: p
defaults: {shell: sh, working-directory: build, timeout: 90}
steps:
  a: {run: x}
  b: {run: x, shell: python, working-directory: /abs, timeout: 1h30m}
"""
    spec = load_pipeline(text)
    a, b = spec.steps["a"], spec.steps["b"]
    assert (a.shell, a.working_directory, a.timeout) == ("sh", "build", 90.0)
    assert (b.shell, b.working_directory, b.timeout) == ("python", "/abs", 5400.0)


def test_list_form_equals_mapping_form() -> None:
    listed = """\
name: p
steps:
  - id: a
    run: x
  - id: b
    needs: a
    run: y
"""
    mapped = "name: p\nsteps:\n  a: {run: x}\n  b: {needs: a, run: y}\n"
    one, two = load_pipeline(listed), load_pipeline(mapped)
    assert list(one.steps) == list(two.steps) == ["a", "b"]
    assert one.steps["b"].needs == two.steps["b"].needs == ("a",)
    assert one.steps["b"].line == 5


def test_matrix_expands_in_written_key_order() -> None:
    text = """\
name: p
steps:
  t:
    name: test ${{ matrix.python }} on ${{ matrix.os }}
    matrix:
      python: ["3.11", 3.10]
      os: [linux, mac]
    env: {PY: "py${{ matrix.python }}"}
    working-directory: out/${{ matrix.os }}
    run: echo ${{matrix.python}}-${{   matrix.os   }}
  after: {needs: t, run: done}
"""
    spec = load_pipeline(text)
    ids = [i for i in spec.steps if i.startswith("t[")]
    assert ids == [
        "t[python=3.11,os=linux]",
        "t[python=3.11,os=mac]",
        "t[python=3.10,os=linux]",
        "t[python=3.10,os=mac]",
    ]
    step = spec.steps["t[python=3.10,os=mac]"]
    assert step.run == "echo 3.10-mac"
    assert step.name == "test 3.10 on mac"
    assert step.env == {"PY": "py3.10"}  # only the step's env; matrix values are in .matrix
    assert step.matrix == {"python": "3.10", "os": "mac"}
    assert step.working_directory == "out/mac"
    # A dependent of a matrix step waits for every expansion.
    assert spec.steps["after"].needs == tuple(ids)


def test_matrix_name_without_reference_gets_values_appended() -> None:
    text = "name: p\nsteps:\n  t: {name: Tests, matrix: {py: [a, b]}, run: x}\n"
    spec = load_pipeline(text)
    assert [s.name for s in spec.steps.values()] == ["Tests (a)", "Tests (b)"]


def test_matrix_step_needs_expand_and_one_expansion_can_be_needed() -> None:
    text = """\
name: p
steps:
  a: {matrix: {n: [1, 2]}, run: x}
  b: {matrix: {m: [x, y]}, needs: a, run: y}
  c: {needs: "b[m=y]", run: z}
"""
    spec = load_pipeline(text)
    assert spec.steps["b[m=x]"].needs == ("a[n=1]", "a[n=2]")
    assert spec.steps["c"].needs == ("b[m=y]",)


def test_duplicate_matrix_value_is_an_error() -> None:
    issues = validate("name: p\nsteps:\n  a: {matrix: {n: [1, '1']}, run: x}\n")
    assert [(i.message, i.path) for i in issues] == [
        ("duplicate matrix value '1'", "steps.a.matrix.n[1]")
    ]


def test_env_substitution_order_and_overrides() -> None:
    text = """\
name: p
env: {A: pipeline, B: pipeline, N: 1, T: true, V: 3.10}
steps:
  s:
    env: {B: step, C: "from ${{ env.A }}"}
    run: echo ${{ env.A }} ${{ env.B }} ${{ env.C }} ${{ env.N }} ${{ env.T }} ${{ env.V }}
"""
    spec = load_pipeline(text, env={"A": "override", "X": "new"})
    assert spec.env == {
        "A": "override",
        "B": "pipeline",
        "N": "1",
        "T": "true",
        "V": "3.10",
        "X": "new",
    }
    step = spec.steps["s"]
    assert step.run == "echo override step from override 1 true 3.10"
    assert step.env == {"B": "step", "C": "from override"}


def test_override_can_supply_an_env_reference() -> None:
    text = "name: p\nsteps:\n  s: {run: 'echo ${{ env.TOKEN }}'}\n"
    assert validate(text)[0].message == "unknown env variable 'TOKEN'"
    assert load_pipeline(text, env={"TOKEN": "t"}).steps["s"].run == "echo t"
    assert validate(text, env={"TOKEN": "t"}) == []


def test_unknown_references_in_name_and_working_directory() -> None:
    text = """\
name: p
steps:
  s:
    name: "${{ env.NOPE }}"
    working-directory: ${{ matrix.dir }}
    run: x
"""
    issues = validate(text)
    assert [(i.line, i.column, i.path, i.message) for i in issues] == [
        (4, 12, "steps.s.name", "unknown env variable 'NOPE'"),
        (
            5,
            24,
            "steps.s.working-directory",
            "unknown matrix value 'dir' (this step has no matrix)",
        ),
    ]


def test_unclosed_expression_is_reported() -> None:
    issues = validate("name: p\nsteps:\n  s: {run: 'echo ${{ env.A'}\n")
    assert issues[0].message == "unclosed '${{' (missing '}}')"
    assert (issues[0].line, issues[0].column) == (3, 18)


def test_error_inside_block_scalar_points_at_the_line() -> None:
    text = "name: p\nsteps:\n  s:\n    run: |\n      echo one\n      echo ${{ matrix.x }}\n"
    issue = validate(text)[0]
    assert (issue.line, issue.column, issue.path) == (6, 12, "steps.s.run")


def test_if_condition_is_parsed_and_located() -> None:
    text = "name: p\nsteps:\n  a: {run: x, if: always()}\n  b: {run: x, if: false}\n"
    spec = load_pipeline(text)
    cond_a, cond_b = spec.steps["a"].condition, spec.steps["b"].condition
    assert cond_a is not None
    assert cond_a.uses_status_function
    assert cond_b is not None
    assert not cond_b.uses_status_function


def test_several_errors_are_all_reported_sorted_by_line() -> None:
    text = """\
name: p
max-parallel: 0
steps:
  a:
    run: x
    needs: [b, ghost]
    timeout: 10x
  b:
    needs: a
    run: y
    shell: fish
  c:
    runn: z
    if: success( && always()
"""
    issues = validate(text, path="ci.yml")
    assert [(i.line, i.path) for i in issues] == [
        (2, "max-parallel"),
        (6, "steps.a.needs[0]"),
        (6, "steps.a.needs[1]"),
        (7, "steps.a.timeout"),
        (11, "steps.b.shell"),
        (12, "steps.c.run"),
        (13, "steps.c.runn"),
        (14, "steps.c.if"),
    ]
    assert issues[1].message == "dependency cycle: a -> b -> a"
    assert issues[6].message == "unknown key 'runn'; did you mean 'run'?"
    with pytest.raises(SpecError) as info:
        load_pipeline(text, path="ci.yml")
    assert info.value.issues == issues
    assert str(info.value).splitlines()[0] == (
        "ci.yml:2:15: max-parallel: must be an integer >= 1, got 0"
    )


def test_every_cycle_is_named() -> None:
    text = """\
name: p
steps:
  a: {run: x, needs: b}
  b: {run: x, needs: a}
  c: {run: x, needs: [d]}
  d: {run: x, needs: [e, a]}
  e: {run: x, needs: c}
"""
    messages = [i.message for i in validate(text)]
    assert messages == ["dependency cycle: a -> b -> a", "dependency cycle: c -> d -> e -> c"]


def test_long_chain_has_no_recursion_limit() -> None:
    lines = ["name: p", "steps:", "  s0: {run: x, needs: s1999}"]
    lines += [f"  s{i}: {{run: x, needs: s{i - 1}}}" for i in range(1, 2000)]
    issues = validate("\n".join(lines))
    assert len(issues) == 1
    assert issues[0].message.startswith("dependency cycle: s0 -> s1999 -> s1998")


def test_issue_str_and_dict() -> None:
    issue = SpecIssue("bad", 3, 5, "steps.a", "ci.yml")
    assert str(issue) == "ci.yml:3:5: steps.a: bad"
    assert issue.to_dict() == {"message": "bad", "line": 3, "column": 5, "path": "steps.a"}


def test_load_pipeline_file(tmp_path: Path) -> None:
    file = tmp_path / "ci.yml"
    file.write_text("name: p\nsteps:\n  a: {run: 'echo ${{ env.X }}'}\n")
    spec = load_pipeline_file(file, env={"X": "1"})
    assert spec.base_dir == tmp_path.resolve()
    assert spec.path == str(file)
    assert spec.steps["a"].run == "echo 1"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_pipeline_file(tmp_path / "nope.yml")
    (issue,) = info.value.issues
    assert (issue.line, issue.column) == (0, 0)
    assert issue.message == f"pipeline file not found: {tmp_path / 'nope.yml'}"


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_pipeline_file(tmp_path)
    assert info.value.issues[0].message.startswith("cannot read pipeline file")


def test_ten_megabyte_file_is_refused_before_parsing(tmp_path: Path) -> None:
    file = tmp_path / "big.yml"
    file.write_bytes(b"name: p\nsteps:\n  a: {run: x}\n" + b"# " + b"x" * 10_000_000)
    file.write_bytes(file.read_bytes()[:10_000_000])
    message = "pipeline file is too large (10.0 MB > 1 MiB)"
    with pytest.raises(SpecError) as info:
        load_pipeline_file(file)
    assert [i.message for i in info.value.issues] == [message]
    assert [i.message for i in validate(file.read_bytes())] == [message]
    assert [i.message for i in validate(file.read_text())] == [message]


def test_non_utf8_bytes_are_located() -> None:
    data = b"name: p\nsteps:\n  a: {run: 'caf\xe9'}\n"
    (issue,) = validate(data, path="latin1.yml")
    assert issue.message == "file is not valid UTF-8 (byte 0xe9 at offset 30)"
    assert (issue.line, issue.column) == (3, 16)


def test_bom_and_crlf_are_accepted() -> None:
    data = "\ufeffname: p\r\nsteps:\r\n  a: {run: x}\r\n".encode()
    assert load_pipeline(data).name == "p"


def test_control_characters_are_syntax_errors() -> None:
    (issue,) = validate('name: p\nsteps:\n  a: {run: "x\x00"}\n')
    assert issue.message == "YAML syntax error: unacceptable character #x0000"
    assert (issue.line, issue.column) == (3, 14)


def test_validate_never_raises_on_odd_input() -> None:
    for text in ("[", "{", "? [a]\n: b\n", "name: p\nsteps:\n  ? [a]\n  : {run: x}\n", "\x85"):
        assert validate(text)


def test_non_string_keys_are_reported() -> None:
    issues = validate("name: p\nsteps:\n  ? [a]\n  : {run: x}\n  b: {run: y}\n")
    assert [(i.line, i.message) for i in issues] == [(3, "a step id must be a plain string")]


def test_pipeline_package_imports_nothing_else_of_ours() -> None:
    package = Path(__file__).parents[2] / "ansflow_jupyter" / "pipeline"
    for module in package.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.level == 1 or not (node.module or "").startswith("ansflow_jupyter")
                assert node.level <= 1, module
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("ansflow_jupyter") for a in node.names)


def test_validate_reports_an_internal_error_instead_of_raising(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ansflow_jupyter.pipeline import checker

    def boom(self: object, root: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(checker.Checker, "document", boom)
    (issue,) = validate("name: p\nsteps:\n  a: {run: x}\n", path="ci.yml")
    assert issue.message == "internal error while validating: RuntimeError('bug')"
    assert issue.file == "ci.yml"


def test_expansion_limits_are_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "name: m\nsteps:\n  a:\n    run: echo\n    matrix: {x: [1, 2, 3], y: [1, 2]}\n"
    monkeypatch.setenv("ANSFLOW_MAX_MATRIX_LEGS", "5")
    (issue,) = validate(text)
    assert "matrix expands to 6 legs (3 x 2); at most 5 per step" in issue.message
    monkeypatch.setenv("ANSFLOW_MAX_MATRIX_LEGS", "6")
    assert validate(text) == []
    monkeypatch.setenv("ANSFLOW_MAX_STEPS", "5")
    (issue,) = validate(text)
    assert "more than 5 steps" in issue.message


def test_billion_laughs_aliases_are_not_expanded() -> None:
    # 10^9 strings through nested aliases, used in every place a list or mapping fits:
    # each use is checked once as written, never expanded.
    lines = ["name: lol", "x0: &a0 [lol,lol,lol,lol,lol,lol,lol,lol,lol,lol]"]
    lines += [f"x{i}: &a{i} [{','.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    lines += [
        "env: {A: *a8}",
        "steps:",
        "  a: {run: echo, needs: *a8, matrix: {k: *a8}, env: *a8, retry: *a8, name: *a8}",
    ]
    issues = validate("\n".join(lines) + "\n")
    assert 0 < len(issues) < 100
    assert any(i.path == "steps.a.needs[0]" for i in issues), [str(i) for i in issues]
