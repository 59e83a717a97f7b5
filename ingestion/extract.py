"""Operational database → DuckDB raw tables, per tenant, in one transaction per extraction.

Two modes:
- ``incremental`` (default): per tenant × table, read the rows whose change number (written by
  the database in the writing transaction, migration 0006) is at or above the tenant × table's
  watermark, and upsert them by primary key; rows deleted since (``change_deletions``, same rule)
  leave. The watermark is the source's change bound taken *before* the previous extraction read
  anything (``OperationalReader.change_bound``): every row committed later carries a number at or
  above it, whatever its ``updated_at`` and whatever order transactions commit in. Rows read
  twice (committed while the previous extraction ran) are compared, not counted as changes. A
  tenant × table without a change-number watermark (seen for the first time, or an old build
  database whose watermarks were timestamps) is copied whole (its rows are deleted, then
  appended: no per-row upsert).
- ``full``: replace each selected tenant's rows whole. This is the key reconciliation (it also
  catches deletes no trigger recorded: TRUNCATE, rows removed before migration 0006). Run it on a
  schedule (nightly) or with ``auditoryx refresh --full``; on PostgreSQL it refreshes the planner's
  statistics (``ANALYZE``) of the source tables first.
With no tenant list, tenants that are gone or deactivated in the source leave every raw table.
Re-running with unchanged sources changes nothing. Each read covers many tenants of one table
(see ``_ReadPlan``), not one tenant × table.
"""
from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Literal

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ingestion.operational_source import OperationalReader
from ingestion.read_ahead import read_ahead
from ingestion.raw_schema import RAW_TABLES, TENANT_COLUMN, raw_table_name
from warehouse.build_db import ensure_raw_tables, quote_identifier, rollback_quietly
from warehouse.pending import record_changed_rows

Mode = Literal["incremental", "full"]

WATERMARKS_DDL = """
CREATE TABLE IF NOT EXISTS ingestion_watermarks (
    tenant_id VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    change_number BIGINT,
    extracted_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, table_name)
)
"""
# build databases from before change numbers: their timestamp watermarks (column ``watermark``)
# are ignored; a NULL change number means "read whole once"
WATERMARKS_UPGRADE = "ALTER TABLE ingestion_watermarks ADD COLUMN IF NOT EXISTS change_number BIGINT"


@dataclass
class ExtractionResult:
    tenant_ids: list[str]
    mode: str = "incremental"
    rows: dict[str, int] = field(default_factory=dict)  # table → rows read and upserted
    deleted: dict[str, int] = field(default_factory=dict)  # table → raw rows removed as deleted in the source
    removed_tenants: list[str] = field(default_factory=list)
    whole_tenants: set[str] = field(default_factory=set)  # read whole in some table: any row may have changed
    tables_written: dict[str, set[str]] = field(default_factory=dict)  # tenant → tables with new or changed rows
    bound: int | None = None  # the change bound the tenants were read from (None: nothing read)

    def changed_tables(self) -> dict[str, set[str]]:
        """Tenant → the raw tables whose rows changed for it (possibly none), for the tenants
        read from their watermarks only; tenants read whole or removed are left out (any table)."""
        removed = set(self.removed_tenants)
        return {tenant: set(self.tables_written.get(tenant, ())) for tenant in self.tenant_ids
                if tenant not in self.whole_tenants and tenant not in removed}


def _typed_column(name: str, sql_type: str, arrow_type: pa.DataType) -> str:
    column = quote_identifier(name)
    if sql_type == "TIMESTAMPTZ" and (pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)):
        # naive UTC text (SQLite): parsed as TIMESTAMP, then taken as UTC — the same instant as
        # CAST(... AS TIMESTAMPTZ) under TimeZone 'UTC', at a third of the cost (no ICU calendar)
        return f"make_timestamptz(epoch_us(CAST({column} AS TIMESTAMP))) AS {column}"
    return f"CAST({column} AS {sql_type}) AS {column}"


def _typed_select(table: str, schema: pa.Schema) -> str:
    return ", ".join(_typed_column(c, t, schema.field(c).type) for c, t in RAW_TABLES[table].items())


# Arrow tables are handed to DuckDB by name through its replacement scan of the calling function's
# local variables (``_incoming``, ``_compared``, ...), not with ``register()``: inside the one
# transaction an extraction writes in, a registered table stayed referenced after ``unregister()``
# until the connection closed (10M bookings: 5.2 GB held, every read of the run).


def _insert_incoming(conn: duckdb.DuckDBPyConnection, table: str, data: pa.Table) -> None:
    """Insert Arrow rows into a raw table, typed by the contract (DuckDB casts, never Python)."""
    _incoming = data  # noqa: F841 - read by name in the statement
    conn.execute(f"INSERT INTO {raw_table_name(table)} SELECT {_typed_select(table, data.schema)} FROM _incoming")


# Reads cover many tenants at once, sized from the rows per tenant seen so far in the same table:
# the first read of a table takes a few tenants, later ones aim at about ROWS_PER_READ rows (few
# large statements on both sides; memory stays bounded; reading overlaps writing). Tenants that
# hold most of a table and are read whole go by row ranges instead, where the source has them
# (SQLite rowids): a sequential scan costs far less than a lookup per row through the tenant index.
FIRST_READ_TENANTS = 4
# DuckDB's row group size (the build database is created with the default). Rows appended in
# one statement that end in a partial row group leave it partial: the next statement starts a new
# one, and the checkpoint after the commit then rewrites runs of them (10M bookings appended 250,000
# at a time: 5-10 s of the commit; in multiples of the row group size: 0.06 s).
ROW_GROUP_ROWS = 122_880
ROWS_PER_READ = 2 * ROW_GROUP_ROWS
MAX_TENANTS_PER_READ = 200  # bound parameters (and OR terms) per statement
SCAN_SHARE = 0.5  # share of the active tenants from which whole reads scan row ranges
MAX_TENANTS_PER_SCAN = 30_000  # bound parameters per statement (SQLite allows 32,766)


@dataclass(frozen=True)
class _Read:
    table: str
    tenant_ids: tuple[str, ...]
    since: tuple[int | None, ...] | None  # change numbers; None: the tenants' rows whole, replacing theirs
    rows: tuple[int, int] | None = None  # a row range of the source table (whole reads only)


@dataclass
class _Group:
    table: str
    tenant_ids: list[str]
    since: list[int | None] | None = None
    ranges: list[tuple[int, int]] | None = None


class _ReadPlan:
    """Per table, the tenants read whole and those read from their watermark, cut into reads.
    Reader threads take reads (``next``) and report their size (``record``) concurrently."""

    def __init__(self, groups: list[_Group]):
        self._groups = [group for group in groups if group.tenant_ids and group.ranges != []]
        self._seen: dict[tuple[str, bool], tuple[int, int]] = {}  # (table, whole) → (tenants, rows)
        self._open: dict[str, int] = {}  # table → reads taken and not yet finished
        self._lock = threading.Lock()

    def record(self, read: _Read, rows: int) -> None:
        key = (read.table, read.since is None)
        with self._lock:
            tenants, total = self._seen.get(key, (0, 0))
            self._seen[key] = (tenants + len(read.tenant_ids), total + rows)

    def finished(self, read: _Read) -> bool:
        """Mark a read as written; True when it was the table's last."""
        with self._lock:
            self._open[read.table] -= 1
            return not self._open[read.table] and all(group.table != read.table for group in self._groups)

    def next(self) -> _Read | None:
        with self._lock:
            read = self._take()
            if read is not None:
                self._open[read.table] = self._open.get(read.table, 0) + 1
            return read

    def _take(self) -> _Read | None:
        if not self._groups:
            return None
        group = self._groups[0]
        if group.ranges is not None:
            read = _Read(group.table, tuple(group.tenant_ids), None, group.ranges.pop(0))
            if not group.ranges:
                self._groups.pop(0)
            return read
        seen_tenants, seen_rows = self._seen.get((group.table, group.since is None), (0, 0))
        if not seen_tenants:
            size = FIRST_READ_TENANTS
        else:
            size = int(ROWS_PER_READ * seen_tenants / max(seen_rows, 1))
        size = max(1, min(size, MAX_TENANTS_PER_READ))
        since = None if group.since is None else tuple(group.since[:size])
        read = _Read(group.table, tuple(group.tenant_ids[:size]), since)
        del group.tenant_ids[:size]
        if group.since is not None:
            del group.since[:size]
        if not group.tenant_ids:
            self._groups.pop(0)
        return read


def _replace_changed(conn: duckdb.DuckDBPyConnection, table: str, data: pa.Table, now: dt.datetime) -> set[str]:
    """Record the incoming rows that are new or differ from the raw row they replace as changed
    rows (warehouse/pending.py), delete the raw rows they replace and return the changed rows'
    tenants. (Reads from a watermark also return rows committed while the previous extraction
    ran, which it may have read already.) One scan of the raw table finds the replaced rows; new
    rows, the usual case, replace none and delete nothing."""
    raw = raw_table_name(table)
    tenant_column = quote_identifier(TENANT_COLUMN[table])
    _compared = data  # noqa: F841 - read by name in the statements
    conn.execute(f"CREATE OR REPLACE TEMP TABLE _replaced AS SELECT * FROM {raw} "
                 "WHERE id IN (SELECT CAST(id AS VARCHAR) FROM _compared)")
    conn.execute(f"""
        CREATE OR REPLACE TEMP TABLE _changed_rows AS
        SELECT DISTINCT {tenant_column} AS tenant_id, id FROM (
            SELECT {_typed_select(table, data.schema)} FROM _compared
            EXCEPT
            SELECT * FROM _replaced
        )""")
    record_changed_rows(conn, table, "_changed_rows", now)
    tenants = {row[0] for row in conn.execute("SELECT DISTINCT tenant_id FROM _changed_rows").fetchall()}
    if conn.execute("SELECT count(*) FROM _replaced").fetchone()[0]:
        conn.execute(f"DELETE FROM {raw} WHERE id IN (SELECT id FROM _replaced)")
    conn.execute("DROP TABLE _changed_rows")
    conn.execute("DROP TABLE _replaced")
    return tenants


def _write(conn: duckdb.DuckDBPyConnection, read: _Read, data: pa.Table, now: dt.datetime) -> set[str]:
    """Rows read from a watermark: the changed ones replace their previous version and are
    recorded; returns the tenants whose rows changed. (Tenants read whole go through
    ``AlignedAppends``.)"""
    if not data.num_rows:
        return set()
    if data.column("id").num_chunks > 1:
        data = data.combine_chunks()  # DuckDB inserts one large batch in parallel, many serially
    changed = _replace_changed(conn, read.table, data, now)
    _insert_incoming(conn, read.table, data)
    return changed


def aligned_split(waiting: int, incoming: int, row_group_rows: int = ROW_GROUP_ROWS) -> int:
    """Of ``waiting`` + ``incoming`` rows, how many to insert now: the largest whole number of
    row groups (0 when there is less than one). Pure."""
    return (waiting + incoming) // row_group_rows * row_group_rows


class AlignedAppends:
    """Rows of tenants read whole (their old rows were deleted up front: nothing to replace),
    appended per table in whole row groups; what is left over waits for the table's next piece,
    or ``flush``. A piece whose Arrow types differ from the waiting rows' (a column NULL in every
    row of one read is typed differently) flushes the waiting rows first. Memory: at most one
    row group's worth waits per table."""

    def __init__(self, conn: duckdb.DuckDBPyConnection):
        self._conn = conn
        self._waiting: dict[str, pa.Table] = {}

    def add(self, table: str, data: pa.Table) -> None:
        if not data.num_rows:
            return
        waiting = self._waiting.pop(table, None)
        if waiting is not None and not waiting.schema.equals(data.schema):
            _insert_incoming(self._conn, table, waiting)
            waiting = None
        held = 0 if waiting is None else waiting.num_rows
        now = aligned_split(held, data.num_rows)
        rows = data if waiting is None else pa.concat_tables([waiting, data])
        if now:
            _insert_incoming(self._conn, table, rows.slice(0, now).combine_chunks())
        if now < rows.num_rows:  # a copy: the piece's buffers are not held by the rest
            self._waiting[table] = rows.slice(now).combine_chunks()

    def flush(self, table: str | None = None) -> None:
        """Insert what waits (for ``table``, or every table)."""
        for name in [table] if table is not None else list(self._waiting):
            waiting = self._waiting.pop(name, None)
            if waiting is not None:
                _insert_incoming(self._conn, name, waiting)


def remove_tenants(conn: duckdb.DuckDBPyConnection, keep: list[str]) -> list[str]:
    """Delete every raw row (and watermark) of tenants not in ``keep``; return the removed ids."""
    present = {row[0] for row in conn.execute("SELECT id FROM raw_organizations").fetchall()}
    removed = sorted(present - set(keep))
    for table in RAW_TABLES:
        column = quote_identifier(TENANT_COLUMN[table])
        conn.execute(f"DELETE FROM {raw_table_name(table)} WHERE NOT list_contains(?, {column})", [keep])
    conn.execute("DELETE FROM ingestion_watermarks WHERE NOT list_contains(?, tenant_id)", [keep])
    return removed


def _stored_watermarks(conn) -> dict[tuple[str, str], int]:
    """(tenant, table) → change-number watermark, for every pair extracted since change numbers."""
    rows = conn.execute("SELECT tenant_id, table_name, change_number FROM ingestion_watermarks "
                        "WHERE change_number IS NOT NULL").fetchall()
    return {(tenant, table): int(number) for tenant, table, number in rows}


def _advance_watermarks(conn, tenant_ids: list[str], table: str, bound: int, now: dt.datetime) -> None:
    """Every extracted tenant's watermark for ``table`` becomes the bound taken before reading."""
    conn.execute(
        """
        INSERT OR REPLACE INTO ingestion_watermarks (tenant_id, table_name, change_number, extracted_at)
        SELECT t.tenant_id, ?, ?, ? FROM unnest(?::VARCHAR[]) AS t(tenant_id)
        """,
        [table, bound, now, tenant_ids],
    )


def _deletions(reader: OperationalReader, watermarks: dict[tuple[str, str], int]) -> dict[str, pa.Table]:
    """Table → (``tenant``, ``id``) of the rows deleted in the source at or after the tenant ×
    table's watermark, for the pairs read from their watermarks. One query per group of tenants
    sharing their lowest watermark (usually every tenant: one group); filtered in Arrow."""
    lowest: dict[str, int] = {}
    for (tenant, _table), number in watermarks.items():
        lowest[tenant] = min(number, lowest.get(tenant, number))
    groups: dict[int, list[str]] = {}
    for tenant, number in lowest.items():
        groups.setdefault(number, []).append(tenant)
    marks = pa.table({"org_id": [tenant for tenant, _ in watermarks], "table_name": [table for _, table in watermarks],
                      "mark": pa.array(list(watermarks.values()), pa.int64())})
    found: dict[str, list[pa.Table]] = {}
    for number, tenants in groups.items():
        for start in range(0, len(tenants), MAX_TENANTS_PER_SCAN):
            gone = reader.read_deletions(tenants[start:start + MAX_TENANTS_PER_SCAN], number)
            if not gone.num_rows:
                continue
            gone = gone.select(["table_name", "id", "org_id"]).append_column(
                "number", pc.cast(gone.column("change_number"), pa.int64())).cast(pa.schema([
                    ("table_name", pa.string()), ("id", pa.string()), ("org_id", pa.string()), ("number", pa.int64())]))
            gone = gone.join(marks, keys=["org_id", "table_name"], join_type="inner")
            gone = gone.filter(pc.greater_equal(gone.column("number"), gone.column("mark")))
            for table in set(gone.column("table_name").to_pylist()):
                rows = gone.filter(pc.equal(gone.column("table_name"), table))
                found.setdefault(table, []).append(
                    pa.table({"tenant": rows.column("org_id"), "id": rows.column("id")}))
    return {table: pa.concat_tables(parts) for table, parts in found.items()}


def _delete_rows(conn: duckdb.DuckDBPyConnection, table: str, gone: pa.Table, now: dt.datetime) -> dict[str, int]:
    """Remove these (``tenant``, ``id``) raw rows and record them as changed rows; return tenant →
    rows removed (tenants that lost one)."""
    tenant_column = quote_identifier(TENANT_COLUMN[table])
    _gone = gone  # noqa: F841 - read by name in the statements
    hit = conn.execute(f"SELECT r.{tenant_column}, count(*) FROM {raw_table_name(table)} r "
                       f"JOIN _gone g ON r.id = g.id AND r.{tenant_column} = g.tenant GROUP BY 1").fetchall()
    if hit:
        conn.execute("CREATE OR REPLACE TEMP TABLE _gone_rows AS SELECT tenant AS tenant_id, id FROM _gone")
        record_changed_rows(conn, table, "_gone_rows", now)
        conn.execute("DROP TABLE _gone_rows")
        conn.execute(f"DELETE FROM {raw_table_name(table)} r USING _gone g "
                     f"WHERE r.id = g.id AND r.{tenant_column} = g.tenant")
    return dict(hit)


def _nothing_changed_since(reader: OperationalReader, conn: duckdb.DuckDBPyConnection, oldest: int,
                           active: list[str] | None) -> bool:
    """No row of the source numbered at or above ``oldest`` (the lowest watermark of the tenants
    to read), no deletion either, and (``active`` given: an all-tenant run) no stored tenant gone:
    an incremental extraction would read nothing. A row written since, or one the previous run
    read while an older transaction was still open (PostgreSQL), takes the normal path."""
    newest = reader.newest_change()
    if newest is not None and newest >= oldest:
        return False
    if active is None:
        return True
    present = {row[0] for row in conn.execute("SELECT id FROM raw_organizations").fetchall()}
    return present <= set(active)


def extract_operational(
    reader: OperationalReader,
    conn: duckdb.DuckDBPyConnection,
    tenant_ids: Iterable[str] | None = None,
    progress: Callable[[str], None] | None = None,
    mode: Mode = "incremental",
) -> ExtractionResult:
    """Bring the raw tables up to date with the source for the given tenants (default: all).

    Reads run ahead in background threads, one per reader connection (source reads and DuckDB
    inserts overlap); everything is written in one DuckDB transaction.
    """
    if mode not in ("incremental", "full"):
        raise ValueError(f"unknown extraction mode: {mode}")
    ensure_raw_tables(conn)
    conn.execute(WATERMARKS_DDL)
    conn.execute(WATERMARKS_UPGRADE)
    if mode == "full":
        reader.analyze(list(RAW_TABLES))
    bound = reader.change_bound()  # before any read: what commits from now on is numbered at or above it
    horizon = reader.deletions_horizon()  # deletions numbered below it were pruned
    active = reader.tenant_ids()
    selected = active if tenant_ids is None else [t for t in tenant_ids if t in set(active)]
    result = ExtractionResult(tenant_ids=selected, mode=mode, rows={table: 0 for table in RAW_TABLES},
                              deleted={table: 0 for table in RAW_TABLES})
    now = dt.datetime.now(dt.timezone.utc)
    watermarks = _stored_watermarks(conn)

    def whole(tenant_id: str, table: str) -> bool:
        # a watermark below the pruning horizon could miss a pruned delete (organizations: none)
        return (mode == "full" or (tenant_id, table) not in watermarks
                or (table != "organizations" and watermarks[(tenant_id, table)] < horizon))

    replaced = {table: [t for t in selected if whole(t, table)] for table in RAW_TABLES}
    result.whole_tenants = {t for tenants in replaced.values() for t in tenants}
    scanned = [table for table, tenants in replaced.items()
               if tenants and SCAN_SHARE * len(active) <= len(tenants) <= MAX_TENANTS_PER_SCAN]
    ranges = reader.row_ranges(scanned, ROWS_PER_READ)
    groups = []
    for table in RAW_TABLES:
        groups.append(_Group(table, replaced[table], ranges=ranges.get(table)))
        changed = [t for t in selected if not whole(t, table)]
        groups.append(_Group(table, changed, since=[watermarks[(t, table)] for t in changed]))
    plan = _ReadPlan(groups)
    incremental = {(t, table): watermarks[(t, table)] for table in RAW_TABLES if table != "organizations"
                   for t in selected if not whole(t, table)}
    if mode == "incremental" and selected and not result.whole_tenants and _nothing_changed_since(
            reader, conn, min(watermarks[(t, table)] for t in selected for table in RAW_TABLES),
            active if tenant_ids is None else None):
        return result  # no read, no write: every watermark stays where it was (still correct)
    deletions = _deletions(reader, incremental) if incremental else {}
    if incremental and min(incremental.values()) < reader.deletions_horizon():
        # pruned while we read (the horizon was below every watermark): start again, reading
        # whole what now lies below the horizon
        return extract_operational(reader, conn, tenant_ids, progress, mode)

    def read(step: _Read) -> Iterator[pa.Table]:
        rows = 0
        for piece in reader.stream_tenants(step.table, list(step.tenant_ids),
                                           None if step.since is None else list(step.since),
                                           rows=step.rows, piece_rows=ROWS_PER_READ):
            rows += piece.num_rows
            yield piece
            del piece  # not held while the next piece is read
        plan.record(step, rows)  # sizes the next reads of the table

    conn.execute("BEGIN TRANSACTION")
    try:
        if tenant_ids is None:
            result.removed_tenants = remove_tenants(conn, active)
        else:  # a requested tenant that is gone or inactive leaves the warehouse too
            gone = [t for t in tenant_ids if t not in set(active)]
            if gone:
                present = [row[0] for row in conn.execute("SELECT id FROM raw_organizations").fetchall()]
                result.removed_tenants = remove_tenants(conn, [t for t in present if t not in gone])
        for table, tenants in replaced.items():  # tenants read whole replace all their rows (key reconciliation)
            if tenants:
                column = quote_identifier(TENANT_COLUMN[table])
                conn.execute(f"DELETE FROM {raw_table_name(table)} WHERE list_contains(?, {column})", [tenants])
        for table, rows in deletions.items():  # before the upserts: a deleted id written again comes back
            for tenant_id, count in _delete_rows(conn, table, rows, now).items():
                result.deleted[table] += count
                result.tables_written.setdefault(tenant_id, set()).add(table)
        # every read is one tenant group of one table: pieces of different reads touch different
        # rows, so the order they are written in does not matter
        appends = AlignedAppends(conn)
        for step, data in read_ahead(plan.next, read, max(1, getattr(reader, "connections", 1)),
                                     thread_name="extract-read"):
            if data is None:
                if plan.finished(step):
                    appends.flush(step.table)
                    if progress:
                        progress(f"extracted {step.table} for {len(selected)} tenants ({mode})")
                continue
            result.rows[step.table] += data.num_rows
            if step.since is None:
                appends.add(step.table, data)
            else:
                for tenant_id in _write(conn, step, data, now):
                    result.tables_written.setdefault(tenant_id, set()).add(step.table)
            del data
        appends.flush()
        for table in RAW_TABLES:
            _advance_watermarks(conn, selected, table, bound, now)
        conn.execute("COMMIT")
        result.bound = bound
    except BaseException as exc:
        rollback_quietly(conn, exc)  # DuckDB may have aborted already: never hide the real error
        raise
    return result
