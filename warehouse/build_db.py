"""The DuckDB build database: one writer at a time, raw tables created from the contract."""
from __future__ import annotations

from pathlib import Path

import duckdb

from ingestion.raw_schema import (
    FILE_DROP_ENTITIES,
    FILE_META_COLUMNS,
    RAW_TABLES,
    file_drop_table_name,
    raw_table_name,
)


def quote_identifier(name: str) -> str:
    """Double-quote an identifier from an allow-list (never a user value)."""
    if '"' in name or "\x00" in name:
        raise ValueError(f"bad identifier: {name!r}")
    return f'"{name}"'


def connect_build(path: Path) -> duckdb.DuckDBPyConnection:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = duckdb.connect(str(path))
    conn.execute("SET TimeZone = 'UTC'")
    return conn


def ensure_raw_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """The raw tables dbt reads: raw_<table> per operational table, raw_files_<entity> per file-drop entity."""
    tables = {raw_table_name(table): columns for table, columns in RAW_TABLES.items()}
    tables |= {file_drop_table_name(entity): {**RAW_TABLES[entity], **FILE_META_COLUMNS} for entity in FILE_DROP_ENTITIES}
    for name, columns in tables.items():
        column_sql = ", ".join(f"{quote_identifier(column)} {sql_type}" for column, sql_type in columns.items())
        conn.execute(f"CREATE TABLE IF NOT EXISTS {name} ({column_sql})")
