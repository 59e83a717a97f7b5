"""Read operational tables for a group of tenants as Arrow tables (ADBC for SQLite/PostgreSQL; no
row loops). One query covers many tenants. SQLite: ``org_id IN (...)``, or one ``org_id = ? AND
change_number >= ?`` term per tenant for incremental reads, all values bound as parameters.
PostgreSQL: the tenants and their watermarks are loaded into a temporary table of the session
(``SCOPE_TABLE``, by ADBC's bulk ingest) and the read joins it, with no parameters of its own, so
that the driver streams its result through ``COPY`` in batches (``stream_tenants``): a
parameterized statement's result would arrive whole (1.2M rows of one tenant held at once). A
read-only server (a standby) refuses the temporary table: reads from it are parameterized and
arrive whole, as before.

Change numbers (migration 0006) are written by the database in the writing transaction;
``change_bound`` is the number every row still to commit will carry at least (PostgreSQL: the
oldest running transaction's id; SQLite: the counter's committed value + 1).

SQLite columns are read as text (SQLite's dynamic typing would otherwise confuse type inference)
and typed exactly by DuckDB against the raw contract; PostgreSQL columns arrive natively typed,
except JSON and NUMERIC, which the server renders as text (ADBC's own NUMERIC conversion costs
more client time than the rest of the row). Other SQLAlchemy URLs fall back to a SQLAlchemy fetch.
"""
from __future__ import annotations

import queue
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence
from urllib.parse import quote

import pyarrow as pa
from sqlalchemy.engine import make_url

from ingestion.raw_schema import CHANGE_COLUMN, RAW_TABLES, TENANT_COLUMN
from ingestion.sqlite_child import SqliteChildReader

# PostgreSQL: large Arrow batches (DuckDB inserts few large batches much faster than many small ones)
_PG_BATCH_BYTES = {"adbc.postgresql.batch_size_hint_bytes": str(256 << 20)}
# a read-only server (a hot standby, default_transaction_read_only) refuses the scope table
_READ_ONLY_TRANSACTION = "25006"
# streamed reads: batches small enough that a piece of ``piece_rows`` rows is a few of them
_PG_STREAM_BATCH_BYTES = {"adbc.postgresql.batch_size_hint_bytes": str(16 << 20)}


def _quote(name: str) -> str:
    return f'"{name}"'


class OperationalReader:
    """Open connections to the operational database (up to ``connections``, opened as reads need
    them), reading tables for groups of tenants; ``read_tenants`` may be called from several
    threads at once, each read on a connection of its own."""

    def __init__(self, url: str, connections: int = 2):
        self.url = make_url(url)
        self.backend = self.url.get_backend_name()
        self.connections = max(1, connections) if self.backend in ("sqlite", "postgresql") else 1
        self._open: list = []
        self._idle: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._entered = False
        self._scope_tables = True  # PostgreSQL: False once the server refused a temporary table

    def __enter__(self) -> "OperationalReader":
        self._entered = True
        self._idle.put(self._connect())
        return self

    def _connect(self):
        if self.backend == "sqlite":
            # read-only, in a child process (see ingestion/sqlite_child.py for why)
            uri = f"file:{quote(str(Path(self.url.database).resolve()))}?mode=ro"
            conn = SqliteChildReader(uri)
        elif self.backend == "postgresql":
            import adbc_driver_postgresql.dbapi as pg_adbc

            uri = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
            conn = pg_adbc.connect(uri)
        else:
            from sqlalchemy import create_engine

            conn = create_engine(self.url)
        self._open.append(conn)
        return conn

    @contextmanager
    def _connection(self):
        if not self._entered:
            raise RuntimeError("use the reader as a context manager (open_operational)")
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            with self._lock:
                conn = self._connect() if len(self._open) < self.connections else None
            if conn is None:
                conn = self._idle.get()
        try:
            yield conn
        finally:
            self._idle.put(conn)

    def __exit__(self, *exc) -> None:
        for conn in self._open:
            if hasattr(conn, "dispose"):
                conn.dispose()
            else:
                conn.close()
        self._open, self._idle, self._entered = [], queue.SimpleQueue(), False

    def _select_list(self, table: str) -> str:
        parts = []
        for column, sql_type in RAW_TABLES[table].items():
            quoted = _quote(column)
            if self.backend == "sqlite" and sql_type not in ("INTEGER", "BIGINT"):
                parts.append(f"CAST({quoted} AS TEXT) AS {quoted}")
            elif self.backend == "postgresql" and (sql_type == "JSON" or sql_type.startswith("DECIMAL")):
                parts.append(f"CAST({quoted} AS TEXT) AS {quoted}")
            else:
                parts.append(quoted)
        return ", ".join(parts)

    def tenant_ids(self) -> list[str]:
        """Active tenants; a deactivated tenant is treated as gone."""
        table = self._fetch("SELECT id FROM organizations WHERE is_active ORDER BY id", [])
        return [str(value) for value in table.column("id").to_pylist()]

    def change_bound(self) -> int:
        """A change number that every row version not committed yet will reach at least: take it
        before reading, and the next incremental read from it misses nothing that commits later.

        PostgreSQL numbers rows by their transaction's id; ids are handed out in increasing order
        but transactions commit in any order, so the bound is the oldest one still running
        (``pg_snapshot_xmin``), not the highest number seen. SQLite runs one writer at a time: the
        counter's committed value + 1."""
        from operational.tenants import change_bound_sql

        values = self._fetch(change_bound_sql(self.backend), []).column("bound").to_pylist()
        if not values or values[0] is None:
            raise RuntimeError("the operational database has no change counter: upgrade it (auditoryx init)")
        return int(values[0])

    def deletions_horizon(self) -> int:
        """``change_deletions`` rows numbered below this were pruned (migration 0008): a watermark
        below it cannot rely on the deletions read from it."""
        values = self._fetch("SELECT pruned_below FROM change_deletions_horizon WHERE id = 1", []) \
            .column("pruned_below").to_pylist()
        return int(values[0]) if values and values[0] is not None else 0

    def newest_change(self) -> int | None:
        """The highest change number in the source, over every table extraction reads and
        ``change_deletions`` (None when no row has one): one index lookup per table (the
        ``change_number`` indexes of migration 0007). When it is below every watermark, no row
        was written or deleted since the last extraction."""
        parts = [f"SELECT max({CHANGE_COLUMN}) AS newest FROM {_quote(table)}" for table in RAW_TABLES]
        parts.append(f"SELECT max({CHANGE_COLUMN}) AS newest FROM change_deletions")
        values = self._fetch(f"SELECT max(newest) AS newest FROM ({' UNION ALL '.join(parts)}) AS tables",
                             []).column("newest").to_pylist()
        return None if not values or values[0] is None else int(values[0])

    def read(self, table: str, tenant_id: str, since: int | None = None) -> pa.Table:
        """Rows of one table for one tenant; with ``since``, only rows numbered at or above it."""
        return self.read_tenants(table, [tenant_id], None if since is None else [since])

    def read_deletions(self, tenant_ids: Sequence[str], since: int) -> pa.Table:
        """Rows deleted from the source for these tenants with a change number at or above
        ``since``: ``table_name``, ``id``, ``org_id``, ``change_number``."""
        if not tenant_ids:
            raise ValueError("no tenants to read")
        params: list = [*tenant_ids, since]
        marks = ", ".join(self._placeholder(i + 1) for i in range(len(tenant_ids)))
        return self._fetch("SELECT table_name, row_id AS id, org_id, change_number FROM change_deletions "
                           f"WHERE org_id IN ({marks}) AND change_number >= {self._placeholder(len(params))}",
                           params)

    def analyze(self, tables: Sequence[str]) -> None:
        """PostgreSQL: fresh planner statistics for these tables (after bulk changes, nightly); a
        role that may not analyze a table gets a warning from the server, not an error."""
        for table in tables:
            if table not in RAW_TABLES:
                raise KeyError(table)
        if self.backend != "postgresql" or not tables:
            return
        with self._connection() as conn:
            cursor = conn.cursor()
            try:
                cursor.execute(f"ANALYZE {', '.join(_quote(t) for t in tables)}")
            finally:
                cursor.close()
            conn.commit()

    def read_tenants(self, table: str, tenant_ids: Sequence[str],
                     since: Sequence[int | None] | None = None,
                     rows: tuple[int, int] | None = None) -> pa.Table:
        """Rows of one table for several tenants in one query. ``since`` (one change number per
        tenant, in the same order) restricts each tenant to rows numbered at or above it (all its
        rows for None). ``rows`` (one of ``row_ranges``) reads only that
        stretch of the table, scanning it in storage order instead of going through the tenant
        index: cheaper when the tenants hold most of the table."""
        if self.backend != "postgresql":
            return self._fetch(*self.tenants_query(table, tenant_ids, since, rows))
        if rows is not None:
            raise ValueError("row ranges are read from SQLite only")
        pieces = list(self._read_postgres(table, tenant_ids, since, piece_rows=None))
        return pa.concat_tables(pieces) if len(pieces) > 1 else pieces[0]

    def stream_tenants(self, table: str, tenant_ids: Sequence[str],
                       since: Sequence[int | None] | None = None,
                       rows: tuple[int, int] | None = None,
                       piece_rows: int = 250_000) -> Iterator[pa.Table]:
        """``read_tenants`` in consecutive pieces of about ``piece_rows`` rows (none for an empty
        result). On PostgreSQL the statement's result is streamed (one snapshot, as
        ``read_tenants``): a tenant of a million rows never sits in memory whole. Elsewhere the
        result is read whole (SQLite's large reads are already bounded by ``row_ranges``) and
        handed over as one piece."""
        if self.backend == "postgresql":
            if rows is not None:
                raise ValueError("row ranges are read from SQLite only")
            for piece in self._read_postgres(table, tenant_ids, since, piece_rows):
                if piece.num_rows:
                    yield piece
            return
        data = self._fetch(*self.tenants_query(table, tenant_ids, since, rows))
        if data.num_rows:
            yield data

    # PostgreSQL reads name their tenants (and watermarks) in a temporary table of the session,
    # loaded before each read, so that the read itself has no parameters: the driver then
    # streams it with COPY (a parameterized statement's result arrives whole, and ~2× slower).
    # One index scan per tenant (the LATERAL subquery, kept apart by OFFSET 0), as with values.
    SCOPE_TABLE = "auditoryx_read_scope"
    SCOPE_TABLE_DDL = f"CREATE TEMPORARY TABLE IF NOT EXISTS {SCOPE_TABLE} (tenant_id TEXT NOT NULL, since BIGINT)"

    def scope_query(self, table: str, with_since: bool) -> str:
        """PostgreSQL: the read of ``table`` for the tenants of the session's scope table, each
        from its ``since`` (``with_since``) or whole."""
        if table not in RAW_TABLES:
            raise KeyError(table)
        since = f" AND {_quote(CHANGE_COLUMN)} >= scope.since" if with_since else ""
        return (f"SELECT picked.* FROM {self.SCOPE_TABLE} AS scope CROSS JOIN LATERAL ("
                f"SELECT {self._select_list(table)} FROM {_quote(table)} "
                f"WHERE {_quote(TENANT_COLUMN[table])} = scope.tenant_id{since} OFFSET 0) AS picked")

    def _read_postgres(self, table: str, tenant_ids: Sequence[str], since: Sequence[int | None] | None,
                       piece_rows: int | None) -> Iterator[pa.Table]:
        """Pieces of ``piece_rows`` rows (None: each statement's result at once); the tenants read
        whole and those read from a watermark go in two statements when a read mixes them."""
        self.tenants_query(table, tenant_ids, since)  # the same checks as every backend's
        whole = [t for i, t in enumerate(tenant_ids) if since is None or since[i] is None]
        numbered = [(t, int(s)) for t, s in zip(tenant_ids, since or []) if s is not None]
        parts = [(whole, None), ([t for t, _ in numbered], [s for _, s in numbered])]
        with self._connection() as conn:
            for ids, marks in (part for part in parts if part[0]):
                cursor = conn.cursor()
                try:
                    if not (self._scope_tables and self._load_scope(conn, cursor, ids, marks)):
                        # a read-only server (a standby): parameterized, the result whole
                        yield self._fetch_postgres(conn, *self.tenants_query(table, ids, marks))
                        continue
                    cursor.adbc_statement.set_options(**_PG_STREAM_BATCH_BYTES)
                    cursor.execute(self.scope_query(table, marks is not None))
                    if piece_rows is None:
                        yield cursor.fetch_arrow_table()
                        continue
                    stream = cursor.fetch_record_batch()
                    pending = pa.Table.from_batches([], schema=stream.schema)
                    for batch in stream:
                        pending = pa.concat_tables([pending, pa.Table.from_batches([batch])])
                        while pending.num_rows >= piece_rows:
                            yield pending.slice(0, piece_rows)
                            pending = pending.slice(piece_rows)
                    yield pending
                finally:
                    cursor.close()
                    conn.rollback()  # the scope table's rows were for this read only: no transaction stays open

    def _load_scope(self, conn, cursor, ids: list[str], marks: list[int] | None) -> bool:
        """Fill the session's scope table with one read's tenants (and watermarks); False when
        the server refuses a temporary table (read-only: a standby), remembered for later reads."""
        try:
            cursor.execute(self.SCOPE_TABLE_DDL)
        except Exception as error:  # noqa: BLE001 - only a read-only server is handled here
            if getattr(error, "sqlstate", None) != _READ_ONLY_TRANSACTION:
                raise
            conn.rollback()
            self._scope_tables = False
            return False
        cursor.execute(f"TRUNCATE {self.SCOPE_TABLE}")
        scope = pa.table({"tenant_id": pa.array(ids, pa.string()),
                          "since": pa.array(marks or [None] * len(ids), pa.int64())})
        cursor.adbc_ingest(self.SCOPE_TABLE, scope, mode="append", temporary=True)
        cursor.execute(f"ANALYZE {self.SCOPE_TABLE}")  # the planner sees how few tenants
        return True

    def tenants_query(self, table: str, tenant_ids: Sequence[str], since: Sequence[int | None] | None = None,
                      rows: tuple[int, int] | None = None) -> tuple[str, list]:
        """The SQL and parameters of ``read_tenants`` on SQLite and other backends (PostgreSQL
        reads go through ``scope_query``, but on a read-only server)."""
        if table not in RAW_TABLES:
            raise KeyError(table)
        if not tenant_ids:
            raise ValueError("no tenants to read")
        if since is not None and len(since) != len(tenant_ids):
            raise ValueError("one watermark per tenant")
        tenant = _quote(TENANT_COLUMN[table])
        params: list = []

        def bind(value) -> str:
            params.append(value)
            return self._placeholder(len(params))

        if since is None and rows is not None:
            if self.backend != "sqlite":
                raise ValueError("row ranges are read from SQLite only")
            # unary + keeps SQLite off the tenant index: a sequential scan of the rowid range
            where = (f"+{tenant} IN ({', '.join(bind(t) for t in tenant_ids)}) "
                     f"AND rowid >= {bind(rows[0])} AND rowid < {bind(rows[1])}")
        elif since is None:
            where = f"{tenant} IN ({', '.join(bind(t) for t in tenant_ids)})"
        else:
            changed = _quote(CHANGE_COLUMN)
            where = " OR ".join(
                f"({tenant} = {bind(t)})" if s is None
                else f"({tenant} = {bind(t)} AND {changed} >= {bind(int(s))})"
                for t, s in zip(tenant_ids, since))
        return f"SELECT {self._select_list(table)} FROM {_quote(table)} WHERE {where}", params

    def row_ranges(self, tables: Sequence[str], rows: int) -> dict[str, list[tuple[int, int]]]:
        """Per table (SQLite; none elsewhere), consecutive ``[start, end)`` rowid ranges of about
        ``rows`` rows covering the whole table, for ``read_tenants(..., rows=...)``: every
        table's bounds in one round trip."""
        tables = list(dict.fromkeys(tables))
        for table in tables:
            if table not in RAW_TABLES:
                raise KeyError(table)
        if self.backend != "sqlite" or not tables:
            return {}
        sql = " UNION ALL ".join(
            f"SELECT {index} AS number, min(rowid) AS low, max(rowid) AS high FROM {_quote(table)}"
            for index, table in enumerate(tables))
        try:
            bounds = self._fetch(sql, []).to_pylist()
        except RuntimeError:  # e.g. a WITHOUT ROWID table: read by tenant
            return {}
        ranges = {}
        for row in bounds:
            low, high = row["low"], row["high"]
            ranges[tables[row["number"]]] = [] if low is None else [
                (start, min(start + rows, high + 1)) for start in range(low, high + 1, rows)]
        return ranges

    def _placeholder(self, number: int) -> str:
        return {"sqlite": "?", "postgresql": f"${number}"}.get(self.backend, f":p{number}")

    def _fetch(self, sql: str, params: list) -> pa.Table:
        with self._connection() as conn:
            if self.backend == "sqlite":
                return conn.fetch(sql, params)
            if self.backend == "postgresql":
                return self._fetch_postgres(conn, sql, params)
            return self._fetch_sqlalchemy(conn, sql, params)

    @staticmethod
    def _fetch_postgres(conn, sql: str, params: list) -> pa.Table:
        cursor = conn.cursor()
        try:
            cursor.adbc_statement.set_options(**_PG_BATCH_BYTES)
            cursor.execute(sql, params or None)
            return cursor.fetch_arrow_table()
        finally:
            cursor.close()

    def _fetch_sqlalchemy(self, engine, sql: str, params: list) -> pa.Table:
        from sqlalchemy import text

        bound = {f"p{i + 1}": value for i, value in enumerate(params)}
        with engine.connect() as conn:
            result = conn.execute(text(sql), bound)
            columns = list(result.keys())
            rows = result.fetchall()
        return pa.table({name: [str(row[i]) if row[i] is not None else None for row in rows]
                         for i, name in enumerate(columns)})


@contextmanager
def open_operational(url: str) -> Iterator[OperationalReader]:
    with OperationalReader(url) as reader:
        yield reader
