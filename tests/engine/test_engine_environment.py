"""A step's environment: the deny-list, our virtualenv, `env-inherit: false`, our variables."""

from __future__ import annotations

import os
import re
import sys
import textwrap
from pathlib import Path

import pytest
from _engine_helpers import ListSink, run

from ansflow_jupyter.engine import Executor
from ansflow_jupyter.engine.backends import LocalBackend
from ansflow_jupyter.engine.environment import inherited
from ansflow_jupyter.events import ExecutionStatus
from ansflow_jupyter.pipeline import load_pipeline

#: What a Jupyter server, a kernel and our own discovery put into a kernel's environment.
KERNELISH = {
    "ANSFLOW_SERVER_TOKEN": "tok-3f9a1c-secret-of-the-server",
    "ANSFLOW_SERVER_URL": "http://127.0.0.1:8888/",
    "ANSFLOW_SERVER_PID": "4242",
    "JPY_PARENT_PID": "4242",
    "JPY_SESSION_NAME": "/home/u/nb.ipynb",
    "JUPYTER_TOKEN": "jupyter-token-value",
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    "PAGER": "cat",
    "GIT_PAGER": "cat",
    "TERM": "xterm-color",
    "CLICOLOR": "1",
    "FORCE_COLOR": "1",
    "CLICOLOR_FORCE": "1",
    "PY_COLORS": "1",
}

#: docs/pipelines.md's list of what `env-inherit: false` keeps.
MINIMAL_RULE = re.compile(
    r"^(PATH|HOME|USER|LOGNAME|SHELL|LANG|LANGUAGE|TZ|TMPDIR|SSL_CERT_FILE|SSL_CERT_DIR"
    r"|REQUESTS_CA_BUNDLE|CURL_CA_BUNDLE|NODE_EXTRA_CA_CERTS|LC_\w+|PIP_\w+|UV_\w+|\w+_proxy"
    r"|\w+_PROXY)$"
)


def environments(text: str, tmp_path: Path) -> tuple[ExecutionStatus, dict[str, dict[str, str]]]:
    """Run the pipeline; per step, the environment its process saw (`NAME=value` lines)."""
    spec = load_pipeline(textwrap.dedent(text), base_dir=tmp_path)
    sink = ListSink()
    status = run(Executor(spec, "env-1", LocalBackend(), sink).run())
    sink.check_invariants()
    seen: dict[str, dict[str, str]] = {}
    for sid in spec.steps:
        lines = (tmp_path / f"{sid}.env").read_bytes().split(b"\0")
        pairs = [line.decode().partition("=") for line in lines if b"=" in line]
        seen[sid] = {name: value for name, _, value in pairs}
    return status, seen


def dump(sid: str) -> str:
    """A step body writing its whole environment to <sid>.env (NUL-separated)."""
    return f"env -0 > {sid}.env"


@pytest.fixture
def kernel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process looks like a kernel started by a Jupyter server with ansflow."""
    for name, value in KERNELISH.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("USER_CHOICE", "kept")
    monkeypatch.setenv("DEPLOY_TOKEN", "deploy-secret-value")


@pytest.mark.usefixtures("kernel_env")
def test_steps_never_see_our_credentials_nor_the_kernels_variables(tmp_path: Path) -> None:
    status, seen = environments(
        f"""\
        name: env
        env: {{FROM_PIPELINE: p}}
        steps:
          a: {{run: "{dump("a")}"}}
          b: {{run: "{dump("b")}", env: {{FORCE_COLOR: "3"}}}}
        """,
        tmp_path,
    )
    assert status is ExecutionStatus.SUCCESS
    a, b = seen["a"], seen["b"]
    assert not set(KERNELISH) & set(a), set(KERNELISH) & set(a)
    assert "tok-3f9a1c" not in repr(a)
    assert a["USER_CHOICE"] == "kept"  # the rest of the caller's environment is inherited
    assert a["FROM_PIPELINE"] == "p"
    assert a["ANSFLOW_EXECUTION_ID"] == "env-1"
    assert (a["ANSFLOW_STEP_ID"], a["ANSFLOW_ATTEMPT"]) == ("a", "1")
    assert b["FORCE_COLOR"] == "3"  # asked for explicitly: the pipeline wins


def test_a_users_own_matplotlib_backend_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPLBACKEND", "agg")
    assert inherited(os.environ)["MPLBACKEND"] == "agg"


@pytest.mark.skipif(sys.prefix == sys.base_prefix, reason="ansflow must run from a virtualenv")
def test_a_step_does_not_run_inside_ansflows_virtualenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venv_bin = os.path.join(sys.prefix, "bin")
    other = tmp_path / "other-venv"
    (other / "bin").mkdir(parents=True)
    monkeypatch.setenv("VIRTUAL_ENV", sys.prefix)  # as `source .venv/bin/activate` leaves it
    monkeypatch.setenv("PATH", f"{venv_bin}{os.pathsep}{other / 'bin'}{os.pathsep}/usr/bin:/bin")
    status, seen = environments(
        f"""\
        name: venv
        steps:
          a: {{run: "{dump("a")}"}}
        """,
        tmp_path,
    )
    assert status is ExecutionStatus.SUCCESS
    assert "VIRTUAL_ENV" not in seen["a"]
    path = seen["a"]["PATH"].split(os.pathsep)
    assert venv_bin not in path
    assert path == [str(other / "bin"), "/usr/bin", "/bin"]  # the rest keeps its order


@pytest.mark.usefixtures("kernel_env")
def test_env_inherit_false_starts_from_a_minimal_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "project-venv"
    monkeypatch.setenv("VIRTUAL_ENV", str(other))
    monkeypatch.setenv("PATH", f"{other / 'bin'}{os.pathsep}/usr/bin:/bin")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy:3128")
    monkeypatch.setenv("PIP_INDEX_URL", "https://pypi.example/simple")
    monkeypatch.setenv("SSL_CERT_FILE", "/etc/ssl/certs/ca.pem")
    status, seen = environments(
        f"""\
        name: clean
        env-inherit: false
        secrets: [DEPLOY_TOKEN]
        env: {{FROM_PIPELINE: p}}
        steps:
          clean: {{run: "{dump("clean")}", env: {{FROM_STEP: s}}}}
          inherits: {{run: "{dump("inherits")}", env-inherit: true}}
        """,
        tmp_path,
    )
    assert status is ExecutionStatus.SUCCESS
    clean = seen["clean"]
    ours = {"ANSFLOW_EXECUTION_ID", "ANSFLOW_STEP_ID", "ANSFLOW_ATTEMPT"}
    ours |= {"ANSFLOW_OUTPUT", "ANSFLOW_STEP_SUMMARY"}
    expected = {"PATH", "HOME", "USER", "SHELL", "LC_ALL", "HTTPS_PROXY", "PIP_INDEX_URL"}
    expected |= {"SSL_CERT_FILE", "DEPLOY_TOKEN", "FROM_PIPELINE", "FROM_STEP"} | ours
    # The documented minimal set as this machine has it, and what bash adds (PWD, SHLVL, _).
    allowed = expected | {n for n in os.environ if MINIMAL_RULE.match(n)} | {"PWD", "SHLVL", "_"}
    assert expected <= set(clean) <= allowed, set(clean) ^ expected
    assert clean["PATH"] == "/usr/bin:/bin"  # no virtualenv activation, not even the user's
    assert clean["DEPLOY_TOKEN"] == "deploy-secret-value"  # declared secrets reach the step
    assert seen["inherits"]["USER_CHOICE"] == "kept"  # the step-level key wins
    assert seen["inherits"]["VIRTUAL_ENV"] == str(other)  # a user's own venv is theirs


def test_env_inherit_false_on_a_step_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER_CHOICE", "kept")
    _, seen = environments(
        f"""\
        name: clean step
        steps:
          dirty: {{run: "{dump("dirty")}"}}
          clean: {{run: "{dump("clean")}", env-inherit: false}}
        """,
        tmp_path,
    )
    assert seen["dirty"]["USER_CHOICE"] == "kept"
    assert "USER_CHOICE" not in seen["clean"]


def test_env_inherit_must_be_a_boolean() -> None:
    from ansflow_jupyter.errors import SpecError

    with pytest.raises(SpecError) as error:
        load_pipeline("name: x\nenv-inherit: nope\nsteps:\n  a: {run: 'true'}\n", path="x.yml")
    assert str(error.value) == "x.yml:2:14: env-inherit: must be true or false, not a string"


def test_a_store_url_with_a_password_is_a_credential() -> None:
    with_password = {"ANSFLOW_DB_URL": "postgresql://ci:hunter2@db/ansflow", "PATH": "/bin"}
    assert "ANSFLOW_DB_URL" not in inherited(with_password)
    plain = {"ANSFLOW_DB_URL": "sqlite:////tmp/ansflow.sqlite", "PATH": "/bin"}
    assert inherited(plain)["ANSFLOW_DB_URL"] == plain["ANSFLOW_DB_URL"]


def test_declaring_our_token_a_secret_does_not_hand_it_over() -> None:
    from ansflow_jupyter.engine.environment import ExecutionEnvironment

    base = {"ANSFLOW_SERVER_TOKEN": "tok", "DEPLOY_TOKEN": "d", "PATH": "/bin"}
    builder = ExecutionEnvironment(
        "e", {}, ["ANSFLOW_SERVER_TOKEN", "DEPLOY_TOKEN"], {}, inherit=False, base=base
    )
    env = builder.resolve(builder.of("s", {}, None))
    assert env["DEPLOY_TOKEN"] == "d"
    assert "ANSFLOW_SERVER_TOKEN" not in env
