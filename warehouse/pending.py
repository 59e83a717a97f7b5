"""Which tenants' raw data changed since the last successful dbt build ("pending" tenants).

Whoever is about to write raw rows marks the tenants first (``mark_pending``; ``None`` means
every tenant); a successful build clears the marks. A build then needs to look at the pending
tenants only (``build_scope``): the incremental bookings model compares only their rows and the
data tests check only their rows. No mark at all, an "every tenant" mark, or more tenants than
``MAX_SCOPED_TENANTS`` give no scope: the build looks at everything, as it would without marks.

Marks are written before the raw rows (a crash in between leaves a harmless extra mark), in the
build database itself (``main.dbt_pending_tenants``).

A mark may also name the raw table that changed (``EVERY_TABLE``: any of them). Extraction first
marks its tenants for every table, then, once its rows are committed, replaces those marks with
the tables it actually wrote for each tenant (``narrow_marks``; ``NO_TABLE`` for a tenant whose
rows did not change). A build limited to some tenants then builds only what depends on those
tables (``scope_tables``).

Extraction also records which rows it wrote or deleted (``record_changed_rows``, table
``main.dbt_pending_rows``: tenant, raw table, id) in the transaction that writes them, and its
narrowed marks say so (``rows_recorded``). For a tenant whose only changes to a table are such
marks, the pending rows are the complete list of that table's rows that changed since the last
successful build (``rows_known``): the bookings model then looks at those rows only, not at the
tenant's every booking. Any broader mark (every table, a file drop, a quarantine change, a
tenant read whole) leaves the tenant to the tenant-wide comparison.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import duckdb

from warehouse.build_db import build_connection, transaction

PENDING_TABLE = "dbt_pending_tenants"  # in schema main of the build database
PENDING_ROWS_TABLE = "dbt_pending_rows"  # same schema: the rows extraction wrote or deleted
EVERY_TENANT = "*"
EVERY_TABLE = "*"
NO_TABLE = ""  # the tenant was looked at and none of its raw rows changed
MAX_SCOPED_TENANTS = 200  # beyond this, scoping saves little and the literal lists grow long
TENANT_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what dbt's tenant_scope() accepts too

_DDL = (f"CREATE TABLE IF NOT EXISTS main.{PENDING_TABLE} "
        "(tenant_id VARCHAR NOT NULL, marked_at TIMESTAMPTZ NOT NULL, table_name VARCHAR NOT NULL DEFAULT '*')")


_ROWS_DDL = (f"CREATE TABLE IF NOT EXISTS main.{PENDING_ROWS_TABLE} "
             "(tenant_id VARCHAR NOT NULL, table_name VARCHAR NOT NULL, id VARCHAR NOT NULL, "
             "recorded_at TIMESTAMPTZ NOT NULL)")


def _ensure_table(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(_DDL)
    # marks written before table names existed mean every table; before row lists, rows unknown
    conn.execute(f"ALTER TABLE main.{PENDING_TABLE} ADD COLUMN IF NOT EXISTS table_name VARCHAR DEFAULT '*'")
    conn.execute(f"ALTER TABLE main.{PENDING_TABLE} ADD COLUMN IF NOT EXISTS rows_recorded BOOLEAN DEFAULT false")


def ensure_rows_table(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(_ROWS_DDL)


def record_changed_rows(conn: duckdb.DuckDBPyConnection, table: str, rows_relation: str,
                        recorded_at: dt.datetime) -> None:
    """Record the (``tenant_id``, ``id``) pairs of ``rows_relation`` (a relation name or
    parenthesized query the caller builds from trusted names) as changed rows of raw ``table``.
    Call it in the transaction that writes them."""
    ensure_rows_table(conn)
    conn.execute(f"INSERT INTO main.{PENDING_ROWS_TABLE} (tenant_id, table_name, id, recorded_at) "
                 f"SELECT DISTINCT tenant_id, ?, CAST(id AS VARCHAR), ? FROM {rows_relation}",
                 [table, recorded_at])


def mark_pending(conn: duckdb.DuckDBPyConnection, tenant_ids: Iterable[str] | None) -> dt.datetime | None:
    """Record that the raw rows of ``tenant_ids`` (``None``: of every tenant) are about to change,
    in any table; return the marks' time (None when there was nothing to mark)."""
    ids = [EVERY_TENANT] if tenant_ids is None else sorted(set(tenant_ids))
    if not ids:
        return None
    _ensure_table(conn)
    now = dt.datetime.now(dt.timezone.utc)
    # one statement over a list, not one per tenant (executemany: ~0.2 ms a row)
    conn.execute(f"INSERT INTO main.{PENDING_TABLE} (tenant_id, marked_at, table_name) "
                 "SELECT unnest(?::VARCHAR[]), ?, ?", [ids, now, EVERY_TABLE])
    return now


def narrow_marks(conn: duckdb.DuckDBPyConnection, marked_at: dt.datetime,
                 changed: Mapping[str, Iterable[str]], *, every_tenant: bool = False,
                 rows_recorded: bool = False) -> None:
    """Replace the every-table marks made at ``marked_at`` for the tenants in ``changed`` (tenant →
    the raw tables whose rows were written for it, possibly none) with one mark per table, in one
    transaction. Call it only once those rows are committed: until then the broad marks stand.
    ``every_tenant``: ``changed`` covers every tenant the source has, so the "every tenant" mark
    made at ``marked_at`` is replaced too (an extraction of all tenants that read each of them
    from its watermarks, none whole and none removed). ``rows_recorded``: every row written or
    deleted for these (tenant, table) pairs was recorded with ``record_changed_rows``."""
    if not changed:
        return
    _ensure_table(conn)
    pairs = [(tenant_id, table) for tenant_id, tables in sorted(changed.items())
             for table in (sorted(set(tables)) or [NO_TABLE])]
    tenants = sorted(changed) + ([EVERY_TENANT] if every_tenant else [])
    with transaction(conn):  # a failing rollback never hides the real error
        conn.execute(f"DELETE FROM main.{PENDING_TABLE} WHERE marked_at = ? AND table_name = ? "
                     "AND list_contains(?, tenant_id)", [marked_at, EVERY_TABLE, tenants])
        conn.execute(f"INSERT INTO main.{PENDING_TABLE} (tenant_id, marked_at, table_name, rows_recorded) "
                     "SELECT unnest(?::VARCHAR[]), ?, unnest(?::VARCHAR[]), ?",
                     [[tenant for tenant, _ in pairs], marked_at, [table for _, table in pairs], rows_recorded])


def tables_of(tables: Iterable[str]) -> list[str] | None:
    """The raw tables a build limited to some tenants must rebuild from, from their marks' table
    names: None for every table (any every-table mark), else the sorted names (possibly none)."""
    names = set(tables)
    if EVERY_TABLE in names:
        return None
    return sorted(names - {NO_TABLE})


def scope_of(pending: Iterable[str]) -> list[str] | None:
    """The tenants a build may limit itself to, from the pending marks; None for no limit."""
    ids = sorted(set(pending))
    if not ids or EVERY_TENANT in ids or len(ids) > MAX_SCOPED_TENANTS:
        return None
    if not all(TENANT_ID_PATTERN.fullmatch(tenant_id) for tenant_id in ids):
        return None  # an id dbt would refuse to put into SQL: look at everything instead
    return ids


def _has_marks_table(conn: duckdb.DuckDBPyConnection) -> bool:
    return bool(conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name = ?",
        [PENDING_TABLE]).fetchall()[0][0])


def _marks(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(tenant, table) of every mark; a mark from before table names is one for every table."""
    if not _has_marks_table(conn):
        return []
    has_tables = conn.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'main' AND table_name = ? "
        "AND column_name = 'table_name'", [PENDING_TABLE]).fetchall()[0][0]
    column = "table_name" if has_tables else f"'{EVERY_TABLE}'"
    return [(tenant, table) for tenant, table in conn.execute(
        f"SELECT DISTINCT tenant_id, {column} FROM main.{PENDING_TABLE}").fetchall()]


def pending_marks(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(tenant, table) of every pending mark."""
    return _marks(conn)


def tenants_changing(marks: Iterable[tuple[str, str]], table: str) -> list[str] | None:
    """The tenants whose raw ``table`` may have changed since the last successful build, from
    (tenant, table) marks: None (any tenant) when a mark is for every tenant, else those with a
    mark of ``table`` or of every table (sorted)."""
    tenants: set[str] = set()
    for tenant, name in marks:
        if tenant == EVERY_TENANT:
            return None
        if name in (table, EVERY_TABLE):
            tenants.add(tenant)
    return sorted(tenants)


def _pending(conn: duckdb.DuckDBPyConnection) -> list[str]:
    return sorted({tenant for tenant, _ in _marks(conn)})


def changed_scope(marks: Iterable[tuple[str, str]]) -> list[str] | None:
    """The build scope of (tenant, table) marks: ``scope_of`` the tenants with a change. Tenants
    marked only "nothing changed" (``NO_TABLE``) need no build; when every marked tenant is such
    a tenant, the scope is those tenants (a build of them has nothing to do), however many."""
    marks = list(marks)
    changed = {tenant for tenant, table in marks if table != NO_TABLE}
    if changed or not marks:
        return scope_of(changed)
    unchanged = sorted({tenant for tenant, _ in marks})
    return unchanged if all(TENANT_ID_PATTERN.fullmatch(tenant) for tenant in unchanged) else None


def build_scope(build_db: Path) -> list[str] | None:
    """``changed_scope`` of the pending marks in ``build_db`` (None when there is no database yet)."""
    if not Path(build_db).exists():
        return None
    with build_connection(build_db) as conn:
        return changed_scope(_marks(conn))


def scope_tables(build_db: Path, tenant_ids: Iterable[str]) -> list[str] | None:
    """``tables_of`` the marks of ``tenant_ids`` in ``build_db``: the raw tables that changed for
    them (None: any)."""
    wanted = set(tenant_ids)
    with build_connection(build_db) as conn:
        return tables_of(table for tenant, table in _marks(conn) if tenant in wanted)


def rows_known(marks: Iterable[tuple[str, str, bool]], table: str, depends_on: Iterable[str] = ()) -> list[str]:
    """The tenants whose changes to raw ``table`` since the last successful build are exactly their
    recorded rows, from (tenant, table, rows_recorded) marks: every mark of the tenant names a
    table (none is an every-table mark), none names a table of ``depends_on`` (whose change
    affects all its rows of ``table``), and each mark of ``table`` has its rows recorded.
    Tenants with no change to ``table`` at all are included: they have no rows to look at."""
    blocked = {EVERY_TABLE, *depends_on}
    tenants: dict[str, bool] = {}
    for tenant, name, recorded in marks:
        known = name not in blocked and (name != table or bool(recorded))
        tenants[tenant] = tenants.get(tenant, True) and known
    return sorted(tenant for tenant, known in tenants.items() if known)


def row_scope(build_db: Path, tenant_ids: Iterable[str], table: str, depends_on: Iterable[str] = ()) -> list[str]:
    """``rows_known`` of the marks of ``tenant_ids`` in ``build_db``, for ``table``."""
    wanted = set(tenant_ids)
    with build_connection(build_db) as conn:
        if not _has_marks_table(conn):
            return []
        _ensure_table(conn)
        ensure_rows_table(conn)  # none recorded yet: the build still reads it (empty)
        marks = conn.execute(f"SELECT tenant_id, table_name, rows_recorded FROM main.{PENDING_TABLE}").fetchall()
    return rows_known([mark for mark in marks if mark[0] in wanted], table, depends_on)


def _has_rows_table(conn: duckdb.DuckDBPyConnection) -> bool:
    return bool(conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name = ?",
        [PENDING_ROWS_TABLE]).fetchall()[0][0])


def clear_pending(build_db: Path, before: dt.datetime) -> None:
    """Forget the marks made, and the rows recorded, before ``before`` (the start of a build that
    has just succeeded)."""
    with build_connection(build_db) as conn:
        if _has_marks_table(conn):
            conn.execute(f"DELETE FROM main.{PENDING_TABLE} WHERE marked_at < ?", [before])
        if _has_rows_table(conn):
            conn.execute(f"DELETE FROM main.{PENDING_ROWS_TABLE} WHERE recorded_at < ?", [before])
