"""Every malformed file in corpus/ yields the expected located message (and nothing runs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansflow_jupyter.pipeline import SpecError, load_pipeline, validate

CORPUS = Path(__file__).parent / "corpus"

# file stem, message substring, line, column, key path, number of issues in the file
CASES: list[tuple[str, str, int, int, str, int]] = [
    ("syntax_unclosed_flow", "while parsing a flow mapping, expected ',' or '}'", 3, 1, "", 1),
    ("syntax_bad_indent", "expected <block end>, but found '<block mapping start>'", 5, 4, "", 1),
    ("syntax_tab_indent", "tabs are not allowed for indentation", 3, 1, "", 1),
    (
        "syntax_unclosed_quote",
        "scanning a quoted scalar, found unexpected end of stream",
        4,
        1,
        "",
        1,
    ),
    ("syntax_two_documents", "expected a single document in the stream", 3, 1, "", 1),
    (
        "top_level_list",
        "the top level must be a mapping (name, steps, ...), not a list",
        1,
        1,
        "",
        1,
    ),
    ("top_level_scalar", "the top level must be a mapping", 1, 1, "", 1),
    ("empty", "pipeline file is empty", 1, 1, "", 1),
    ("comments_only", "pipeline file is empty", 1, 1, "", 1),
    ("missing_name", "missing required key 'name'", 1, 1, "name", 1),
    ("name_not_string", "must be a string, not a list", 1, 7, "name", 1),
    ("missing_steps", "missing required key 'steps'", 1, 1, "steps", 1),
    ("steps_empty_mapping", "at least one step is required", 2, 8, "steps", 1),
    ("steps_empty_list", "at least one step is required", 2, 8, "steps", 1),
    (
        "steps_scalar",
        "must be a mapping of id: step (or a list of steps), not a string",
        2,
        8,
        "steps",
        1,
    ),
    ("unknown_top_key", "unknown key 'step'; did you mean 'steps'?", 2, 1, "step", 1),
    ("unknown_step_key_hint", "unknown key 'need'; did you mean 'needs'?", 5, 5, "steps.b.need", 1),
    (
        "unknown_step_key_no_hint",
        "unknown key 'colour' (allowed: name, run,",
        5,
        5,
        "steps.a.colour",
        1,
    ),
    ("defaults_unknown_key", "did you mean 'working-directory'?", 3, 3, "defaults.working-dir", 1),
    ("missing_run", "missing required key 'run'", 4, 3, "steps.b.run", 1),
    ("run_not_string", "must be a string, not a list", 4, 10, "steps.a.run", 1),
    ("bad_step_id", "invalid step id 'my step'", 3, 3, "steps.my step", 1),
    (
        "duplicate_step_id_map",
        "duplicate step id 'build' (first at line 3)",
        5,
        3,
        "steps.build",
        1,
    ),
    (
        "duplicate_step_id_list",
        "duplicate step id 'build' (first at line 3)",
        5,
        9,
        "steps[1].id",
        1,
    ),
    ("list_step_missing_id", "missing required key 'id'", 3, 5, "steps[0].id", 1),
    ("list_step_not_mapping", "must be a mapping, not a string", 3, 5, "steps[0]", 1),
    ("duplicate_key_in_step", "duplicate key 'run' (first at line 4)", 5, 5, "steps.a.run", 1),
    (
        "unknown_need_hint",
        "unknown step 'tset' in needs; did you mean 'test'?",
        5,
        20,
        "steps.deploy.needs[1]",
        1,
    ),
    ("unknown_need_no_hint", "unknown step 'zzz' in needs", 4, 12, "steps.a.needs", 1),
    ("needs_itself", "step 'a' needs itself", 4, 13, "steps.a.needs[0]", 1),
    (
        "needs_wrong_type",
        "must be a step id or a list of step ids, not a mapping",
        4,
        12,
        "steps.a.needs",
        1,
    ),
    ("cycle_two", "dependency cycle: a -> b -> a", 3, 22, "steps.a.needs", 1),
    ("cycle_three", "dependency cycle: a -> c -> b -> a", 4, 13, "steps.a.needs[0]", 1),
    ("duration_bad_unit", "invalid duration '10x'", 5, 14, "steps.a.timeout", 1),
    ("duration_negative", "duration must be > 0, got -1", 5, 14, "steps.a.timeout", 1),
    ("duration_empty", "invalid duration ''", 5, 14, "steps.a.timeout", 1),
    ("duration_zero", "duration must be > 0, got '0s'", 5, 14, "steps.a.timeout", 1),
    (
        "duration_bool",
        "must be a duration like '90s' or a number of seconds, not a boolean",
        3,
        12,
        "defaults.timeout",
        1,
    ),
    (
        "if_single_equals",
        "invalid if expression: unexpected character '=' (use '==')",
        5,
        18,
        "steps.a.if",
        1,
    ),
    (
        "if_unknown_function",
        "unknown function 'sucess()'; did you mean 'success()'?",
        5,
        9,
        "steps.a.if",
        1,
    ),
    ("if_unclosed_paren", "expected ')', found the end of the expression", 5, 33, "steps.a.if", 1),
    ("if_unterminated_string", "unterminated string", 5, 18, "steps.a.if", 1),
    ("if_trailing_operator", "unexpected end of expression", 5, 26, "steps.a.if", 1),
    (
        "if_wrong_type",
        "must be an expression string such as 'success()', not a list",
        5,
        9,
        "steps.a.if",
        1,
    ),
    ("matrix_empty_list", "must list at least one value", 6, 15, "steps.a.matrix.python", 1),
    (
        "matrix_not_list",
        "must be a list of values, not a string",
        6,
        15,
        "steps.a.matrix.python",
        1,
    ),
    (
        "matrix_nested_map",
        "must be a string, number or boolean, not a mapping",
        7,
        11,
        "steps.a.matrix.python[0]",
        1,
    ),
    (
        "matrix_not_mapping",
        "must be a mapping of name: [values], not a list",
        5,
        13,
        "steps.a.matrix",
        1,
    ),
    (
        "matrix_unknown_reference",
        "unknown matrix value 'pyhton'; did you mean 'python'?",
        5,
        15,
        "steps.a.run",
        1,
    ),
    (
        "env_unknown_reference",
        "unknown env variable 'REGOIN'; did you mean 'REGION'?",
        5,
        15,
        "steps.a.run",
        1,
    ),
    (
        "unsupported_expression",
        "unsupported expression '${{ secrets.TOKEN }}'",
        4,
        15,
        "steps.a.run",
        1,
    ),
    ("retry_negative_max", "must be an integer >= 0, got -1", 5, 18, "steps.a.retry.max", 1),
    (
        "retry_unknown_key",
        "unknown key 'delays'; did you mean 'delay'?",
        7,
        7,
        "steps.a.retry.delays",
        1,
    ),
    ("retry_not_mapping", "must be a mapping, not an integer", 5, 12, "steps.a.retry", 1),
    ("retry_small_backoff", "must be a number >= 1, got 0.5", 5, 30, "steps.a.retry.backoff", 1),
    ("max_parallel_zero", "must be an integer >= 1, got 0", 2, 15, "max-parallel", 1),
    ("max_parallel_string", "must be an integer >= 1, not a string", 2, 15, "max-parallel", 1),
    ("shell_unknown", "unknown shell 'zsh' (expected bash, sh, python)", 5, 12, "steps.a.shell", 1),
    (
        "shell_not_string",
        "must be one of bash, sh, python, not an integer",
        2,
        19,
        "defaults.shell",
        1,
    ),
    (
        "secrets_not_list",
        "must be a list of environment variable names, not a string",
        2,
        10,
        "secrets",
        1,
    ),
    ("secrets_bad_name", "invalid environment variable name 'deploy-key'", 2, 25, "secrets[1]", 1),
    ("env_bad_name", "invalid environment variable name 'MY-VAR'", 3, 3, "env.MY-VAR", 1),
    (
        "env_null_value",
        "must be a string, number or boolean, not an empty value",
        6,
        13,
        "steps.a.env.TOKEN",
        1,
    ),
    (
        "continue_on_error_string",
        "must be true or false, not a string",
        5,
        24,
        "steps.a.continue-on-error",
        1,
    ),
    (
        "env_inherit_string",
        "must be true or false, not a string",
        5,
        18,
        "steps.a.env-inherit",
        1,
    ),
    ("merge_key", "YAML merge keys (<<) are not supported", 5, 5, "steps.a.<<", 3),
    (
        "matrix_product_bomb",
        "matrix expands to 1,000,000 legs (10 x 10 x 10 x 10 x 10 x 10); at most 1,000 per step",
        3,
        3,
        "steps.a.matrix",
        1,
    ),
    (
        "matrix_alias_bomb",
        "matrix expands to 1,000,000,000 legs (10 x 10 x 10 x 10 x 10 x 10 x 10 x 10 x 10)",
        3,
        3,
        "steps.a.matrix",
        1,
    ),
    (
        "matrix_too_many_steps",
        "the pipeline expands to more than 10,000 steps (11,000 up to this one",
        33,
        3,
        "steps.s10",
        1,
    ),
    (
        "artifacts_parent_dir",
        "'../secrets.txt' leaves the working directory",
        5,
        24,
        "steps.build.artifacts[1]",
        1,
    ),
    (
        "artifacts_bad_policy",
        "must be one of warn, error, ignore",
        5,
        46,
        "steps.build.artifacts.if-no-files",
        1,
    ),
    (
        "artifacts_not_a_list",
        "must be a list of paths or {paths: [...]",
        5,
        16,
        "steps.build.artifacts",
        1,
    ),
    (
        "cache_unknown_key",
        "unknown key 'keys'; did you mean 'key'?",
        5,
        31,
        "steps.build.cache.keys",
        1,
    ),
    (
        "cache_not_bool",
        "must be true or {inputs: [globs], key: '...'}",
        5,
        12,
        "steps.build.cache",
        1,
    ),
]


def test_corpus_and_table_match() -> None:
    files = {p.stem for p in CORPUS.glob("*.yml")}
    assert files == {case[0] for case in CASES}
    assert len(files) >= 40


@pytest.mark.parametrize(
    ("stem", "message", "line", "column", "path", "count"), CASES, ids=[c[0] for c in CASES]
)
def test_corpus_case(
    stem: str, message: str, line: int, column: int, path: str, count: int
) -> None:
    file = CORPUS / f"{stem}.yml"
    issues = validate(file.read_bytes(), path=file.name)
    found = [(i.line, i.column, i.path) for i in issues if message in i.message]
    assert found == [(line, column, path)], [str(i) for i in issues]
    assert len(issues) == count, [str(i) for i in issues]
    assert all(i.file == file.name for i in issues)
    with pytest.raises(SpecError) as info:
        load_pipeline(file.read_bytes(), path=file.name)
    assert info.value.issues == issues
