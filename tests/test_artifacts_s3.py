"""Artifacts in an S3-compatible store (moto's server, in-process) through fsspec/s3fs:
with local steps, and with Dask steps whose files travel through the store."""

from __future__ import annotations

import asyncio
import os
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ansflow_jupyter.service import ExecutionManager
from ansflow_jupyter.store import Store

moto_server = pytest.importorskip("moto.server")
s3fs = pytest.importorskip("s3fs")


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on a free loopback port; credentials and endpoint via env."""
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = {k: os.environ.get(k) for k in _ENV}
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=endpoint,
    )
    try:
        yield endpoint
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL")

PIPELINE = """\
name: s3
steps:
  build:
    matrix: {n: ["1"]}
    run: mkdir -p dist && echo "wheel-$RANDOM" > dist/app.whl
    working-directory: producer
    artifacts: [dist/]
  test:
    needs: build
    run: |
      cat "$ANSFLOW_ARTIFACTS/build/n=1/dist/app.whl"
      case "$ANSFLOW_ARTIFACTS" in "$PRODUCER"*) echo SAME-FOLDER;; esac
    working-directory: consumer
"""


def _run(tmp_path: Path, url: str, backend: Any = None) -> dict[str, Any]:
    (tmp_path / "producer").mkdir(exist_ok=True)
    (tmp_path / "consumer").mkdir(exist_ok=True)

    async def main() -> dict[str, Any]:
        if backend == "dask":
            from ansflow_jupyter.engine.backends.dask import DaskBackend

            chosen: Any = await DaskBackend.local(n_workers=2)
        else:
            chosen = None
        store = Store(f"sqlite:///{tmp_path / 'store.sqlite'}")
        manager = ExecutionManager(store, chosen, artifact_url=url)
        await manager.start_up()
        try:
            from ansflow_jupyter.pipeline import load_pipeline

            spec = load_pipeline(
                textwrap.dedent(PIPELINE), base_dir=tmp_path, env={"PRODUCER": str(tmp_path)}
            )
            info = await manager.start(spec)
            await manager.wait(info["execution_id"])
            snap = await manager.snapshot(info["execution_id"])
            lines = await manager.logs(info["execution_id"], step="test")
            listed = await manager.artifacts(info["execution_id"])
            return {"snap": snap, "lines": [x["line"] for x in lines], "listed": listed}
        finally:
            await manager.shutdown()

    return asyncio.run(asyncio.wait_for(main(), 90))


def _bucket(endpoint: str) -> tuple[Any, str]:
    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": endpoint})
    bucket = f"arts-{uuid.uuid4().hex[:8]}"
    fs.mkdir(bucket)
    return fs, bucket


def _check(result: dict[str, Any], fs: Any, bucket: str, tmp_path: Path) -> None:
    steps = {s["step_id"]: s for s in result["snap"].data["steps"]}
    assert steps["build[n=1]"]["status"] == "success", steps
    assert steps["test"]["status"] == "success", result["lines"]
    (row,) = result["listed"]
    assert row["path"] == "dist/app.whl"
    assert result["lines"][0].startswith("wheel-")
    assert "SAME-FOLDER" not in result["lines"]
    fs.invalidate_cache()
    blobs = fs.find(f"{bucket}/store/blobs")
    assert [b.rsplit("/", 1)[-1] for b in blobs] == [row["sha256"]]
    assert not (tmp_path / "artifacts").exists()  # nothing went to a local folder


def test_local_steps_with_an_s3_store(s3_endpoint: str, tmp_path: Path) -> None:
    fs, bucket = _bucket(s3_endpoint)
    result = _run(tmp_path, f"s3://{bucket}/store")
    _check(result, fs, bucket, tmp_path)


def test_dask_steps_get_their_needs_files_through_the_store(
    s3_endpoint: str, tmp_path: Path
) -> None:
    fs, bucket = _bucket(s3_endpoint)
    result = _run(tmp_path, f"s3://{bucket}/store", backend="dask")
    _check(result, fs, bucket, tmp_path)
