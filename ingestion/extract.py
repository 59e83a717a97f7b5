"""Operational database → DuckDB raw tables, per tenant, in one transaction per extraction.

Two modes:
- ``incremental`` (default): per tenant × table, read rows whose watermark column
  (``updated_at``; ``at`` for the audit log) is at or after the stored watermark, and upsert them
  by primary key. A tenant × table seen for the first time is copied whole.
- ``full``: replace each selected tenant's rows whole. This is the key reconciliation: rows
  hard-deleted in the source leave the raw tables. Run it on a schedule (nightly) or with
  ``auditoryx refresh --full``.
With no tenant list, tenants that are gone or deactivated in the source leave every raw table.
Re-running with unchanged sources changes nothing.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Callable, Iterable, Literal

import duckdb
import pyarrow as pa

from ingestion.operational_source import OperationalReader
from ingestion.raw_schema import RAW_TABLES, TENANT_COLUMN, WATERMARK_COLUMN, raw_table_name
from warehouse.build_db import ensure_raw_tables, quote_identifier

Mode = Literal["incremental", "full"]

WATERMARKS_DDL = """
CREATE TABLE IF NOT EXISTS ingestion_watermarks (
    tenant_id VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    watermark TIMESTAMPTZ,
    extracted_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, table_name)
)
"""


@dataclass
class ExtractionResult:
    tenant_ids: list[str]
    mode: str = "incremental"
    rows: dict[str, int] = field(default_factory=dict)  # table → rows read and upserted
    removed_tenants: list[str] = field(default_factory=list)


def _typed_select(table: str) -> str:
    columns = RAW_TABLES[table]
    return ", ".join(f"CAST({quote_identifier(c)} AS {t}) AS {quote_identifier(c)}" for c, t in columns.items())


def _insert_incoming(conn: duckdb.DuckDBPyConnection, table: str, data: pa.Table, *, upsert: bool) -> None:
    target = raw_table_name(table)
    conn.register("_incoming", data)
    try:
        if upsert:
            conn.execute(f"DELETE FROM {target} WHERE id IN (SELECT CAST(id AS VARCHAR) FROM _incoming)")
        conn.execute(f"INSERT INTO {target} SELECT {_typed_select(table)} FROM _incoming")
    finally:
        conn.unregister("_incoming")


def replace_tenant_rows(conn: duckdb.DuckDBPyConnection, table: str, tenant_id: str, data: pa.Table) -> int:
    """Replace one tenant's rows of one raw table with ``data`` (call inside a transaction)."""
    conn.execute(f"DELETE FROM {raw_table_name(table)} WHERE {quote_identifier(TENANT_COLUMN[table])} = ?",
                 [tenant_id])
    if data.num_rows:
        _insert_incoming(conn, table, data, upsert=False)
    return data.num_rows


def upsert_rows(conn: duckdb.DuckDBPyConnection, table: str, data: pa.Table) -> int:
    if data.num_rows:
        _insert_incoming(conn, table, data, upsert=True)
    return data.num_rows


def remove_tenants(conn: duckdb.DuckDBPyConnection, keep: list[str]) -> list[str]:
    """Delete every raw row (and watermark) of tenants not in ``keep``; return the removed ids."""
    present = {row[0] for row in conn.execute("SELECT id FROM raw_organizations").fetchall()}
    removed = sorted(present - set(keep))
    for table in RAW_TABLES:
        column = quote_identifier(TENANT_COLUMN[table])
        conn.execute(f"DELETE FROM {raw_table_name(table)} WHERE NOT list_contains(?, {column})", [keep])
    conn.execute("DELETE FROM ingestion_watermarks WHERE NOT list_contains(?, tenant_id)", [keep])
    return removed


def _stored_watermark(conn, tenant_id: str, table: str) -> tuple[bool, dt.datetime | None]:
    rows = conn.execute("SELECT watermark FROM ingestion_watermarks WHERE tenant_id = ? AND table_name = ?",
                        [tenant_id, table]).fetchall()
    return (bool(rows), rows[0][0] if rows else None)


def _advance_watermark(conn, tenant_id: str, table: str, now: dt.datetime) -> None:
    column = quote_identifier(WATERMARK_COLUMN[table])
    tenant_column = quote_identifier(TENANT_COLUMN[table])
    conn.execute(
        f"""
        INSERT OR REPLACE INTO ingestion_watermarks
        SELECT ?, ?, (SELECT max({column}) FROM {raw_table_name(table)} WHERE {tenant_column} = ?), ?
        """,
        [tenant_id, table, tenant_id, now],
    )


def extract_operational(
    reader: OperationalReader,
    conn: duckdb.DuckDBPyConnection,
    tenant_ids: Iterable[str] | None = None,
    progress: Callable[[str], None] | None = None,
    mode: Mode = "incremental",
) -> ExtractionResult:
    """Bring the raw tables up to date with the source for the given tenants (default: all)."""
    if mode not in ("incremental", "full"):
        raise ValueError(f"unknown extraction mode: {mode}")
    ensure_raw_tables(conn)
    conn.execute(WATERMARKS_DDL)
    active = reader.tenant_ids()
    selected = active if tenant_ids is None else [t for t in tenant_ids if t in set(active)]
    result = ExtractionResult(tenant_ids=selected, mode=mode, rows={table: 0 for table in RAW_TABLES})
    now = dt.datetime.now(dt.timezone.utc)
    conn.execute("BEGIN TRANSACTION")
    try:
        if tenant_ids is None:
            result.removed_tenants = remove_tenants(conn, active)
        else:  # a requested tenant that is gone or inactive leaves the warehouse too
            gone = [t for t in tenant_ids if t not in set(active)]
            if gone:
                present = [row[0] for row in conn.execute("SELECT id FROM raw_organizations").fetchall()]
                result.removed_tenants = remove_tenants(conn, [t for t in present if t not in gone])
        for number, tenant_id in enumerate(selected, start=1):
            for table in RAW_TABLES:
                seen, since = _stored_watermark(conn, tenant_id, table)
                if mode == "full" or not seen:
                    count = replace_tenant_rows(conn, table, tenant_id, reader.read(table, tenant_id))
                else:
                    count = upsert_rows(conn, table, reader.read(table, tenant_id, since))
                result.rows[table] += count
                _advance_watermark(conn, tenant_id, table, now)
            if progress and (number % 50 == 0 or number == len(selected)):
                progress(f"extracted tenant {number}/{len(selected)} ({mode})")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return result
