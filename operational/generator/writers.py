"""Bulk writers: the canonical Arrow tables → the operational database, in one transaction.

Values are stored exactly as SQLAlchemy stores them (SQLite: money '123.40', timestamps
'YYYY-MM-DD HH:MM:SS.ffffff' naive UTC, dates 'YYYY-MM-DD', booleans 0/1, ratings REAL, JSON
``json.dumps`` text; PostgreSQL: NUMERIC, timestamptz, date, boolean, jsonb), so the models read
them back as usual (tests compare with the SQLAlchemy path value by value).

- SQLite file, normal loads: Python's sqlite3 (SQLAlchemy's own library) ``executemany``.
- SQLite file, bulk loads: ADBC ``adbc_ingest`` from Arrow in a child process (``sqlite_bulk``:
  ADBC's second copy of SQLite must never share a process with pysqlite).
  Both with synchronous=OFF and no per-row foreign-key or CHECK evaluation during the load: the
  rows are valid by construction, PostgreSQL (which checks everything) gets the same rows, and
  the tests run ``foreign_key_check``/``integrity_check``.
- PostgreSQL: ADBC ``adbc_ingest`` (binary COPY) on its own connection.
- Anything else (another dialect, an in-memory SQLite): SQLAlchemy Core inserts (slow, exact).

In bulk mode (large loads), the booking table's secondary indexes (and on PostgreSQL its primary
key and every foreign key of the tenant tables) are dropped inside the transaction and rebuilt
after the load: sorting once is much faster than maintaining B-trees row by row. The definitions
come from the catalog (PostgreSQL) or the models (SQLite), so they come back as they were.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.schema import CreateIndex

from auditoryx.errors import AuditoryxError
from operational.generator import columns as col
from operational.generator.schema import TABLE_ORDER, column_kinds, sa_table
from operational.models import Base, ChangeDeletion, Organization

TENANT_TABLES = tuple(t for t in TABLE_ORDER if t != "organizations") + tuple(
    table.name for table in Base.metadata.sorted_tables
    if "org_id" in table.c and table.name not in TABLE_ORDER and table.name != ChangeDeletion.__tablename__)
"""Every table holding tenant rows, parents first (deleted in reverse: login sessions, API keys,
outboxes… first): the generated ones, then every other table with an ``org_id``. Not
``change_deletions``: the deletes of a replacement are recorded there for incremental extraction."""
CHANGE_COLUMN = "change_number"
BULK_TABLE = "bookings"


def sqlite_file(engine: Engine) -> Path | None:
    """The database file of a plain file-backed SQLite engine (else None)."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:" \
            and not url.database.startswith("file:") and not url.query:
        return Path(url.database)
    return None


def open_writer(engine: Engine, *, bulk: bool) -> "Writer":
    url = engine.url
    if sqlite_file(engine) is not None:
        return SqliteWriter(engine, bulk=bulk)
    if url.get_backend_name() == "postgresql":
        return PostgresWriter(url.set(drivername="postgresql").render_as_string(hide_password=False), bulk=bulk)
    return SqlAlchemyWriter(engine, bulk=bulk)


def stamped(table: pa.Table, change_number: int | None) -> pa.Table:
    """Every row of a load carries its transaction's change number (migration 0006): set here
    once, not by a trigger call per row. None: leave the column to the database's triggers."""
    if change_number is None or CHANGE_COLUMN not in table.column_names:
        return table
    index = table.column_names.index(CHANGE_COLUMN)
    return table.set_column(index, CHANGE_COLUMN, pa.array(np.full(table.num_rows, change_number, dtype=np.int64)))


_SQLITE_NEXT_CHANGE = "UPDATE change_counter SET value = value + 1 WHERE id = 1"
_SQLITE_CHANGE = "SELECT value FROM change_counter WHERE id = 1"
_PG_CHANGE = "SELECT pg_current_xact_id()::text::bigint"


class Writer:
    """Begin → replace_tenants → write … → commit (or rollback); always close."""

    bulk: bool
    timings: dict[str, float] = {}  # seconds spent in the phases of commit(), for progress reports
    change_number: int | None = None  # the load's (its transaction's) change number

    def replace_tenants(self, slugs: Sequence[str]) -> None:
        raise NotImplementedError

    def write(self, name: str, table: pa.Table) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _in_list(count: int, placeholder) -> str:
    return ", ".join(placeholder(i) for i in range(count))


class _SqlWriter(Writer):
    """Deletes and truncation in plain SQL with bound parameters (``placeholder`` per dialect)."""

    placeholder = staticmethod(lambda i: "?")

    def _execute(self, sql: str, params: Sequence | None = None) -> list[tuple]:
        raise NotImplementedError

    def replace_tenants(self, slugs: Sequence[str]) -> None:
        slugs = list(slugs)
        marks = _in_list(len(slugs), self.placeholder)
        (others,) = self._execute(f"SELECT count(*) FROM organizations WHERE slug NOT IN ({marks})", slugs)[0]
        if others == 0:  # every tenant goes: empty the tables at once
            self._truncate()
            return
        ids = f"SELECT id FROM organizations WHERE slug IN ({marks})"
        for name in reversed(TENANT_TABLES):
            self._execute(f"DELETE FROM {name} WHERE org_id IN ({ids})", slugs)
        self._execute(f"DELETE FROM organizations WHERE slug IN ({marks})", slugs)

    def _truncate(self) -> None:
        """Every tenant goes (SQLite): like PostgreSQL's TRUNCATE, no deletes are recorded (a delete
        trigger would also cost a statement per row); the triggers come back as they were."""
        triggers = self._execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                                 "AND name LIKE 'change_deletion_%' ORDER BY name")
        for name, _sql in triggers:
            self._execute(f'DROP TRIGGER "{name}"')
        for name in (*reversed(TENANT_TABLES), "organizations"):
            self._execute(f"DELETE FROM {name}")
        for _name, sql in triggers:
            self._execute(sql)


class _AdbcWriter(_SqlWriter):
    def _execute(self, sql: str, params: Sequence | None = None) -> list[tuple]:
        cursor = self.conn.cursor()
        try:
            cursor.execute(sql, list(params) if params else None)
            try:
                return cursor.fetchall()
            except Exception:  # noqa: BLE001 - statements without a result set
                return []
        finally:
            cursor.close()

    def _ingest(self, name: str, table: pa.Table) -> None:
        cursor = self.conn.cursor()
        try:
            cursor.adbc_ingest(name, table, mode="append")
        finally:
            cursor.close()

    def _rollback(self) -> None:
        self.conn.rollback()

    def close(self) -> None:
        if self.conn is None:
            return
        try:
            if not self._done:
                self._rollback()
        except Exception:  # noqa: BLE001 - closing after a failure: the original error matters
            pass
        finally:
            self.conn.close()
            self.conn = None


class SqliteWriter(_SqlWriter):
    """Python's own sqlite3 (the library SQLAlchemy uses: a second SQLite copy in the same process,
    such as ADBC's, breaks the other's POSIX locks and can corrupt the file), on one of the
    engine's connections, in one explicit transaction."""

    def __init__(self, engine: Engine, *, bulk: bool):
        self.bulk = bulk
        self._done = False
        self._raw = engine.raw_connection()
        self.conn = self._raw.driver_connection
        self._isolation = self.conn.isolation_level
        self.conn.isolation_level = None  # explicit BEGIN/COMMIT below
        self._pragmas = {name: self.conn.execute(f"PRAGMA {name}").fetchone()[0]
                         for name in ("foreign_keys", "ignore_check_constraints", "synchronous", "cache_size", "threads")}
        for pragma in ("foreign_keys=OFF", "ignore_check_constraints=ON", "synchronous=OFF",
                       f"cache_size={-1048576 if bulk else -65536}", "threads=2"):
            self.conn.execute(f"PRAGMA {pragma}")
        self.conn.execute("BEGIN IMMEDIATE")
        self._execute(_SQLITE_NEXT_CHANGE)
        self.change_number = self._execute(_SQLITE_CHANGE)[0][0]
        self._dropped = _drop_sqlite_indexes(self._execute) if bulk else []

    def _execute(self, sql: str, params: Sequence | None = None) -> list[tuple]:
        return self.conn.execute(sql, list(params or ())).fetchall()

    def write(self, name: str, table: pa.Table) -> None:
        table = sqlite_storage(name, stamped(table, self.change_number))
        if self.bulk and table.num_rows > 10_000:
            table = table.sort_by("id")  # the primary-key B-tree then fills in one sweep per chunk
        names = table.column_names
        sql = f"INSERT INTO {name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        for batch in table.to_batches(max_chunksize=50_000):
            self.conn.executemany(sql, zip(*(_python_values(column) for column in batch.columns)))

    def commit(self) -> None:
        for statement in self._dropped:
            self.conn.execute(statement)
        self.conn.execute("COMMIT")
        self._done = True

    def close(self) -> None:
        if self.conn is None:
            return
        try:
            if not self._done:
                self.conn.execute("ROLLBACK")
        finally:
            try:
                for name, value in self._pragmas.items():
                    self.conn.execute(f"PRAGMA {name}={value}")
                self.conn.isolation_level = self._isolation
            finally:
                self._raw.close()
                self.conn = None


class SqliteAdbcWriter(_AdbcWriter):
    """ADBC ingest into a SQLite file: binds straight from Arrow, about twice as fast as sqlite3.

    ADBC links its own copy of SQLite. Two copies in one process break each other's POSIX locks
    (closing a file in one drops the other's locks) and can corrupt the database, so this writer
    only ever runs in a separate process (see ``sqlite_bulk``), never next to SQLAlchemy's pysqlite.
    """

    def __init__(self, path: Path, *, bulk: bool):
        import adbc_driver_sqlite.dbapi as sqlite_adbc

        self.bulk = bulk
        self._done = False
        self.conn = sqlite_adbc.connect(str(path), autocommit=True)  # explicit BEGIN/COMMIT below
        for pragma in ("busy_timeout=30000", "synchronous=OFF", "foreign_keys=OFF", "ignore_check_constraints=ON",
                       "cache_size=-1048576", "threads=2"):
            self._execute(f"PRAGMA {pragma}")
        # A WAL transaction of gigabytes is written twice (WAL, then the checkpoint into the file);
        # a rollback journal only keeps the pages that existed before. Switching needs the file to
        # ourselves: when other connections are open it stays WAL (no harm, just slower).
        self._journal = self._execute("PRAGMA journal_mode")[0][0]
        if self._journal == "wal":
            self._execute("PRAGMA busy_timeout=0")
            try:
                self._execute("PRAGMA journal_mode=DELETE")
            except Exception:  # noqa: BLE001 - "database is locked": someone else has it open
                pass
            self._execute("PRAGMA busy_timeout=30000")
        self.timings: dict[str, float] = {}
        self._execute("BEGIN IMMEDIATE")
        self._execute(_SQLITE_NEXT_CHANGE)
        self.change_number = self._execute(_SQLITE_CHANGE)[0][0]
        self._dropped = _drop_sqlite_indexes(self._execute) if bulk else []

    def write(self, name: str, table: pa.Table) -> None:
        table = sqlite_storage(name, stamped(table, self.change_number))
        if table.num_rows > 10_000:
            table = table.sort_by("id")  # the primary-key B-tree then fills in one sweep per chunk
        self._ingest(name, table)

    def commit(self) -> None:
        started = time.monotonic()
        for statement in self._dropped:
            self._execute(statement)
        self.timings["indexes"] = time.monotonic() - started
        started = time.monotonic()
        self._execute("COMMIT")
        self._done = True
        self.timings["commit"] = time.monotonic() - started
        self._restore_journal()

    def _rollback(self) -> None:
        try:
            self._execute("ROLLBACK")
        finally:
            self._restore_journal()

    def _restore_journal(self) -> None:
        if self._journal == "wal" and self._execute("PRAGMA journal_mode")[0][0] != "wal":
            self._execute("PRAGMA journal_mode=WAL")


def _drop_sqlite_indexes(execute) -> list[str]:
    """Drop the booking table's secondary indexes; return the statements that recreate them."""
    from sqlalchemy.dialects import sqlite

    statements = []
    for index in sa_table(BULK_TABLE).indexes:
        execute(f'DROP INDEX IF EXISTS "{index.name}"')
        statements.append(str(CreateIndex(index).compile(dialect=sqlite.dialect())))
    return statements


def _python_values(array: pa.Array) -> list:
    """Python values of a column; repeated strings become one shared object (much cheaper)."""
    if pa.types.is_string(array.type) and len(array) > 1000:
        encoded = pc.dictionary_encode(array)
        if len(encoded.dictionary) * 4 < len(array):
            values = np.array(encoded.dictionary.to_pylist() + [None], dtype=object)
            return values[encoded.indices.fill_null(len(encoded.dictionary)).to_numpy()].tolist()
    return array.to_pylist()


def sqlite_storage(name: str, table: pa.Table) -> pa.Table:
    """The values SQLAlchemy would store on SQLite for these canonical columns."""
    kinds = column_kinds(name)
    arrays = []
    for field, array in zip(table.schema, table.columns):
        array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
        kind = kinds[field.name]
        if kind == "timestamp":
            array = col.sqlite_timestamp_text(array)
        elif kind == "date":
            array = col.sqlite_date_text(array)
        elif kind == "money":
            array = pc.cast(array, pa.string())
        elif kind == "decimal":  # plain Numeric: SQLAlchemy binds a float on SQLite
            array = pc.cast(pc.cast(array, pa.string()), pa.float64())  # correctly rounded, like float(str(d))
        elif kind in ("bool", "int"):
            array = pc.cast(array, pa.int64())
        arrays.append(array)
    return pa.Table.from_arrays(arrays, names=table.column_names)


class PostgresWriter(_AdbcWriter):
    placeholder = staticmethod(lambda i: f"${i + 1}")

    def __init__(self, uri: str, *, bulk: bool):
        import adbc_driver_postgresql.dbapi as pg_adbc

        self.bulk = bulk
        self._done = False
        self.conn = pg_adbc.connect(uri)  # not autocommit: one transaction until commit()
        self._check_row_security()
        self._restore: list[str] = []
        self._restore_fks: list[str] = []
        self.timings: dict[str, float] = {}
        self.change_number = self._execute(_PG_CHANGE)[0][0]
        if bulk:
            self._execute("SET LOCAL maintenance_work_mem = '512MB'")
            self._drop_for_bulk()

    def _check_row_security(self) -> None:
        """Row-level security hides other tenants' rows (and TRUNCATE ignores it): generating needs a
        role that bypasses it, like migrations and extraction. Refuse clearly otherwise."""
        (bypass,) = self._execute("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")[0]
        protected = self._execute("SELECT count(*) FROM pg_class WHERE oid = 'organizations'::regclass "
                                  "AND relrowsecurity")[0][0]
        if protected and not bypass:
            self.conn.close()
            self.conn = None
            raise AuditoryxError("the generator must connect as a role that bypasses row-level security "
                                 "(a superuser or BYPASSRLS role, as for migrations and extraction)")

    def _truncate(self) -> None:
        self._execute(f"TRUNCATE {', '.join(('organizations', *TENANT_TABLES))}")

    def _drop_for_bulk(self) -> None:
        tables = list(TENANT_TABLES)
        marks = _in_list(len(tables), self.placeholder)
        foreign = self._execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            f"WHERE contype = 'f' AND conrelid::regclass::text IN ({marks}) ORDER BY 1, 2", tables)
        referenced = {row[0] for row in self._execute(
            "SELECT DISTINCT confrelid::regclass::text FROM pg_constraint WHERE contype = 'f'")}
        for table, name, definition in foreign:
            self._execute(f"ALTER TABLE {_ident(table)} DROP CONSTRAINT {_ident(name)}")
            self._restore_fks.append(f"ALTER TABLE {_ident(table)} ADD CONSTRAINT {_ident(name)} {definition}")
        if BULK_TABLE not in referenced:
            for name, definition in self._execute(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE contype IN ('p', 'u') AND conrelid = $1::regclass ORDER BY 1", [BULK_TABLE]):
                self._execute(f"ALTER TABLE {BULK_TABLE} DROP CONSTRAINT {_ident(name)}")
                self._restore.append(f"ALTER TABLE {BULK_TABLE} ADD CONSTRAINT {_ident(name)} {definition}")
        for name, definition in self._execute(
                "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                "WHERE x.indrelid = $1::regclass AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) ORDER BY 1", [BULK_TABLE]):
            self._execute(f"DROP INDEX {_ident(name)}")
            self._restore.append(definition)

    def write(self, name: str, table: pa.Table) -> None:
        table = stamped(table, self.change_number)
        kinds = column_kinds(name)
        arrays = [pa.ExtensionArray.from_storage(pa.json_(), a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a)
                  if kinds[f.name] == "json" else a for f, a in zip(table.schema, table.columns)]
        self._ingest(name, pa.Table.from_arrays(arrays, names=table.column_names))

    def commit(self) -> None:
        started = time.monotonic()
        for statement in self._restore:
            self._execute(statement)
        self.timings["indexes"] = time.monotonic() - started
        started = time.monotonic()
        for statement in self._restore_fks:
            self._execute(statement)
        self.timings["foreign keys"] = time.monotonic() - started
        started = time.monotonic()
        self.conn.commit()
        self._done = True
        self.timings["commit"] = time.monotonic() - started
        started = time.monotonic()  # fresh statistics: the planner must see the new rows (and indexes)
        self._execute(f"ANALYZE {', '.join(('organizations', *TENANT_TABLES))}")
        self.conn.commit()
        self.timings["analyze"] = time.monotonic() - started


def _ident(name: str) -> str:
    if name.startswith('"') and name.endswith('"'):
        return name
    return '"' + name.replace('"', '""') + '"'


class SqlAlchemyWriter(Writer):
    """Portable and exact, row by row through SQLAlchemy Core (the reference for the fast paths)."""

    def __init__(self, engine: Engine, *, bulk: bool):
        self.bulk = bulk
        self.connection = engine.connect()
        self.transaction = self.connection.begin()

    def replace_tenants(self, slugs: Sequence[str]) -> None:
        ids = list(self.connection.scalars(select(Organization.id).where(Organization.slug.in_(list(slugs)))))
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            for name in reversed(TENANT_TABLES):
                table = sa_table(name) if name in TABLE_ORDER else Base.metadata.tables[name]
                self.connection.execute(delete(table).where(table.c.org_id.in_(part)))
            self.connection.execute(delete(Organization).where(Organization.id.in_(part)))

    def write(self, name: str, table: pa.Table) -> None:
        json_columns = [c for c, kind in column_kinds(name).items() if kind == "json"]
        rows = table.to_pylist()
        for row in rows:
            for column in json_columns:
                if row[column] is not None:
                    row[column] = json.loads(row[column])
        for start in range(0, len(rows), 5000):
            self.connection.execute(insert(sa_table(name)), rows[start:start + 5000])

    def commit(self) -> None:
        self.transaction.commit()

    def close(self) -> None:
        if self.transaction.is_active:
            self.transaction.rollback()
        self.connection.close()
