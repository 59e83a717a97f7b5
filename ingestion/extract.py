"""Operational database → DuckDB raw tables, per tenant, replacing each tenant's rows atomically."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

import duckdb
import pyarrow as pa

from ingestion.operational_source import OperationalReader
from ingestion.raw_schema import RAW_TABLES, TENANT_COLUMN, raw_table_name
from warehouse.build_db import ensure_raw_tables, quote_identifier


@dataclass
class ExtractionResult:
    tenant_ids: list[str]
    rows: dict[str, int] = field(default_factory=dict)  # table → rows loaded


def _typed_select(table: str) -> str:
    columns = RAW_TABLES[table]
    return ", ".join(f"CAST({quote_identifier(c)} AS {t}) AS {quote_identifier(c)}" for c, t in columns.items())


def load_tenant_table(conn: duckdb.DuckDBPyConnection, table: str, tenant_id: str, data: pa.Table) -> int:
    """Replace one tenant's rows of one raw table with ``data`` (call inside a transaction)."""
    target = raw_table_name(table)
    conn.execute(f"DELETE FROM {target} WHERE {quote_identifier(TENANT_COLUMN[table])} = ?", [tenant_id])
    if data.num_rows == 0:
        return 0
    conn.register("_incoming", data)
    try:
        conn.execute(f"INSERT INTO {target} SELECT {_typed_select(table)} FROM _incoming")
    finally:
        conn.unregister("_incoming")
    return data.num_rows


def extract_operational(
    reader: OperationalReader,
    conn: duckdb.DuckDBPyConnection,
    tenant_ids: Iterable[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> ExtractionResult:
    """Copy the given tenants (default: every tenant) into the raw tables in one transaction.

    With no tenant list, tenants that no longer exist in the source leave the raw tables too.
    Re-running with unchanged sources leaves the raw tables unchanged.
    """
    ensure_raw_tables(conn)
    source_tenants = reader.tenant_ids()
    selected = source_tenants if tenant_ids is None else [t for t in tenant_ids]
    result = ExtractionResult(tenant_ids=selected, rows={table: 0 for table in RAW_TABLES})
    conn.execute("BEGIN TRANSACTION")
    try:
        if tenant_ids is None:
            for table in RAW_TABLES:
                column = quote_identifier(TENANT_COLUMN[table])
                conn.execute(
                    f"DELETE FROM {raw_table_name(table)} WHERE NOT list_contains(?, {column})",
                    [source_tenants],
                )
        for number, tenant_id in enumerate(selected, start=1):
            for table in RAW_TABLES:
                result.rows[table] += load_tenant_table(conn, table, tenant_id, reader.read(table, tenant_id))
            if progress:
                progress(f"extracted tenant {number}/{len(selected)}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return result
