"""Data of the Data-and-quality page (one tenant) and the Platform page (operators only).

Data and quality: the tenant's current snapshot says when it was refreshed and how many rows each
source held (dashboards/queries.py), and holds the tenant's own quarantined rows and latest
ingestion runs (``PUBLISHED_QUALITY_TABLES``, written by warehouse/publish.py). Those two tables
are not marts: each statement (the tenant id bound first) is answered from the file of the
version folder by dashboards/parquet_pages.py, as every page's (dashboards/queries.py). A version
published before they existed lacks them: ``quarantine``/``runs`` are then None ("not recorded").

Platform: the operator's ``_platform`` snapshot (platform_overview, platform_tenant_summary with
each tenant's snapshot version, publication time and build failure), cached per version; only
for an actor the permission module lets read the platform.
"""
from __future__ import annotations

import datetime as dt
import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from auditoryx.errors import AuditoryxError
from dashboards import page_answers, parquet_pages
from dashboards.queries import (  # noqa: F401 - build_failure(s) re-exported for the pages
    FROM_FILES,
    DashboardUnavailable,
    SnapshotRef,
    _data_quality,
    _published_dir,
    _query,
    _read_snapshot,
    build_failure,
    build_failures,
    snapshot_ref,
)
from operational.permissions import Action, Actor, Resource, require_permission
from warehouse.layout import (
    PUBLISHED_QUALITY_TABLES,
    DamagedPointer,
    last_refresh,
    platform_dir,
    read_checked,
    read_pointer,
    tenant_dir,
)
from warehouse.reader import SnapshotNotFound, TenantSnapshot, open_platform_snapshot

log = logging.getLogger(__name__)

QUARANTINE_SHOWN = 500  # what publishing keeps per tenant (warehouse/publish.py QUARANTINE_LIMIT)
RUNS_SHOWN = 50

_SQL_QUARANTINED = """
SELECT quarantined_at, source, entity, file, row_number, record_id, "column", value, reason, run_id, tenant_total
FROM quarantined_rows
WHERE tenant_id = ?
ORDER BY quarantined_at DESC, source, file, row_number, record_id, "column", reason
LIMIT ?
"""
_SQL_RUNS = """
SELECT started_at, ended_at, source, entity, file_name, status, rows_read, rows_loaded, rows_quarantined, error,
       run_id, tenant_total
FROM ingestion_runs
WHERE tenant_id = ?
ORDER BY started_at DESC, run_id
LIMIT ?
"""
FROM_FILES.update({_SQL_QUARANTINED: parquet_pages.quarantined, _SQL_RUNS: parquet_pages.runs})
_SQL_PLATFORM_META = "SELECT as_of, refreshed_at, version, tenants FROM meta"
_SQL_PLATFORM_OVERVIEW = """
SELECT plan, organization_type, tenants, active_tenants, total_bookings, completed_bookings, recognized_revenue_usd
FROM platform_overview
ORDER BY plan, organization_type
"""
_SQL_PLATFORM_TENANTS = "SELECT * FROM platform_tenant_summary ORDER BY organization_name, tenant_id"
# columns publishing adds to platform_tenant_summary (absent from versions published before)
PLATFORM_STATUS_COLUMNS = {
    "numbers_from": pl.String, "snapshot_version": pl.String, "snapshot_published_at": pl.Datetime("us", "UTC"),
    "build_failed": pl.Boolean, "build_failed_since": pl.String, "build_failure": pl.String,
}


@page_answers.answer_class
@dataclass(frozen=True)
class DataQualityDetails:
    """Everything the data-quality page shows, from one version of the tenant's snapshot."""

    tenant_id: str
    version: str
    meta: dict[str, Any]
    row_counts: dict[str, int]
    quarantine: pl.DataFrame | None  # newest first; None: this version does not record it
    quarantine_total: int            # quarantined rows of the tenant in all (the frame holds the latest)
    runs: pl.DataFrame | None
    runs_total: int


@dataclass(frozen=True)
class PlatformData:
    version: str
    meta: dict[str, Any]
    overview: pl.DataFrame
    tenants: pl.DataFrame  # one row per tenant, with the status columns (null when not recorded)


# ------------------------------------------------------------------------- data and quality


DATA_QUALITY_DETAILS_KEY = ("data_quality_details",)  # its key among the composed and stored answers


def _quality_files_present(ref: SnapshotRef) -> bool:
    folder = Path(ref.published_dir) / ref.tenant_id / ref.version
    return all((folder / f"{table}.parquet").is_file() for table in PUBLISHED_QUALITY_TABLES)


def _quality_query(ref: SnapshotRef, sql: str, *params: Any) -> pl.DataFrame:
    return _query(ref, sql, *params)  # from the version's file of each quality table it holds


def _total(frame: pl.DataFrame) -> int:
    return int(frame["tenant_total"][0]) if frame.height else 0


def _details(ref: SnapshotRef) -> DataQualityDetails:
    summary = _data_quality(ref)  # meta (checked to be the tenant's) and source row counts
    quarantine = runs = None
    if _quality_files_present(ref):
        try:
            quarantine = _quality_query(ref, _SQL_QUARANTINED, QUARANTINE_SHOWN)
            runs = _quality_query(ref, _SQL_RUNS, RUNS_SHOWN)
        except (duckdb.BinderException, pl.exceptions.ColumnNotFoundError):  # files of another shape: not recorded
            log.warning("tenant %s snapshot %s: quality tables unreadable", ref.tenant_id, ref.version)
            quarantine = runs = None
    return DataQualityDetails(
        tenant_id=ref.tenant_id, version=ref.version, meta=summary.meta, row_counts=summary.row_counts,
        quarantine=None if quarantine is None else quarantine.drop("tenant_total"),
        quarantine_total=0 if quarantine is None else _total(quarantine),
        runs=None if runs is None else runs.drop("tenant_total"),
        runs_total=0 if runs is None else _total(runs))


def data_quality_details(tenant_id: str) -> DataQualityDetails | None:
    """The tenant's refresh time, source row counts, quarantined rows and ingestion runs from its
    current snapshot; None when nothing was ever published. Errors as queries.label_dashboard."""
    return _read_snapshot(tenant_id, _details, key=DATA_QUALITY_DETAILS_KEY)


# --------------------------------------------------------------------------------- platform


def platform_version() -> str | None:
    """The version ``_platform/CURRENT`` names now (None: nothing published, or a damaged pointer)."""
    try:
        return read_pointer(platform_dir(_published_dir()))
    except DamagedPointer as error:
        log.warning("platform: %s", error)
        return None


def _open_platform_uncached(published_dir: str, version: str) -> TenantSnapshot:
    snapshot = open_platform_snapshot(Path(published_dir))
    if snapshot.version != version:  # moved while opening: do not cache a mismatch
        snapshot.close()
        raise SnapshotNotFound("the platform snapshot moved; try again")
    return snapshot


def _fetch_platform_uncached(published_dir: str, version: str, sql: str) -> pl.DataFrame:
    return _platform_caches()[0](published_dir, version).query(sql)


@functools.cache
def _platform_caches():
    """The platform reader and statements cached by Streamlit (imported on first use: publishing
    imports this module to compose the data-quality page without Streamlit)."""
    import streamlit as st

    return (st.cache_resource(max_entries=4, show_spinner=False)(_open_platform_uncached),
            st.cache_data(max_entries=16, show_spinner=False)(_fetch_platform_uncached))


def _fetch_platform(published_dir: str, version: str, sql: str) -> pl.DataFrame:
    return _platform_caches()[1](published_dir, version, sql)


def with_status_columns(tenants: pl.DataFrame) -> pl.DataFrame:
    """``tenants`` with every status column (null where a version did not record it). Pure."""
    missing = [pl.lit(None, dtype).alias(name) for name, dtype in PLATFORM_STATUS_COLUMNS.items()
               if name not in tenants.columns]
    return tenants.with_columns(missing) if missing else tenants


def platform_data(actor: Actor) -> PlatformData | None:
    """The operator's cross-tenant snapshot; None when none was published. Only for an actor
    allowed to read the platform (PermissionDenied otherwise)."""
    require_permission(actor, Resource.PLATFORM, Action.READ)
    version = platform_version()
    if version is None:
        return None
    published_dir = str(Path(_published_dir()).resolve())
    try:
        meta = dict(_fetch_platform(published_dir, version, _SQL_PLATFORM_META).row(0, named=True))
        overview = _fetch_platform(published_dir, version, _SQL_PLATFORM_OVERVIEW)
        tenants = _fetch_platform(published_dir, version, _SQL_PLATFORM_TENANTS)
    except (duckdb.Error, SnapshotNotFound) as error:
        log.warning("platform snapshot %s unreadable: %s", version, error)
        raise DashboardUnavailable(f"platform snapshot {version} could not be read") from error
    # a refresh that changed nothing keeps the version but checked it: the later time is the refresh
    meta["refreshed_at"] = last_refresh(meta.get("refreshed_at"), read_checked(platform_dir(Path(published_dir))))
    return PlatformData(version=version, meta=meta, overview=overview, tenants=with_status_columns(tenants))


def tenant_checks(tenant_ids) -> dict[str, dt.datetime]:
    """Tenant → when a refresh last checked its published version (its CHECKED_AT): a tenant
    whose content did not change keeps its version, published earlier, but is not stale."""
    published_dir = Path(_published_dir())
    checks = {}
    for tenant_id in tenant_ids:
        try:
            when = read_checked(tenant_dir(published_dir, tenant_id))
        except AuditoryxError:  # not a tenant id (never from the platform snapshot): no check time
            when = None
        if when is not None:
            checks[tenant_id] = when
    return checks


def freshness_rows(tenants: pl.DataFrame, failures: dict, now: dt.datetime, freshness_hours: float,
                   checks: dict[str, dt.datetime] | None = None) -> list[dict]:
    """Per tenant: the age of its last refresh (the later of its version's publication and the
    last check of it, ``checks``: tenant → CHECKED_AT), whether it is stale, and its build failure
    now (``failures``: tenant → TenantStatus, live) or as the platform snapshot recorded it. Pure."""
    rows = []
    threshold = dt.timedelta(hours=freshness_hours)
    checks = checks or {}
    for row in tenants.iter_rows(named=True):
        published = last_refresh(row.get("snapshot_published_at"), checks.get(row["tenant_id"]))
        age = None if published is None else max(now - published, dt.timedelta(0))
        status = failures.get(row["tenant_id"])
        if status is not None:
            failure = f"since {status.since}: " + "; ".join(status.reasons)
        elif row.get("build_failed"):
            failure = f"since {row.get('build_failed_since') or 'unknown'}: {row.get('build_failure') or ''}"
        else:
            failure = None
        rows.append({"tenant_id": row["tenant_id"], "published_at": published, "age": age,
                     "stale": age is None or age > threshold, "failure": failure})
    return rows
