"""Tables of the file-drop ingestion in the build database (created if missing, never dropped)."""
from __future__ import annotations

import duckdb

from ingestion.files.schema import ENTITIES
from ingestion.raw_schema import FILE_META_COLUMNS, RAW_TABLES
from warehouse.build_db import ensure_raw_tables, quote_identifier

FILE_TABLE_PREFIX = "raw_files_"
META_COLUMNS: dict[str, str] = FILE_META_COLUMNS

FILE_REGISTRY_DDL = """
CREATE TABLE IF NOT EXISTS file_registry (
    tenant_id        VARCHAR     NOT NULL,
    entity           VARCHAR     NOT NULL,
    checksum         VARCHAR     NOT NULL,  -- SHA-256 of the file's bytes, hex
    file             VARCHAR     NOT NULL,  -- '<tenant id>/<entity>/<name>' when first seen
    file_name        VARCHAR     NOT NULL,
    size_bytes       BIGINT      NOT NULL,
    status           VARCHAR     NOT NULL,  -- 'ok' | 'rejected'
    rows_read        BIGINT      NOT NULL,
    rows_loaded      BIGINT      NOT NULL,
    rows_quarantined BIGINT      NOT NULL,
    error            VARCHAR,
    run_id           VARCHAR     NOT NULL,
    registered_at    TIMESTAMPTZ NOT NULL,
    archived_to      VARCHAR,               -- relative to the archive folder
    PRIMARY KEY (tenant_id, entity, checksum)
)
"""

QUARANTINE_DDL = """
CREATE TABLE IF NOT EXISTS quarantine (
    tenant_id      VARCHAR     NOT NULL,
    entity         VARCHAR     NOT NULL,
    file           VARCHAR     NOT NULL,  -- '<tenant id>/<entity>/<name>'
    checksum       VARCHAR     NOT NULL,
    row_number     BIGINT      NOT NULL,  -- 1-based data row (CSV: header excluded; JSON: record)
    "column"       VARCHAR,
    value          VARCHAR,               -- the raw text, cut at 1,000 characters
    reason         VARCHAR     NOT NULL,
    quarantined_at TIMESTAMPTZ NOT NULL,
    run_id         VARCHAR     NOT NULL
)
"""

INGESTION_RUNS_COLUMNS: dict[str, str] = {
    "run_id": "VARCHAR",
    "source": "VARCHAR",
    "tenant_id": "VARCHAR",
    "entity": "VARCHAR",
    "started_at": "TIMESTAMPTZ",
    "ended_at": "TIMESTAMPTZ",
    "rows_read": "BIGINT",
    "rows_loaded": "BIGINT",
    "rows_quarantined": "BIGINT",
    "status": "VARCHAR",
    "error": "VARCHAR",
    "notes": "VARCHAR",
    "checksum": "VARCHAR",
}


def file_table_name(entity: str) -> str:
    if entity not in ENTITIES:
        raise KeyError(f"not a file-drop entity: {entity}")
    return f"{FILE_TABLE_PREFIX}{entity}"


def file_table_columns(entity: str) -> dict[str, str]:
    return {**RAW_TABLES[entity], **META_COLUMNS}


def ensure_file_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """Create ``raw_files_<entity>``, ``file_registry``, ``quarantine`` and ``ingestion_runs`` if missing.

    Also creates the operational raw tables (foreign keys are checked against them). An existing
    ``ingestion_runs`` (shared with other sources) gains the optional columns it lacks.
    """
    ensure_raw_tables(conn)
    for entity in ENTITIES:
        columns = ", ".join(f"{quote_identifier(n)} {t}" for n, t in file_table_columns(entity).items())
        conn.execute(f"CREATE TABLE IF NOT EXISTS {file_table_name(entity)} ({columns})")
    conn.execute(FILE_REGISTRY_DDL)
    conn.execute(QUARANTINE_DDL)
    columns = ", ".join(f"{quote_identifier(n)} {t}" for n, t in INGESTION_RUNS_COLUMNS.items())
    conn.execute(f"CREATE TABLE IF NOT EXISTS ingestion_runs ({columns}, PRIMARY KEY (run_id))")
    existing = {row[0] for row in conn.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = 'ingestion_runs' AND table_schema = current_schema()").fetchall()}
    for name, sql_type in INGESTION_RUNS_COLUMNS.items():
        if name not in existing:
            conn.execute(f"ALTER TABLE ingestion_runs ADD COLUMN {quote_identifier(name)} {sql_type}")
