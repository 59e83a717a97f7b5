"""Read-only, engine-confined access to one tenant's published snapshot.

A reader is an in-memory DuckDB connection that may only touch the tenant's current version
folder (`allowed_directories`, external access off, configuration locked), with one view per
published table. Isolation is enforced by DuckDB itself, not by a WHERE clause; on top of that,
only read statements are accepted.

DuckDB also allows, implicitly, its temp (spill) directory — by default `<cwd>/.tmp/` — even with
external access off, so a reader with the default would read any file planted there. Readers
therefore run with spilling disabled (`temp_directory = ''`), which leaves the tenant's folder as
the only readable place; a query too large for memory fails instead of spilling to disk.

Cost of opening (DuckDB 2.0): creating the in-memory database is most of it (tens of ms: the
catalog of built-in functions), then one view per table (its Parquet footer is read to bind it).
A caller that opens readers often can therefore (a) take blank databases made ahead of need by
a background thread (:func:`keep_connections_warm`; a blank database has never been configured,
touched or given to anyone, and is confined when taken exactly as a new one would be; the
dashboards no longer need them: their pages read the version's files, dashboards/parquet_pages.py),
and (b) open readers with ``lazy_views``: a table's view is created the first time a statement names it, so a page that
reads 2 of 15 tables binds 2 footers. Confinement, read-only checks and the locked configuration
are the same in both modes; lazy readers answer catalog queries (``information_schema``) only
about the views created so far, so readers for analysts stay eager.
"""
from __future__ import annotations

import json
import atexit
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from auditoryx.errors import AuditoryxError
from warehouse.layout import (
    CURRENT_POINTER,
    META_TABLE,
    PLATFORM_DIR,
    PLATFORM_MARTS,
    PUBLISHED_MARTS,
    DamagedPointer,
    platform_dir,
    read_pointer,
    tenant_dir,
    validate_version,
)
from warehouse.mart_catalog import NATURAL_ORDER, natural_order

_READ_STATEMENTS = {duckdb.StatementType.SELECT}
_ARROW_BATCH_ROWS = 131072
_PARSED_LIMIT = 512  # distinct statement texts whose parse is kept (the dashboards use a few dozen)
_parsed: dict[str, duckdb.Statement] = {}
_parsed_lock = threading.Lock()


def _parsed_select(conn: duckdb.DuckDBPyConnection, sql: str, lock: threading.Lock) -> duckdb.Statement:
    """``sql`` parsed, when it is exactly one SELECT (ReadOnlyViolation otherwise). Parses are kept
    per text for every reader (DuckDB 2's parser costs as much as planning a dashboard query): a
    parsed statement holds no data and no connection, and running it copies it."""
    statement = _parsed.get(sql)
    if statement is not None:
        return statement
    with lock:
        statements = conn.extract_statements(sql)
    if len(statements) != 1 or statements[0].type not in _READ_STATEMENTS:
        raise ReadOnlyViolation("snapshot readers accept exactly one SELECT statement")
    with _parsed_lock:
        if len(_parsed) >= _PARSED_LIMIT:
            _parsed.clear()
        _parsed[sql] = statements[0]
    return statements[0]


_ARROW_COPY_WARNING = "Arrow output on a DB-API result"


def _silence_arrow_copy_warning() -> None:
    """DuckDB 2 warns that Arrow from an executed statement is an extra copy of its rows: for a
    dashboard's few rows the copy costs less than the relation's second bind. (Checked on every
    query: test runners reset the warning filters.)"""
    for action, message, category, _module, _line in warnings.filters:
        if action == "ignore" and category is UserWarning and message is not None \
                and message.pattern == _ARROW_COPY_WARNING:
            return
    warnings.filterwarnings("ignore", message=_ARROW_COPY_WARNING, category=UserWarning)


class SnapshotNotFound(AuditoryxError):
    """The tenant has no published snapshot yet."""


class SnapshotDamaged(SnapshotNotFound):
    """Something was published, but the CURRENT pointer is garbage or empty, or names a missing
    or incomplete version folder: "published but unreadable", repaired by the next publish.

    A subclass of SnapshotNotFound so that callers that only wait for a usable snapshot keep
    working; callers that tell the two apart catch this one first."""

    def __init__(self, message: str, *, tenant_id: str, path: Path, version: str | None = None) -> None:
        super().__init__(message)
        self.tenant_id = tenant_id
        self.path = Path(path)
        self.version = version  # what CURRENT names, when it names a valid version


class ReadOnlyViolation(AuditoryxError):
    """Something other than a read statement was sent to a snapshot reader."""


@dataclass
class TenantSnapshot:
    tenant_id: str
    version: str
    folder: Path
    _conn: duckdb.DuckDBPyConnection = field(repr=False)
    tables: tuple[str, ...] = (*PUBLISHED_MARTS, META_TABLE)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # lazy readers: the tables whose view is not created yet (the statement that first names one
    # creates it); empty for eager readers
    _pending: set[str] = field(default_factory=set, repr=False)

    def query(self, sql: str, params: list[Any] | dict[str, Any] | None = None, *,
              many_rows: bool = False) -> pl.DataFrame:
        """Run one read statement with bound parameters; return a Polars frame.

        By default the statement parsed once per text runs (DuckDB 2's parser costs as much as
        planning a dashboard query) and its rows come as Arrow through a copy, cheap for a few
        rows. ``many_rows``: the text runs, parsed again, and its rows come as Arrow without that
        copy (the way a relation's ``.pl()`` ends, without the relation's binds before)."""
        # the reader's own connection serves one call at a time (DuckDB refuses a second one):
        # parsing, creating views and making cursors happen under its lock; statements run on cursors
        statement = _parsed_select(self._conn, sql, self._lock)
        if self._pending:
            self._create_views(sql)
        with self._lock:
            cursor = self._conn.cursor()
        try:
            submit = getattr(cursor, "_submit", None) if many_rows else None
            if submit is not None:
                result = submit(sql, params or None, "arrow", _ARROW_BATCH_ROWS)
                return pl.from_arrow(result.arrow_table(to_polars=True), rechunk=False)
            cursor.execute(statement, params or None)
            _silence_arrow_copy_warning()
            table = cursor.to_arrow_table()
            return pl.DataFrame() if table is None else pl.from_arrow(table, rechunk=False)
        finally:
            cursor.close()

    def _create_views(self, sql: str) -> None:
        """Create the views of the pending tables ``sql`` may name (a superset: any table whose
        name occurs in the text; an extra view costs one footer read, a missing one an error)."""
        text = sql.lower()
        named = [table for table in self._pending if table in text]
        if not named:
            return
        with self._lock:
            for table in named:
                if table in self._pending:
                    _create_view(self._conn, self.folder, table)
                    self._pending.discard(table)

    def meta(self) -> dict[str, Any]:
        row = self.query(f"SELECT * FROM {META_TABLE}").row(0, named=True)
        if isinstance(row.get("row_counts"), str):
            row["row_counts"] = json.loads(row["row_counts"])
        return row

    def close(self) -> None:
        self._conn.close()


def open_tenant_snapshot(published_dir: Path, tenant_id: str, *, optional_tables: tuple[str, ...] = (),
                         lazy_views: bool = False) -> TenantSnapshot:
    """Open the tenant's CURRENT version, confined to its folder (``optional_tables``: also those
    of these tables the version holds; ``lazy_views``: see the module's docstring)."""
    published_dir = Path(published_dir).resolve()
    return _open_current(tenant_dir(published_dir, tenant_id), tenant_id, (*PUBLISHED_MARTS, META_TABLE),
                         f"no published snapshot for tenant {tenant_id}; run `auditoryx refresh`",
                         optional_tables=optional_tables, lazy_views=lazy_views)


def open_platform_snapshot(published_dir: Path) -> TenantSnapshot:
    """The operator's cross-tenant snapshot (never opened for a tenant user)."""
    folder = platform_dir(Path(published_dir).resolve())
    return _open_current(folder, PLATFORM_DIR, (*PLATFORM_MARTS, META_TABLE),
                         "no published platform snapshot; run `auditoryx refresh`")


def _open_current(folder: Path, tenant_id: str, tables: tuple[str, ...], nothing: str, *,
                  optional_tables: tuple[str, ...] = (), lazy_views: bool = False) -> TenantSnapshot:
    """Open the version ``folder/CURRENT`` names: SnapshotNotFound when nothing was ever published
    (no folder or no CURRENT), SnapshotDamaged when it was but cannot be read."""
    pointer = folder / CURRENT_POINTER
    try:
        version = read_pointer(folder)
    except DamagedPointer as error:
        raise SnapshotDamaged(f"tenant {tenant_id}: {error}", tenant_id=tenant_id, path=pointer) from error
    if version is None:
        raise SnapshotNotFound(nothing)
    target = folder / validate_version(version)
    if not target.is_dir():
        raise SnapshotDamaged(f"tenant {tenant_id}: {pointer} names {version}, whose folder {target} is missing",
                              tenant_id=tenant_id, path=target, version=version)
    return open_version_folder(tenant_id, version, target, tables=tables, optional_tables=optional_tables,
                               lazy_views=lazy_views)


def open_version_folder(tenant_id: str, version: str, folder: Path,
                        tables: tuple[str, ...] = (*PUBLISHED_MARTS, META_TABLE), *,
                        optional_tables: tuple[str, ...] = (), lazy_views: bool = False) -> TenantSnapshot:
    """A reader confined to ``folder`` with a view per table of ``tables`` (each must be there:
    SnapshotDamaged otherwise) and per table of ``optional_tables`` the folder holds."""
    folder = folder.resolve()
    for table in tables:
        path = folder / f"{table}.parquet"
        if not path.is_file():
            raise SnapshotDamaged(f"snapshot {version} of tenant {tenant_id} lacks {table} ({path})",
                                  tenant_id=tenant_id, path=folder, version=version)
    present = (*tables, *(t for t in optional_tables if t not in tables and (folder / f"{t}.parquet").is_file()))
    # No spill directory: DuckDB adds its temp directory to the allow-list on its own (see above).
    conn = _POOL.take()
    try:
        conn.execute("SET allowed_directories = ?", [[str(folder) + "/"]])
        conn.execute("SET enable_external_access = false")
        conn.execute("SET lock_configuration = true")
        if not lazy_views:
            for table in present:
                _create_view(conn, folder, table)
    except BaseException:
        conn.close()
        raise
    return TenantSnapshot(tenant_id=tenant_id, version=version, folder=folder, _conn=conn, tables=present,
                          _pending=set(present) if lazy_views else set())


def _create_view(conn: duckdb.DuckDBPyConnection, folder: Path, table: str) -> None:
    """The view ``table`` over its file, rows in the table's natural order (top performers by rank,
    months ascending…)."""
    path = folder / f"{table}.parquet"
    order = NATURAL_ORDER.get(table, ())
    # one statement (the relation API binds the file three times): the path as a literal rendered
    # by DuckDB itself (DDL takes no parameters), the names are the catalog's own
    statement = (f"CREATE VIEW \"{table}\" AS SELECT * FROM read_parquet({duckdb.ConstantExpression(str(path))})"
                 + (" ORDER BY " + ", ".join(f'"{c}"' for c in order) if order else ""))
    try:
        conn.execute(statement)
    except duckdb.BinderException:  # a version whose file lacks an order column: order by those it has
        natural_order(conn.read_parquet(str(path), hive_partitioning=False), table).create_view(table)


def _blank_database() -> duckdb.DuckDBPyConnection:
    """A new in-memory database, spilling disabled (its configuration is completed when taken)."""
    return duckdb.connect(":memory:", config={"temp_directory": ""})


class _BlankDatabases:
    """Blank in-memory databases made ahead of need by a daemon thread (DuckDB releases the GIL
    while it builds one). Empty, hence synchronous, until :meth:`keep_warm` asks for some."""

    REFILL_DELAY = 0.25  # seconds: let the page that took one run its queries first

    def __init__(self) -> None:
        self._ready: list[duckdb.DuckDBPyConnection] = []
        self._lock = threading.Lock()
        self._target = 0
        self._filling: threading.Thread | None = None
        self._exit_hook = False

    def keep_warm(self, count: int) -> None:
        with self._lock:
            self._target = max(0, int(count))
        self._refill()

    def take(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            conn = self._ready.pop() if self._ready else None
        if conn is None:
            conn = _blank_database()
        self._refill()
        return conn

    def drain(self) -> None:
        """Close the ready databases (the next opens pay for theirs again; benchmarks)."""
        with self._lock:
            ready, self._ready = self._ready, []
        for conn in ready:
            conn.close()

    def ready(self) -> int:
        with self._lock:
            return len(self._ready)

    def _refill(self) -> None:
        with self._lock:
            if self._filling is not None or len(self._ready) >= self._target:
                return
            if not self._exit_hook:  # the thread must not be inside DuckDB when the interpreter ends
                atexit.register(self.stop)
                self._exit_hook = True
            self._filling = threading.Thread(target=self._fill, name="auditoryx-blank-duckdb", daemon=True)
            self._filling.start()

    def _fill(self) -> None:
        while True:
            time.sleep(self.REFILL_DELAY)
            with self._lock:
                if len(self._ready) >= self._target:
                    self._filling = None
                    return
            try:
                conn = _blank_database()
            except BaseException:
                with self._lock:
                    self._filling = None
                raise
            with self._lock:
                self._ready.append(conn)

    def stop(self) -> None:
        """Keep none ready any more, wait for the thread, close what is ready."""
        with self._lock:
            self._target = 0
            filling = self._filling
        if filling is not None:
            filling.join(timeout=10)
        self.drain()


_POOL = _BlankDatabases()


def keep_connections_warm(count: int = 2) -> None:
    """Keep ``count`` blank databases ready for the next readers (0: none; the default for every
    process until something asks, e.g. the dashboards)."""
    _POOL.keep_warm(count)


def drain_warm_connections() -> None:
    """Close the blank databases kept ready (so that the next open is a cold one)."""
    _POOL.drain()
