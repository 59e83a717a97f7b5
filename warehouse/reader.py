"""Read-only, engine-confined access to one tenant's published snapshot.

A reader is an in-memory DuckDB connection that may only touch the tenant's current version
folder (`allowed_directories`, external access off, configuration locked), with one view per
published table. Isolation is enforced by DuckDB itself, not by a WHERE clause; on top of that,
only read statements are accepted.

DuckDB also allows, implicitly, its temp (spill) directory — by default `<cwd>/.tmp/` — even with
external access off, so a reader with the default would read any file planted there. Readers
therefore run with spilling disabled (`temp_directory = ''`), which leaves the tenant's folder as
the only readable place; a query too large for memory fails instead of spilling to disk.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from auditoryx.errors import AuditoryxError
from warehouse.layout import (
    CURRENT_POINTER,
    META_TABLE,
    PLATFORM_DIR,
    PLATFORM_MARTS,
    PUBLISHED_MARTS,
    DamagedPointer,
    platform_dir,
    read_pointer,
    tenant_dir,
    validate_version,
)
from warehouse.mart_catalog import natural_order

_READ_STATEMENTS = {duckdb.StatementType.SELECT}


class SnapshotNotFound(AuditoryxError):
    """The tenant has no published snapshot yet."""


class SnapshotDamaged(SnapshotNotFound):
    """Something was published, but the CURRENT pointer is garbage or empty, or names a missing
    or incomplete version folder: "published but unreadable", repaired by the next publish.

    A subclass of SnapshotNotFound so that callers that only wait for a usable snapshot keep
    working; callers that tell the two apart catch this one first."""

    def __init__(self, message: str, *, tenant_id: str, path: Path, version: str | None = None) -> None:
        super().__init__(message)
        self.tenant_id = tenant_id
        self.path = Path(path)
        self.version = version  # what CURRENT names, when it names a valid version


class ReadOnlyViolation(AuditoryxError):
    """Something other than a read statement was sent to a snapshot reader."""


@dataclass
class TenantSnapshot:
    tenant_id: str
    version: str
    folder: Path
    _conn: duckdb.DuckDBPyConnection = field(repr=False)
    tables: tuple[str, ...] = (*PUBLISHED_MARTS, META_TABLE)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def query(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> pl.DataFrame:
        """Run one read statement with bound parameters; return a Polars frame."""
        statements = self._conn.extract_statements(sql)
        if len(statements) != 1 or statements[0].type not in _READ_STATEMENTS:
            raise ReadOnlyViolation("snapshot readers accept exactly one SELECT statement")
        with self._lock:
            cursor = self._conn.cursor()
        try:
            relation = cursor.sql(sql, params=params or None)
            return relation.pl() if relation is not None else pl.DataFrame()
        finally:
            cursor.close()

    def meta(self) -> dict[str, Any]:
        row = self.query(f"SELECT * FROM {META_TABLE}").row(0, named=True)
        if isinstance(row.get("row_counts"), str):
            row["row_counts"] = json.loads(row["row_counts"])
        return row

    def close(self) -> None:
        self._conn.close()


def open_tenant_snapshot(published_dir: Path, tenant_id: str) -> TenantSnapshot:
    """Open the tenant's CURRENT version, confined to its folder."""
    published_dir = Path(published_dir).resolve()
    return _open_current(tenant_dir(published_dir, tenant_id), tenant_id, (*PUBLISHED_MARTS, META_TABLE),
                         f"no published snapshot for tenant {tenant_id}; run `auditoryx refresh`")


def open_platform_snapshot(published_dir: Path) -> TenantSnapshot:
    """The operator's cross-tenant snapshot (never opened for a tenant user)."""
    folder = platform_dir(Path(published_dir).resolve())
    return _open_current(folder, PLATFORM_DIR, (*PLATFORM_MARTS, META_TABLE),
                         "no published platform snapshot; run `auditoryx refresh`")


def _open_current(folder: Path, tenant_id: str, tables: tuple[str, ...], nothing: str) -> TenantSnapshot:
    """Open the version ``folder/CURRENT`` names: SnapshotNotFound when nothing was ever published
    (no folder or no CURRENT), SnapshotDamaged when it was but cannot be read."""
    pointer = folder / CURRENT_POINTER
    try:
        version = read_pointer(folder)
    except DamagedPointer as error:
        raise SnapshotDamaged(f"tenant {tenant_id}: {error}", tenant_id=tenant_id, path=pointer) from error
    if version is None:
        raise SnapshotNotFound(nothing)
    target = folder / validate_version(version)
    if not target.is_dir():
        raise SnapshotDamaged(f"tenant {tenant_id}: {pointer} names {version}, whose folder {target} is missing",
                              tenant_id=tenant_id, path=target, version=version)
    return open_version_folder(tenant_id, version, target, tables=tables)


def open_version_folder(tenant_id: str, version: str, folder: Path,
                        tables: tuple[str, ...] = (*PUBLISHED_MARTS, META_TABLE)) -> TenantSnapshot:
    folder = folder.resolve()
    # No spill directory: DuckDB adds its temp directory to the allow-list on its own (see above).
    conn = duckdb.connect(":memory:", config={"temp_directory": ""})
    try:
        conn.execute("SET allowed_directories = ?", [[str(folder) + "/"]])
        conn.execute("SET enable_external_access = false")
        for table in tables:
            path = folder / f"{table}.parquet"
            if not path.is_file():
                raise SnapshotDamaged(f"snapshot {version} of tenant {tenant_id} lacks {table} ({path})",
                                      tenant_id=tenant_id, path=folder, version=version)
            # rows in the table's natural order (top performers by rank, months ascending…)
            natural_order(conn.read_parquet(str(path), hive_partitioning=False), table).create_view(table)
        conn.execute("SET lock_configuration = true")
    except BaseException:
        conn.close()
        raise
    return TenantSnapshot(tenant_id=tenant_id, version=version, folder=folder, _conn=conn, tables=tables)
