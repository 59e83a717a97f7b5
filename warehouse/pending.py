"""Which tenants' raw data changed since the last successful dbt build ("pending" tenants).

Whoever is about to write raw rows marks the tenants first (``mark_pending``; ``None`` means
every tenant); a successful build clears the marks. A build then needs to look at the pending
tenants only (``build_scope``): the incremental bookings model compares only their rows and the
data tests check only their rows. No mark at all, an "every tenant" mark, or more tenants than
``MAX_SCOPED_TENANTS`` give no scope: the build looks at everything, as it would without marks.

Marks are written before the raw rows (a crash in between leaves a harmless extra mark), in the
build database itself (``main.dbt_pending_tenants``).
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from pathlib import Path

import duckdb

PENDING_TABLE = "dbt_pending_tenants"  # in schema main of the build database
EVERY_TENANT = "*"
MAX_SCOPED_TENANTS = 200  # beyond this, scoping saves little and the literal lists grow long
TENANT_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what dbt's tenant_scope() accepts too

_DDL = (f"CREATE TABLE IF NOT EXISTS main.{PENDING_TABLE} "
        "(tenant_id VARCHAR NOT NULL, marked_at TIMESTAMPTZ NOT NULL)")


def mark_pending(conn: duckdb.DuckDBPyConnection, tenant_ids: Iterable[str] | None) -> None:
    """Record that the raw rows of ``tenant_ids`` (``None``: of every tenant) are about to change."""
    ids = [EVERY_TENANT] if tenant_ids is None else sorted(set(tenant_ids))
    if not ids:
        return
    conn.execute(_DDL)
    now = dt.datetime.now(dt.timezone.utc)
    conn.executemany(f"INSERT INTO main.{PENDING_TABLE} VALUES (?, ?)", [[tenant_id, now] for tenant_id in ids])


def scope_of(pending: Iterable[str]) -> list[str] | None:
    """The tenants a build may limit itself to, from the pending marks; None for no limit."""
    ids = sorted(set(pending))
    if not ids or EVERY_TENANT in ids or len(ids) > MAX_SCOPED_TENANTS:
        return None
    if not all(TENANT_ID_PATTERN.fullmatch(tenant_id) for tenant_id in ids):
        return None  # an id dbt would refuse to put into SQL: look at everything instead
    return ids


def _pending(conn: duckdb.DuckDBPyConnection) -> list[str]:
    found = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name = ?",
        [PENDING_TABLE]).fetchall()[0][0]
    if not found:
        return []
    return [row[0] for row in conn.execute(f"SELECT DISTINCT tenant_id FROM main.{PENDING_TABLE}").fetchall()]


def build_scope(build_db: Path) -> list[str] | None:
    """``scope_of`` the pending marks in ``build_db`` (None when there is no database yet)."""
    if not Path(build_db).exists():
        return None
    conn = duckdb.connect(str(build_db))
    try:
        return scope_of(_pending(conn))
    finally:
        conn.close()


def clear_pending(build_db: Path, before: dt.datetime) -> None:
    """Forget the marks made before ``before`` (the start of a build that has just succeeded)."""
    conn = duckdb.connect(str(build_db))
    try:
        if _pending(conn):
            conn.execute(f"DELETE FROM main.{PENDING_TABLE} WHERE marked_at < ?", [before])
    finally:
        conn.close()
