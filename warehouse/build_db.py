"""The DuckDB build database: one writer at a time, raw tables created from the contract."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from ingestion.raw_schema import (
    FILE_DROP_ENTITIES,
    FILE_META_COLUMNS,
    RAW_TABLES,
    file_drop_table_name,
    raw_table_name,
)


log = logging.getLogger(__name__)


def _cleanup_failed(what: str, failure: BaseException, original: BaseException | None) -> None:
    """A clean-up step failed while ``original`` was propagating: keep ``original`` (the real
    cause, e.g. "No space left on device"), note and log the clean-up failure."""
    log.warning("%s failed after %s: %s", what, type(original).__name__, failure)
    if original is not None:
        original.add_note(f"({what} also failed: {type(failure).__name__}: {failure})")


def rollback_quietly(conn, original: BaseException | None = None) -> None:
    """Roll back, best effort, from an ``except`` block: DuckDB may already have aborted the
    transaction (``cannot rollback - no transaction is active``) or be unable to write at all; that
    failure must never replace the error being handled, ``original`` (it gets a note instead)."""
    try:
        conn.execute("ROLLBACK")
    except Exception as failure:  # noqa: BLE001 - best effort: the original error matters
        _cleanup_failed("rollback", failure, original)


def close_quietly(conn, original: BaseException | None = None) -> None:
    """Close, best effort, while ``original`` propagates (a close failure becomes a note on it)."""
    try:
        conn.close()
    except Exception as failure:  # noqa: BLE001 - best effort: the original error matters
        _cleanup_failed("close", failure, original)


@contextmanager
def transaction(conn) -> Iterator[None]:
    """``BEGIN TRANSACTION`` … ``COMMIT``; on any error ``ROLLBACK`` best effort and re-raise the
    original error (never the rollback's)."""
    conn.execute("BEGIN TRANSACTION")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException as exc:
        rollback_quietly(conn, exc)
        raise


@contextmanager
def closing_quietly(conn) -> Iterator:
    """Close ``conn`` at the end; when the block raised, a close failure never hides that error
    (without an error in the block, a failing close raises as usual)."""
    try:
        yield conn
    except BaseException as exc:
        close_quietly(conn, exc)
        raise
    conn.close()


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
