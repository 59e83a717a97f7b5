"""Read operational tables per tenant as Arrow tables (ADBC for SQLite/PostgreSQL; no row loops).

SQLite columns are read as text (SQLite's dynamic typing would otherwise confuse type inference)
and typed exactly by DuckDB against the raw contract; PostgreSQL columns arrive natively typed.
Other SQLAlchemy URLs fall back to a SQLAlchemy fetch.
"""
from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

import pyarrow as pa
from sqlalchemy.engine import make_url

from ingestion.raw_schema import RAW_TABLES, TENANT_COLUMN, WATERMARK_COLUMN
from ingestion.sqlite_child import SqliteChildReader

_JSON_OR_TEXT = {"JSON"}


def _quote(name: str) -> str:
    return f'"{name}"'


class OperationalReader:
    """One open connection to the operational database, reading tables tenant by tenant."""

    def __init__(self, url: str):
        self.url = make_url(url)
        self.backend = self.url.get_backend_name()
        self._conn = None

    def __enter__(self) -> "OperationalReader":
        if self.backend == "sqlite":
            # read-only, in a child process (see ingestion/sqlite_child.py for why)
            uri = f"file:{quote(str(Path(self.url.database).resolve()))}?mode=ro"
            self._conn = SqliteChildReader(uri)
        elif self.backend == "postgresql":
            import adbc_driver_postgresql.dbapi as pg_adbc

            uri = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
            self._conn = pg_adbc.connect(uri)
        else:
            from sqlalchemy import create_engine

            self._conn = create_engine(self.url)
        return self

    def __exit__(self, *exc) -> None:
        if self._conn is not None:
            if hasattr(self._conn, "dispose"):
                self._conn.dispose()
            else:
                self._conn.close()
        self._conn = None

    def _select_list(self, table: str) -> str:
        parts = []
        for column, sql_type in RAW_TABLES[table].items():
            quoted = _quote(column)
            if self.backend == "sqlite" and sql_type not in ("INTEGER", "BIGINT"):
                parts.append(f"CAST({quoted} AS TEXT) AS {quoted}")
            elif self.backend == "postgresql" and sql_type in _JSON_OR_TEXT:
                parts.append(f"CAST({quoted} AS TEXT) AS {quoted}")
            else:
                parts.append(quoted)
        return ", ".join(parts)

    def tenant_ids(self) -> list[str]:
        """Active tenants; a deactivated tenant is treated as gone."""
        table = self._fetch("SELECT id FROM organizations WHERE is_active ORDER BY id", [])
        return [str(value) for value in table.column("id").to_pylist()]

    def read(self, table: str, tenant_id: str, since: dt.datetime | None = None) -> pa.Table:
        """Rows of one table for one tenant; with ``since``, only rows changed at or after it."""
        if table not in RAW_TABLES:
            raise KeyError(table)
        sql = (
            f"SELECT {self._select_list(table)} FROM {_quote(table)} "
            f"WHERE {_quote(TENANT_COLUMN[table])} = {self._placeholder(1)}"
        )
        params: list = [tenant_id]
        if since is not None:
            sql += f" AND {_quote(WATERMARK_COLUMN[table])} >= {self._placeholder(2)}"
            params.append(self._timestamp_param(since))
        return self._fetch(sql, params)

    def _placeholder(self, number: int) -> str:
        return {"sqlite": "?", "postgresql": f"${number}"}.get(self.backend, f":p{number}")

    def _timestamp_param(self, value: dt.datetime):
        value = value.astimezone(dt.timezone.utc)
        if self.backend == "postgresql":
            return value
        # SQLite stores naive UTC text (operational.types.UtcDateTime); compare like with like
        return value.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")

    def _fetch(self, sql: str, params: list) -> pa.Table:
        if self.backend == "sqlite":
            return self._conn.fetch(sql, params)
        if self.backend == "postgresql":
            cursor = self._conn.cursor()
            try:
                cursor.execute(sql, params or None)
                return cursor.fetch_arrow_table()
            finally:
                cursor.close()
        return self._fetch_sqlalchemy(sql, params)

    def _fetch_sqlalchemy(self, sql: str, params: list) -> pa.Table:
        from sqlalchemy import text

        bound = {f"p{i + 1}": value for i, value in enumerate(params)}
        with self._conn.connect() as conn:
            result = conn.execute(text(sql), bound)
            columns = list(result.keys())
            rows = result.fetchall()
        return pa.table({name: [str(row[i]) if row[i] is not None else None for row in rows]
                         for i, name in enumerate(columns)})


@contextmanager
def open_operational(url: str) -> Iterator[OperationalReader]:
    with OperationalReader(url) as reader:
        yield reader
