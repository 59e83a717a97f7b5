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
from concurrent.futures import ThreadPoolExecutor
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


def _insert_incoming(conn: duckdb.DuckDBPyConnection, table: str, data: pa.Table) -> None:
    """Insert Arrow rows into a raw table, typed by the contract (DuckDB casts, never Python)."""
    conn.register("_incoming", data)
    try:
        conn.execute(f"INSERT INTO {raw_table_name(table)} SELECT {_typed_select(table)} FROM _incoming")
    finally:
        conn.unregister("_incoming")


FLUSH_ROWS = 250_000


class _TableBuffer:
    """Rows read for one raw table, written in few statements: one DELETE for all replaced
    tenants, one for all upserted ids, then the inserts (per-tenant statements each scanned
    the whole raw table)."""

    def __init__(self, table: str):
        self.table = table
        self.replaced_tenants: list[str] = []
        self.chunks: list[tuple[pa.Table, bool]] = []
        self.rows = 0

    def add(self, tenant_id: str, data: pa.Table, *, replace: bool) -> None:
        if replace:
            self.replaced_tenants.append(tenant_id)
        if data.num_rows:
            self.chunks.append((data, not replace))
            self.rows += data.num_rows

    def flush(self, conn: duckdb.DuckDBPyConnection) -> None:
        target = raw_table_name(self.table)
        if self.replaced_tenants:
            column = quote_identifier(TENANT_COLUMN[self.table])
            conn.execute(f"DELETE FROM {target} WHERE list_contains(?, {column})", [self.replaced_tenants])
        upserted = [data.column("id").cast(pa.string()) for data, upsert in self.chunks if upsert]
        if upserted:
            conn.register("_upserted_ids", pa.table({"id": pa.chunked_array(upserted)}))
            try:
                conn.execute(f"DELETE FROM {target} WHERE id IN (SELECT id FROM _upserted_ids)")
            finally:
                conn.unregister("_upserted_ids")
        for data, _ in self.chunks:
            _insert_incoming(conn, self.table, data)
        self.replaced_tenants, self.chunks, self.rows = [], [], 0


def remove_tenants(conn: duckdb.DuckDBPyConnection, keep: list[str]) -> list[str]:
    """Delete every raw row (and watermark) of tenants not in ``keep``; return the removed ids."""
    present = {row[0] for row in conn.execute("SELECT id FROM raw_organizations").fetchall()}
    removed = sorted(present - set(keep))
    for table in RAW_TABLES:
        column = quote_identifier(TENANT_COLUMN[table])
        conn.execute(f"DELETE FROM {raw_table_name(table)} WHERE NOT list_contains(?, {column})", [keep])
    conn.execute("DELETE FROM ingestion_watermarks WHERE NOT list_contains(?, tenant_id)", [keep])
    return removed


def _stored_watermarks(conn) -> dict[tuple[str, str], dt.datetime | None]:
    """(tenant, table) → watermark, for every pair extracted before."""
    rows = conn.execute("SELECT tenant_id, table_name, watermark FROM ingestion_watermarks").fetchall()
    return {(tenant, table): watermark for tenant, table, watermark in rows}


def _advance_watermarks(conn, tenant_ids: list[str], table: str, now: dt.datetime) -> None:
    """Set each tenant's watermark for ``table`` to the newest change now in the raw table."""
    column = quote_identifier(WATERMARK_COLUMN[table])
    tenant_column = quote_identifier(TENANT_COLUMN[table])
    conn.execute(
        f"""
        INSERT OR REPLACE INTO ingestion_watermarks
        SELECT t.tenant_id, ?, m.watermark, ?
        FROM unnest(?::VARCHAR[]) AS t(tenant_id)
        LEFT JOIN (SELECT {tenant_column} AS tenant_id, max({column}) AS watermark
                   FROM {raw_table_name(table)} WHERE list_contains(?, {tenant_column}) GROUP BY 1) m
          USING (tenant_id)
        """,
        [table, now, tenant_ids, tenant_ids],
    )


def extract_operational(
    reader: OperationalReader,
    conn: duckdb.DuckDBPyConnection,
    tenant_ids: Iterable[str] | None = None,
    progress: Callable[[str], None] | None = None,
    mode: Mode = "incremental",
) -> ExtractionResult:
    """Bring the raw tables up to date with the source for the given tenants (default: all).

    Reads run one step ahead in a background thread (the source read and the DuckDB insert
    overlap); everything is written in one DuckDB transaction.
    """
    if mode not in ("incremental", "full"):
        raise ValueError(f"unknown extraction mode: {mode}")
    ensure_raw_tables(conn)
    conn.execute(WATERMARKS_DDL)
    active = reader.tenant_ids()
    selected = active if tenant_ids is None else [t for t in tenant_ids if t in set(active)]
    result = ExtractionResult(tenant_ids=selected, mode=mode, rows={table: 0 for table in RAW_TABLES})
    now = dt.datetime.now(dt.timezone.utc)
    watermarks = _stored_watermarks(conn)
    steps = [(tenant_id, table) for tenant_id in selected for table in RAW_TABLES]

    def whole(tenant_id: str, table: str) -> bool:
        return mode == "full" or (tenant_id, table) not in watermarks

    def read(step: tuple[str, str]) -> pa.Table:
        tenant_id, table = step
        since = None if whole(tenant_id, table) else watermarks[(tenant_id, table)]
        return reader.read(table, tenant_id, since) if since is not None else reader.read(table, tenant_id)

    conn.execute("BEGIN TRANSACTION")
    try:
        if tenant_ids is None:
            result.removed_tenants = remove_tenants(conn, active)
        else:  # a requested tenant that is gone or inactive leaves the warehouse too
            gone = [t for t in tenant_ids if t not in set(active)]
            if gone:
                present = [row[0] for row in conn.execute("SELECT id FROM raw_organizations").fetchall()]
                result.removed_tenants = remove_tenants(conn, [t for t in present if t not in gone])
        buffers = {table: _TableBuffer(table) for table in RAW_TABLES}
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="extract-read") as pool:
            pending = pool.submit(read, steps[0]) if steps else None
            for index, (tenant_id, table) in enumerate(steps):
                data = pending.result()
                pending = pool.submit(read, steps[index + 1]) if index + 1 < len(steps) else None
                result.rows[table] += data.num_rows
                buffers[table].add(tenant_id, data, replace=whole(tenant_id, table))
                if buffers[table].rows >= FLUSH_ROWS:
                    buffers[table].flush(conn)
                done = index + 1
                if progress and table == steps[-1][1] and (done // len(RAW_TABLES) % 50 == 0 or done == len(steps)):
                    progress(f"extracted tenant {done // len(RAW_TABLES)}/{len(selected)} ({mode})")
        for buffer in buffers.values():
            buffer.flush(conn)
        for table in RAW_TABLES:
            _advance_watermarks(conn, selected, table, now)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return result
