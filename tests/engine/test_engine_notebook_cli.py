"""`ansflow run NOTEBOOK.ipynb -p …` and the notebook DAG example, end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from _engine_helpers import ListSink, run
from cli_process import ansflow

from ansflow_jupyter.engine import Executor
from ansflow_jupyter.engine.backends import LocalBackend
from ansflow_jupyter.events import ExecutionStatus
from ansflow_jupyter.pipeline import load_pipeline_file

pytestmark = pytest.mark.timeout(180)
EXAMPLE = Path(__file__).parents[2] / "notebooks" / "notebook-dag"


def write_notebook(path: Path, parameters: str, body: str) -> None:
    """A python3 notebook: a cell tagged `parameters`, then `body`."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "P"}
    params = nbformat.v4.new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nbformat.write(nb, str(path))


def test_run_a_notebook_with_parameters(tmp_path: Path) -> None:
    write_notebook(
        tmp_path / "my nb.ipynb", "n = 1\nword = 'a'", "print(word * n, type(n).__name__)"
    )
    done = ansflow(tmp_path, "run", "my nb.ipynb", "-p", "n", "3", "-p", "word", "ab", "--plain")
    assert done.returncode == 0, done.stderr
    assert "ababab int" in done.stdout
    saved = nbformat.read(str(tmp_path / ".ansflow" / "my_nb.ipynb"), as_version=4)
    assert saved.cells[2].outputs[0]["text"] == "ababab int\n"


def test_a_missing_notebook_exits_2(tmp_path: Path) -> None:
    done = ansflow(tmp_path, "run", "nope.ipynb")
    assert done.returncode == 2
    assert "notebook not found" in done.stderr


def test_the_notebook_dag_example_runs(tmp_path: Path) -> None:
    folder = tmp_path / "dag"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns(".ansflow", "*.json", "*.svg"))
    sink = ListSink()
    spec = load_pipeline_file(folder / "pipeline.yml")
    status = run(Executor(spec, "dag-1", LocalBackend(), sink).run(), timeout=170)
    assert status is ExecutionStatus.SUCCESS
    losses = {k: float(sink.final(f"train[lr={k}]")["outputs"]["loss"]) for k in ("0.1", "0.5")}
    assert losses["0.5"] < losses["0.1"]  # the faster rate fits better in 60 epochs
    assert sink.final("compare")["outputs"] == {"best_lr": "0.5"}
    assert (folder / "losses.svg").exists()
    for step in ("prepare", "train[lr=0.1]", "train[lr=0.5]", "compare"):
        assert (folder / ".ansflow" / f"{step}.ipynb").exists()


def test_each_matrix_leg_keeps_its_executed_notebook_as_an_artifact(tmp_path: Path) -> None:
    # The leg's id has brackets (`leg[n=1]`); its notebook must not be read as a glob class.
    write_notebook(tmp_path / "leg.ipynb", "n = 0", "print('leg', n)")
    (tmp_path / "p.yml").write_text(
        "name: legs\nsteps:\n  leg:\n    notebook: leg.ipynb\n"
        "    matrix: {n: [1, 2]}\n    parameters: {n: '${{ matrix.n }}'}\n"
    )
    done = ansflow(tmp_path, "run", "p.yml", "--plain")
    assert done.returncode == 0, done.stdout + done.stderr
    execution = json.loads(ansflow(tmp_path, "list", "--json").stdout.splitlines()[0])
    listed = ansflow(tmp_path, "artifacts", execution["execution_id"])
    assert listed.returncode == 0, listed.stderr
    assert ".ansflow/leg[n=1].ipynb" in listed.stdout
    assert ".ansflow/leg[n=2].ipynb" in listed.stdout


def test_a_notebook_path_loads_as_a_one_step_pipeline(tmp_path: Path) -> None:
    # The path REST `{path}`, the %ansflow magic and the CLI all load files through.
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "P"}
    nbformat.write(nb, str(tmp_path / "1st run.ipynb"))
    spec = load_pipeline_file(tmp_path / "1st run.ipynb", parameters=[("n", "2"), ("s", "x")])
    (step,) = spec.steps.values()
    assert (spec.name, step.id, step.notebook) == ("1st run", "_1st_run", "1st run.ipynb")
    assert dict(step.parameters) == {"n": 2, "s": "x"}
    assert spec.base_dir == tmp_path.resolve()
