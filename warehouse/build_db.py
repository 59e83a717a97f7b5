"""The DuckDB build database: one writer at a time, raw tables created from the contract.

It is a cache: everything in it is rebuilt from the operational database and the archived file
drops (their journal, ingestion/files/journal.py). A damaged file (not a DuckDB database, cut
short, failing checksums) is reported by :func:`connect_build` as :class:`DamagedBuildDatabase`,
naming the file and how to rebuild it; ``auditoryx refresh`` moves it aside
(:func:`set_aside`) and rebuilds it.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from auditoryx.errors import AuditoryxError
from ingestion.raw_schema import (
    FILE_DROP_ENTITIES,
    FILE_META_COLUMNS,
    OPERATIONAL_QUARANTINE_COLUMNS,
    OPERATIONAL_QUARANTINE_TABLE,
    RAW_TABLES,
    UNCOMPRESSED_KEY_COLUMN,
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


_shared = threading.local()  # build database path -> the connection of an open ``one_connection`` block


@contextmanager
def one_connection(build_db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """One connection to ``build_db`` for a block of bookkeeping steps (planning a build, recording
    its outcome): every ``build_connection`` of the same file in this thread inside the block uses
    it instead of opening its own (each open and close of a large build database costs 20-30 ms).
    Close it before anything else opens the file with another configuration (dbt)."""
    key = str(Path(build_db).resolve())
    opened = getattr(_shared, "connections", None)
    if opened is None:
        opened = _shared.connections = {}
    if key in opened:  # nested: the outer block owns it
        yield opened[key]
        return
    with closing_quietly(duckdb.connect(key)) as conn:
        opened[key] = conn
        try:
            yield conn
        finally:
            opened.pop(key, None)


@contextmanager
def build_connection(build_db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to ``build_db``: the enclosing ``one_connection``'s, else a new one closed at the end."""
    shared = getattr(_shared, "connections", {}).get(str(Path(build_db).resolve()))
    if shared is not None:
        yield shared
        return
    with closing_quietly(duckdb.connect(str(build_db))) as conn:
        yield conn


def quote_identifier(name: str) -> str:
    """Double-quote an identifier from an allow-list (never a user value)."""
    if '"' in name or "\x00" in name:
        raise ValueError(f"bad identifier: {name!r}")
    return f'"{name}"'


# what DuckDB says of a damaged file (never of a lock held by another process)
_DAMAGE_MARKERS = ("not a valid DuckDB database file", "Corrupt database file", "Could not read enough bytes",
                   "does not match stored checksum", "INTERNAL Error: Failed to load metadata",
                   "Serialization Error")


class DamagedBuildDatabase(AuditoryxError):
    """The build database file is damaged; it is a cache: ``auditoryx refresh`` rebuilds it."""

    def __init__(self, path: Path, cause: BaseException | str) -> None:
        detail = " ".join(str(cause).split())[:300]
        super().__init__(f"the build database {path} is damaged ({detail}); it is a cache: `auditoryx refresh` "
                         f"moves it aside and rebuilds it from the operational database and the archived file "
                         f"drops (or remove {path} and {path}.wal yourself, then run `auditoryx refresh`)")
        self.path = Path(path)


def is_damage(error: BaseException) -> bool:
    """Whether an error (DuckDB's, or dbt's one-line summary of it) says the database file is
    damaged (pure)."""
    if isinstance(error, DamagedBuildDatabase):
        return True
    return isinstance(error, (duckdb.Error, AuditoryxError)) and any(m in str(error) for m in _DAMAGE_MARKERS)


MEMORY_LIMIT_ENV = "AUDITORYX_DUCKDB_MEMORY_LIMIT"  # the dbt profile reads the same variable
DEFAULT_MEMORY_LIMIT = "2GB"
_MEMORY_LIMIT = re.compile(r"\d+(\.\d+)?\s*[KMGT]i?B")


def memory_limit() -> str:
    """DuckDB's memory cap for the build database (``AUDITORYX_DUCKDB_MEMORY_LIMIT``, default 2GB):
    beyond it DuckDB spills to a temporary folder beside the file instead of growing (its own
    default is 80 % of the machine's memory). Read when a connection opens, never at import."""
    value = (os.environ.get(MEMORY_LIMIT_ENV) or DEFAULT_MEMORY_LIMIT).strip()
    if not _MEMORY_LIMIT.fullmatch(value):
        raise AuditoryxError(f"{MEMORY_LIMIT_ENV}={value!r}: expected a size such as '512MB' or '2GB'")
    return value


def connect_build(path: Path) -> duckdb.DuckDBPyConnection:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    limit = memory_limit()
    try:
        conn = duckdb.connect(str(path))
    except duckdb.Error as error:
        if is_damage(error):
            raise DamagedBuildDatabase(path, error) from error
        raise
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute(f"SET memory_limit = '{limit}'")  # validated above: a size, nothing else
    return conn


def probe_build_database(path: Path) -> str | None:
    """Why the build database cannot be used (damaged), or None (sound, or not there yet): it opens
    and its catalog and every table's row count read."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        with closing_quietly(duckdb.connect(str(path))) as conn:
            tables = conn.execute("SELECT schema_name, table_name FROM duckdb_tables() "
                                  "WHERE database_name = current_database()").fetchall()
            for schema, table in tables:
                conn.execute(f"SELECT count(*) FROM {quote_identifier(schema)}.{quote_identifier(table)}").fetchall()
    except duckdb.Error as error:
        return " ".join(str(error).split())[:300] if is_damage(error) else None
    return None


def set_aside(path: Path, now: dt.datetime | None = None) -> Path:
    """Move a damaged build database (and its WAL) to ``<name>.damaged-<UTC time>``; return the new path."""
    path = Path(path)
    stamp = (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y%m%dT%H%M%S%fZ")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    os.replace(path, target)
    wal = path.with_name(path.name + ".wal")
    if wal.exists():
        os.replace(wal, target.with_name(target.name + ".wal"))
    return target


def ensure_raw_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """The raw tables dbt reads: raw_<table> per operational table, raw_files_<entity> per file-drop
    entity, and the operational rows validation quarantined."""
    tables = {raw_table_name(table): columns for table, columns in RAW_TABLES.items()}
    tables |= {file_drop_table_name(entity): {**RAW_TABLES[entity], **FILE_META_COLUMNS} for entity in FILE_DROP_ENTITIES}
    tables[OPERATIONAL_QUARANTINE_TABLE] = OPERATIONAL_QUARANTINE_COLUMNS
    for name, columns in tables.items():
        keyed = name != OPERATIONAL_QUARANTINE_TABLE  # a quarantined row's id is not unique there
        column_sql = ", ".join(
            f"{quote_identifier(column)} {sql_type}"
            + (" USING COMPRESSION uncompressed" if keyed and column == UNCOMPRESSED_KEY_COLUMN else "")
            for column, sql_type in columns.items())
        conn.execute(f"CREATE TABLE IF NOT EXISTS {name} ({column_sql})")
