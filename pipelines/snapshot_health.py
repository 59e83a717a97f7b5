"""Plain checks of the published snapshots (used by Dagster asset checks and sensors)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from auditoryx.errors import AuditoryxError
from auditoryx.settings import Settings
from warehouse.layout import current_version
from warehouse.reader import open_tenant_snapshot


@dataclass(frozen=True)
class SnapshotHealth:
    version: str | None
    refreshed_at: dt.datetime | None
    problem: str | None


def published_tenants(settings: Settings) -> list[str]:
    root = settings.published_dir
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("_"))  # _staging, _retired, _platform


def check_tenant(settings: Settings, tenant_id: str) -> SnapshotHealth:
    version = current_version(settings.published_dir, tenant_id)
    if version is None:
        return SnapshotHealth(None, None, "no CURRENT version")
    try:
        snapshot = open_tenant_snapshot(settings.published_dir, tenant_id)
    except AuditoryxError as error:
        return SnapshotHealth(version, None, str(error))
    try:
        meta = snapshot.meta()
        bookings = int(meta["row_counts"].get("bookings", 0))
        non_draft = snapshot.query("SELECT count(*) AS n FROM fct_bookings_monthly")["n"][0]
        problem = None
        if meta["tenant_id"] != tenant_id:
            problem = "meta names another tenant"
        elif bookings > 0 and non_draft == 0:
            problem = f"{bookings} source bookings but fct_bookings_monthly is empty"
        return SnapshotHealth(version, meta["refreshed_at"], problem)
    finally:
        snapshot.close()


def snapshot_health(settings: Settings) -> dict[str, SnapshotHealth]:
    return {tenant_id: check_tenant(settings, tenant_id) for tenant_id in published_tenants(settings)}


def unreconciled_runs(settings: Settings) -> list[tuple]:
    """Ingestion runs whose rows read differ from rows loaded + rows quarantined (should be none)."""
    if not settings.build_database_path.is_file():
        return []
    conn = duckdb.connect(str(settings.build_database_path), read_only=True)
    try:
        tables = {row[0] for row in conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if "ingestion_runs" not in tables:
            return []
        return conn.execute(
            "SELECT run_id, source, rows_read, rows_loaded, rows_quarantined FROM ingestion_runs "
            "WHERE status = 'ok' AND rows_read <> rows_loaded + rows_quarantined"
        ).fetchall()
    finally:
        conn.close()
