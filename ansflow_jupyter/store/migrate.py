"""Additive schema upgrades, applied automatically when an older store is opened.

The schema only ever grows: new tables and new nullable columns. So an upgrade needs no
hand-written script per version: compare the tables of `models.py` with the database,
create what is missing, add the missing columns, and record the new version -- in one
write transaction, so two processes opening the same old store upgrade it once. A user's
history is never rewritten; a store written by a NEWER version is refused (db.py).
"""

from __future__ import annotations

from sqlalchemy import Column, Connection, Engine, inspect, update
from sqlalchemy.schema import CreateTable

from ..errors import StoreError
from .models import SCHEMA_VERSION, Meta, metadata

#: Key of the PostgreSQL advisory lock held while tables are created or upgraded.
SCHEMA_LOCK = 0x616E73666C6F77  # "ansflow"


def migrate(engine: Engine, name: str) -> list[str]:
    """Bring an older store up to SCHEMA_VERSION; returns what was added ("table.column")."""
    added: list[str] = []
    with engine.connect() as raw:
        conn = raw.execution_options(ansflow_write=True)
        with conn.begin():
            if conn.dialect.name == "postgresql":
                # SQLite's BEGIN IMMEDIATE queues upgraders; PostgreSQL needs a lock, else
                # two processes opening the old store together both add the same tables
                # (a catalog unique violation) or columns ("already exists").
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
            current = conn.scalar(
                Meta.select().with_only_columns(Meta.c.value).where(Meta.c.key == "schema_version")
            )
            if current is not None and int(current) >= SCHEMA_VERSION:
                return added  # another process upgraded it while we waited for the lock
            existing = set(inspect(conn).get_table_names())
            for table in metadata.sorted_tables:
                if table.name not in existing:
                    conn.execute(CreateTable(table))
                    for index in table.indexes:
                        index.create(conn)
                    added.append(table.name)
                    continue
                present = {c["name"] for c in inspect(conn).get_columns(table.name)}
                for column in table.columns:
                    if column.name not in present:
                        _add_column(conn, table.name, column, name)
                        added.append(f"{table.name}.{column.name}")
            conn.execute(
                update(Meta).where(Meta.c.key == "schema_version").values(value=str(SCHEMA_VERSION))
            )
    return added


def _add_column(conn: Connection, table: str, column: Column[object], name: str) -> None:
    """ALTER TABLE ADD COLUMN; a NOT NULL column needs a default that fills existing rows."""
    default = _default_sql(conn, column)
    if not column.nullable and default is None:
        # A model change that is not additive: a bug of ours, caught by the upgrade test.
        raise StoreError(f"{name}: cannot add required column {table}.{column.name}")
    preparer = conn.dialect.identifier_preparer
    kind = column.type.compile(dialect=conn.dialect)
    suffix = "" if default is None else f" DEFAULT {default}"
    if not column.nullable:
        suffix += " NOT NULL"
    conn.exec_driver_sql(
        f"ALTER TABLE {preparer.quote(table)} ADD COLUMN {preparer.quote(column.name)} "
        f"{kind}{suffix}"
    )


def _default_sql(conn: Connection, column: Column[object]) -> str | None:
    """The column's scalar default as an SQL literal, or None."""
    if column.server_default is not None:
        return str(column.server_default.arg)  # type: ignore[attr-defined]
    if column.default is None or not column.default.is_scalar:
        return None
    value = column.default.arg  # type: ignore[attr-defined]
    literal = column.type.literal_processor(conn.dialect)
    return literal(value) if literal is not None else repr(value)
