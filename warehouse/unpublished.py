"""Which tenants' marts may have changed since their content digest was last taken ("unpublished").

Publishing keeps a tenant's version when the digest of what it would publish equals the digest
recorded for the version it serves (warehouse/publish.py). Taking digests reads every row of every
published table, so it is only done for the tenants a dbt build may have changed since: a build
that ran marks its tenants (its scope, or every tenant: ``EVERY_TENANT``); a publish that took a
tenant's digest forgets its mark. Every other tenant's recorded digest still describes its marts.
Marks live in the build database (``main.unpublished_tenants``), which a refresh holds the build
lock for; a build database without the table (new, or from before) counts as every tenant marked.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import duckdb

from warehouse.build_db import build_connection

UNPUBLISHED_TABLE = "unpublished_tenants"  # in schema main of the build database
EVERY_TENANT = "*"
_DDL = f"CREATE TABLE IF NOT EXISTS main.{UNPUBLISHED_TABLE} (tenant_id VARCHAR PRIMARY KEY)"


def _write(conn: duckdb.DuckDBPyConnection, tenant_ids: Iterable[str]) -> None:
    conn.execute(_DDL)
    conn.execute(f"INSERT OR IGNORE INTO main.{UNPUBLISHED_TABLE} SELECT DISTINCT unnest(?::VARCHAR[])",
                 [sorted(set(tenant_ids))])


def mark_unpublished(build_db: Path, tenant_ids: Sequence[str] | None) -> None:
    """A build changed (or may have changed) the marts of ``tenant_ids`` (None: of every tenant)."""
    with build_connection(build_db) as conn:
        _write(conn, [EVERY_TENANT] if tenant_ids is None else tenant_ids)


def unpublished(conn: duckdb.DuckDBPyConnection) -> set[str] | None:
    """The marked tenants; None when every tenant is (an every-tenant mark, or no table yet)."""
    exists = conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' "
                          "AND table_name = ?", [UNPUBLISHED_TABLE]).fetchall()[0][0]
    if not exists:
        return None
    marked = {row[0] for row in conn.execute(f"SELECT tenant_id FROM main.{UNPUBLISHED_TABLE}").fetchall()}
    return None if EVERY_TENANT in marked else marked


def forget_unpublished(conn: duckdb.DuckDBPyConnection, digested: Iterable[str], known: Iterable[str]) -> None:
    """The digests of ``digested`` were taken (and recorded for what they serve): forget their
    marks. An every-tenant mark becomes the ``known`` tenants not digested."""
    done = set(digested)
    marked = unpublished(conn)
    remaining = (set(known) if marked is None else marked) - done
    conn.execute(_DDL)
    conn.execute(f"DELETE FROM main.{UNPUBLISHED_TABLE}")
    if remaining:
        _write(conn, remaining)
