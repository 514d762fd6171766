"""Shared fixtures."""

from __future__ import annotations

# ---- store_url: every store test runs on SQLite and on PostgreSQL (owner: store/) ------
#
# PostgreSQL comes from $ANSFLOW_TEST_PG_URL (CI: `.ci/start-postgres.sh`); when unset, a
# throwaway cluster is started for the session if initdb is installed, else the PG leg is
# skipped with the reason. With $CI set the PG leg never skips: it fails.
# Each test starts from an empty database (one database per session, tables dropped).
import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_cluster import installed, pg_cluster

_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def _pg_server() -> Iterator[str | None]:
    """Base URL of a PostgreSQL server to create test databases on (None if none)."""
    if os.environ.get("ANSFLOW_TEST_PG_URL"):
        yield os.environ["ANSFLOW_TEST_PG_URL"]
        return
    if not installed():
        yield None
        return
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(pg_cluster())
        except RuntimeError as exc:
            pytest.fail(f"could not start PostgreSQL: {exc}")
        yield url


@pytest.fixture(scope="session")
def _pg_database(_pg_server: str | None) -> Iterator[str | None]:
    """A database of our own on that server for the session (the server's are not wiped)."""
    if _pg_server is None:
        yield None
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    url = make_url(_pg_server).set(drivername="postgresql+psycopg")
    name = f"ansflow_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield url.set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _empty_pg_database(url: str) -> None:
    """Drop every table: ten times cheaper than a CREATE DATABASE per test."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '10s'"))
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty store: a tmp SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ansflow.sqlite'}"
        return
    database: str | None = request.getfixturevalue("_pg_database")  # started only if needed
    if database is None:
        reason = "no PostgreSQL: set ANSFLOW_TEST_PG_URL or install postgresql (initdb)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} -- required when CI is set")
        pytest.skip(reason)
    _empty_pg_database(database)
    yield database


# ---- end of store_url ------------------------------------------------------------------


# ---- server: pytest-jupyter (owner: server/) ------------------------------------------
# pytest-jupyter runs plain `async def test_...` itself: never mark them asyncio. The
# ansflow server fixtures (jp_server_config enabling the extension) are in tests/server/.
pytest_plugins = ["pytest_jupyter.jupyter_server"]
# ---- end of server ---------------------------------------------------------------------
