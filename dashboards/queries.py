"""All dashboard data access: one tenant's published snapshot, read-only, cached per version.

Rules (DESIGN.md, "Streamlit"):
- every public function takes the logged-in user's ``tenant_id`` (pages pass
  ``session.require_user().tenant_id``; nothing else can name a tenant);
- the tenant's ``CURRENT`` pointer is read on every call, so a newly published version is
  picked up on the next rerun; the confined DuckDB reader is cached per
  ``(published_dir, tenant_id, version)`` with ``st.cache_resource`` and query results per
  ``(published_dir, tenant_id, version, query, parameters)`` with ``st.cache_data``;
- SQL comes only from the constants below, values are always bound, and every statement binds
  the tenant id as well (defence in depth: the reader is already confined to the tenant's folder).
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import streamlit as st

from auditoryx.settings import get_settings
from warehouse.layout import (
    META_TABLE,
    PUBLISHED_MARTS,
    DamagedPointer,
    current_version,
    validate_tenant_id,
    version_problem,
)
from warehouse.reader import SnapshotDamaged, SnapshotNotFound, TenantSnapshot, open_tenant_snapshot

REVENUE_MONTHS_BACK = 11  # the as-of month and the 11 before it
REVENUE_MONTHS_AHEAD = 6  # pipeline revenue lives in future months
TOP_PERFORMERS_LIMIT = 10
_TABLES = (*PUBLISHED_MARTS, META_TABLE)  # what a complete version folder holds

# Every statement binds the tenant id as its first parameter.
_SQL_META = """
SELECT tenant_id, tenant_slug, tenant_name, base_currency, as_of, refreshed_at, version
FROM meta WHERE tenant_id = ?
"""
_SQL_KPIS = """
SELECT as_of, base_currency, recognized_revenue_30d, recognized_revenue_prev_30d, revenue_delta_pct,
       bookings_30d, active_artists_30d, active_projects, overdue_milestones, outstanding_revenue
FROM kpi_summary WHERE tenant_id = ?
"""
_SQL_BOOKINGS_TOTAL = """
SELECT coalesce(sum(total_bookings), 0)::BIGINT AS total_bookings
FROM fct_bookings_monthly WHERE tenant_id = ?
"""
_SQL_COMPLETED_IN_MONTH = """
SELECT coalesce(sum(completed_bookings), 0)::BIGINT AS completed_bookings
FROM fct_revenue_monthly WHERE tenant_id = ? AND month = ?
"""
_SQL_REVENUE_MONTHLY = """
SELECT month, booking_type, base_currency, recognized_revenue, pipeline_revenue,
       collected_revenue, outstanding_revenue, completed_bookings
FROM fct_revenue_monthly
WHERE tenant_id = ? AND month BETWEEN ? AND ?
ORDER BY month, booking_type
"""
_SQL_TOP_PERFORMERS = """
SELECT rank, artist_id, artist_name, recognized_revenue, completed_bookings
FROM top_performers
WHERE tenant_id = ? AND rank <= ?
ORDER BY rank
"""


log = logging.getLogger(__name__)


class DashboardUnavailable(Exception):
    """The snapshot exists but cannot be read as expected (e.g. a mart lacks a column)."""


class PublishedSnapshotDamaged(DashboardUnavailable):
    """Something was published for the tenant, but its CURRENT pointer is garbage or empty, or
    names a missing or incomplete version folder (repaired by the next refresh).

    ``version`` is what CURRENT names when it names a valid version (else None)."""

    def __init__(self, message: str, version: str | None = None) -> None:
        super().__init__(message)
        self.version = version


class _CurrentMoved(Exception):
    """CURRENT flipped between reading the pointer and opening the snapshot."""


@dataclass(frozen=True)
class SnapshotRef:
    """A tenant's version as named by its CURRENT pointer at the time of the call."""

    published_dir: str
    tenant_id: str
    version: str


@dataclass(frozen=True)
class LabelDashboard:
    """Everything the label dashboard shows, read from one snapshot version."""

    tenant_id: str
    version: str
    meta: dict[str, Any]
    base_currency: str
    as_of: dt.date
    kpis: dict[str, Any] | None
    has_bookings: bool
    completed_month: dt.date  # first day of the calendar month of as_of
    completed_bookings_month: int  # completed bookings with a service date in that month
    revenue_window: tuple[dt.date, dt.date]  # first and last month shown
    revenue_monthly: pl.DataFrame
    top_performers: pl.DataFrame


# ---------------------------------------------------------------------------------- plumbing


def _published_dir() -> Path:
    return get_settings().published_dir


def _pointer_ref(tenant_id: str) -> SnapshotRef | None:
    """Like snapshot_ref, but a damaged CURRENT raises PublishedSnapshotDamaged."""
    tenant_id = validate_tenant_id(tenant_id)
    published_dir = _published_dir()
    try:
        version = current_version(published_dir, tenant_id)
    except DamagedPointer as error:
        log.warning("tenant %s: %s", tenant_id, error)
        raise PublishedSnapshotDamaged(f"tenant {tenant_id}: {error}") from error
    if version is None:
        return None
    return SnapshotRef(str(published_dir), tenant_id, version)


def snapshot_ref(tenant_id: str) -> SnapshotRef | None:
    """The tenant's current version (reads CURRENT now), or None when nothing is published or
    the pointer is damaged (garbage or empty; the version a repairing refresh writes is then new)."""
    try:
        return _pointer_ref(tenant_id)
    except PublishedSnapshotDamaged:
        return None


@st.cache_resource(max_entries=256, show_spinner=False)
def _open_snapshot(published_dir: str, tenant_id: str, version: str) -> TenantSnapshot:
    snapshot = open_tenant_snapshot(Path(published_dir), tenant_id)
    if snapshot.version != version:  # the pointer moved while we opened: do not cache a mismatch
        snapshot.close()
        raise _CurrentMoved(version)
    return snapshot


def _resolve(tenant_id: str) -> SnapshotRef | None:
    """Current version with an opened (cached) reader; None when nothing was ever published (no
    tenant folder or no CURRENT). Raises PublishedSnapshotDamaged when something was published
    but cannot be read (garbage or empty CURRENT, or one naming a missing or incomplete folder)."""
    for _attempt in range(3):
        ref = _pointer_ref(tenant_id)
        if ref is None:
            return None
        try:
            _open_snapshot(ref.published_dir, ref.tenant_id, ref.version)
        except _CurrentMoved:
            continue
        except SnapshotDamaged as error:  # CURRENT names a folder that is gone or incomplete
            log.warning("%s", error)
            raise PublishedSnapshotDamaged(str(error), version=ref.version) from error
        except SnapshotNotFound:  # CURRENT went away in between: nothing published any more
            return None
        # a cached reader (and cached results) outlive a deleted or emptied folder: a few stats
        problem = version_problem(Path(ref.published_dir) / ref.tenant_id, ref.version, _TABLES)
        if problem is None:
            return ref
        log.warning("tenant %s: %s", ref.tenant_id, problem)
        raise PublishedSnapshotDamaged(f"tenant {ref.tenant_id}: {problem}", version=ref.version)
    return None


def _version_folder(ref: SnapshotRef) -> Path:
    return Path(ref.published_dir) / ref.tenant_id / ref.version


@st.cache_data(max_entries=4096, show_spinner=False)
def _fetch(published_dir: str, tenant_id: str, version: str, sql: str, params: tuple) -> pl.DataFrame:
    snapshot = _open_snapshot(published_dir, tenant_id, version)
    return snapshot.query(sql, [tenant_id, *params])


def _query(ref: SnapshotRef, sql: str, *params: Any) -> pl.DataFrame:
    return _fetch(ref.published_dir, ref.tenant_id, ref.version, sql, tuple(params))


def add_months(month: dt.date, months: int) -> dt.date:
    """First day of the month ``months`` away from ``month``'s month."""
    index = month.year * 12 + (month.month - 1) + months
    return dt.date(index // 12, index % 12 + 1, 1)


# ---------------------------------------------------------------------- per-snapshot readers


def _meta(ref: SnapshotRef) -> dict[str, Any]:
    frame = _query(ref, _SQL_META)
    if frame.height != 1:
        raise SnapshotNotFound(f"snapshot {ref.version} has no meta row for its tenant")
    return frame.row(0, named=True)


def _kpis(ref: SnapshotRef) -> dict[str, Any] | None:
    frame = _query(ref, _SQL_KPIS)
    return frame.row(0, named=True) if frame.height else None


def _has_bookings(ref: SnapshotRef) -> bool:
    return int(_query(ref, _SQL_BOOKINGS_TOTAL).item()) > 0


def _completed_in_month(ref: SnapshotRef, month: dt.date) -> int:
    return int(_query(ref, _SQL_COMPLETED_IN_MONTH, month).item())


def _revenue_monthly(ref: SnapshotRef, first_month: dt.date, last_month: dt.date) -> pl.DataFrame:
    return _query(ref, _SQL_REVENUE_MONTHLY, first_month, last_month)


def _top_performers(ref: SnapshotRef, limit: int) -> pl.DataFrame:
    return _query(ref, _SQL_TOP_PERFORMERS, int(limit))


# ------------------------------------------------------------------------------ public API


def snapshot_meta(tenant_id: str) -> dict[str, Any] | None:
    ref = _resolve(tenant_id)
    return None if ref is None else _meta(ref)


def kpi_summary(tenant_id: str) -> dict[str, Any] | None:
    ref = _resolve(tenant_id)
    return None if ref is None else _kpis(ref)


def revenue_monthly(tenant_id: str, first_month: dt.date, last_month: dt.date) -> pl.DataFrame | None:
    ref = _resolve(tenant_id)
    return None if ref is None else _revenue_monthly(ref, first_month, last_month)


def top_performers(tenant_id: str, limit: int = TOP_PERFORMERS_LIMIT) -> pl.DataFrame | None:
    ref = _resolve(tenant_id)
    return None if ref is None else _top_performers(ref, limit)


def label_dashboard(tenant_id: str) -> LabelDashboard | None:
    """All data of the label dashboard from one version; None when nothing was ever published.

    Raises :class:`PublishedSnapshotDamaged` when something was published but the pointer or its
    version folder is damaged, and :class:`DashboardUnavailable` (its base class) when the
    snapshot does not read as expected.
    """
    ref = _resolve(tenant_id)
    if ref is None:
        return None
    try:
        return _label_dashboard(ref)
    except (duckdb.Error, SnapshotNotFound) as exc:  # wrong columns, foreign or missing meta row
        log.exception("tenant %s snapshot %s unreadable", ref.tenant_id, ref.version)
        if not _version_folder(ref).is_dir():  # deleted while (or after) its reader was cached
            raise PublishedSnapshotDamaged(f"snapshot {ref.version} could not be read", version=ref.version) from exc
        raise DashboardUnavailable(f"snapshot {ref.version} could not be read") from exc


def _label_dashboard(ref: SnapshotRef) -> LabelDashboard:
    meta = _meta(ref)
    if meta["tenant_id"] != ref.tenant_id:  # a snapshot must never describe another tenant
        raise SnapshotNotFound(f"snapshot {ref.version} does not belong to tenant {ref.tenant_id}")
    as_of = meta["as_of"]
    kpis = _kpis(ref)
    base_currency = meta.get("base_currency") or (kpis or {}).get("base_currency") or "USD"
    this_month = as_of.replace(day=1)
    first_month = add_months(this_month, -REVENUE_MONTHS_BACK)
    last_month = add_months(this_month, REVENUE_MONTHS_AHEAD)
    return LabelDashboard(
        tenant_id=ref.tenant_id,
        version=ref.version,
        meta=meta,
        base_currency=base_currency,
        as_of=as_of,
        kpis=kpis,
        has_bookings=_has_bookings(ref),
        completed_month=this_month,
        completed_bookings_month=_completed_in_month(ref, this_month),
        revenue_window=(first_month, last_month),
        revenue_monthly=_revenue_monthly(ref, first_month, last_month),
        top_performers=_top_performers(ref, TOP_PERFORMERS_LIMIT),
    )


# ------------------------------------------------------------------ projects and data quality

_SQL_PROJECT_HEALTH = """
SELECT project_id, name, status, budget, spent, budget_used_pct, milestones_total, milestones_completed,
       milestones_overdue, is_over_budget, is_past_deadline, is_at_risk, deadline
FROM fct_project_health
WHERE tenant_id = ?
ORDER BY is_at_risk DESC, name, project_id
"""
_SQL_META_ROW_COUNTS = """
SELECT row_counts FROM meta WHERE tenant_id = ?
"""


@dataclass(frozen=True)
class ProjectHealth:
    """The projects page's data: every project's health row, from one snapshot version."""

    tenant_id: str
    version: str
    meta: dict[str, Any]
    base_currency: str
    as_of: dt.date
    projects: pl.DataFrame  # at-risk projects first, then by name


@dataclass(frozen=True)
class DataQuality:
    """The data-quality page's data: what the tenant's current snapshot says about itself."""

    tenant_id: str
    version: str
    meta: dict[str, Any]
    row_counts: dict[str, int]  # rows per operational source table at refresh time


def _checked_meta(ref: SnapshotRef) -> dict[str, Any]:
    meta = _meta(ref)
    if meta["tenant_id"] != ref.tenant_id:  # a snapshot must never describe another tenant
        raise SnapshotNotFound(f"snapshot {ref.version} does not belong to tenant {ref.tenant_id}")
    return meta


def _read_snapshot(tenant_id: str, build):
    """``build(ref)`` on the tenant's current version, with label_dashboard's error contract."""
    ref = _resolve(tenant_id)
    if ref is None:
        return None
    try:
        return build(ref)
    except (duckdb.Error, SnapshotNotFound) as exc:
        log.exception("tenant %s snapshot %s unreadable", ref.tenant_id, ref.version)
        if not _version_folder(ref).is_dir():
            raise PublishedSnapshotDamaged(f"snapshot {ref.version} could not be read", version=ref.version) from exc
        raise DashboardUnavailable(f"snapshot {ref.version} could not be read") from exc


def _project_health(ref: SnapshotRef) -> ProjectHealth:
    meta = _checked_meta(ref)
    return ProjectHealth(tenant_id=ref.tenant_id, version=ref.version, meta=meta,
                         base_currency=meta.get("base_currency") or "USD", as_of=meta["as_of"],
                         projects=_query(ref, _SQL_PROJECT_HEALTH))


def project_health(tenant_id: str) -> ProjectHealth | None:
    """Every project of the tenant's current snapshot (fct_project_health); None when nothing was
    ever published. Errors as :func:`label_dashboard`."""
    return _read_snapshot(tenant_id, _project_health)


def parse_row_counts(value: Any) -> dict[str, int]:
    """meta.row_counts (a JSON object, or already a dict) as ``{source table: rows}``, sorted by
    table; anything unreadable gives an empty dict."""
    import json

    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    if not isinstance(value, dict):
        return {}
    counts: dict[str, int] = {}
    for table, rows in sorted(value.items()):
        try:
            counts[str(table)] = int(rows)
        except (TypeError, ValueError):
            continue
    return counts


def _data_quality(ref: SnapshotRef) -> DataQuality:
    meta = _checked_meta(ref)
    try:
        raw = _query(ref, _SQL_META_ROW_COUNTS).item()
    except duckdb.BinderException:  # a snapshot published before meta had row counts
        raw = None
    return DataQuality(tenant_id=ref.tenant_id, version=ref.version, meta=meta, row_counts=parse_row_counts(raw))


def data_quality(tenant_id: str) -> DataQuality | None:
    """Refresh time, version and source row counts of the tenant's current snapshot; None when
    nothing was ever published. Errors as :func:`label_dashboard`."""
    return _read_snapshot(tenant_id, _data_quality)


def build_failure(tenant_id: str):
    """The tenant's recorded build failure (``warehouse.tenant_status.TenantStatus``: reasons,
    since, the version kept), or None when its last build passed."""
    from warehouse.tenant_status import read_status

    return read_status(_published_dir(), validate_tenant_id(tenant_id))


def build_failures() -> dict:
    """Every tenant's recorded build failure (for the platform operator only: the page asks the
    permission module first), by tenant id."""
    from warehouse.tenant_status import failed_tenants

    return failed_tenants(_published_dir())
