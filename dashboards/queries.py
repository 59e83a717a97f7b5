"""All dashboard data access: one tenant's published snapshot, read-only, cached per version.

Rules (DESIGN.md, "Streamlit"):
- every public function takes the logged-in user's ``tenant_id`` (pages pass
  ``session.require_user().tenant_id``; nothing else can name a tenant);
- the tenant's ``CURRENT`` pointer is checked on every call, so a newly published version is
  picked up on the next rerun (a ``stat``: the pointer is read again whenever its inode, size or
  times differ from the last read, and always while it is younger than two seconds:
  ``warehouse.pointer_memo``);
- per process, bounded and keyed by ``(published_dir, tenant_id, version, …)``: the version's
  files (``parquet_pages.VersionFiles``, the pages' reader), each statement's result and each
  page's composed answer (shared, never mutated: frozen dataclasses of frames nobody writes to),
  so that a rerun costs a few ``stat`` calls and a dictionary lookup. Published versions are
  immutable; a deleted or emptied version folder is still noticed (its ``stat`` changes).
  :func:`clear_caches` empties them all (benchmarks measure a first view with it);
- the statements are the constants below (values always bound, the tenant id bound first as
  well): each is answered from the version's Parquet files by the Polars function ``FROM_FILES``
  maps it to (dashboards/parquet_pages.py: the same rows, order and types, the frames filtered on
  the tenant id; a first view costs a few milliseconds instead of a DuckDB database's tens). A
  statement without one, or one whose rows Polars cannot answer exactly (``NeedsSql``), runs on
  the confined DuckDB reader of the version (opened on demand, cached per version as well).
"""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import polars as pl

from dashboards import page_answers, parquet_pages
from dashboards.app_settings import settings as get_settings
from dashboards.filters import Filters, parse_query, prior_period, same_period_last_year
from dashboards.parquet_pages import NeedsSql, VersionFiles, open_version_files
from warehouse.layout import (
    META_TABLE,
    PUBLISHED_MARTS,
    PUBLISHED_QUALITY_TABLES,
    DamagedPointer,
    last_refresh,
    validate_tenant_id,
    version_problem,
)
from warehouse.pointer_memo import Lru, PointerMemo, stat_signature
from warehouse.reader import (
    SnapshotDamaged,
    SnapshotNotFound,
    TenantSnapshot,
    drain_warm_connections,
    keep_connections_warm,
    open_version_folder,
)

TOP_PERFORMERS_LIMIT = 10
RECENT_ACTIVITY_LIMIT = 10
PIPELINE_MONTHS_AHEAD = 12  # pipeline revenue shown at most this many months past the period
_TABLES = (*PUBLISHED_MARTS, META_TABLE)  # what a complete version folder holds

# Every statement binds the tenant id as its first parameter.
_SQL_META = """
SELECT tenant_id, tenant_slug, tenant_name, base_currency, as_of, refreshed_at, version
FROM meta WHERE tenant_id = ?
"""
_SQL_KPIS = """
SELECT as_of, base_currency, active_projects, overdue_milestones, outstanding_revenue
FROM kpi_summary WHERE tenant_id = ?
"""
# fct_bookings_daily, filtered: the tenant (bound first, as everywhere), then the period and the
# booking types / artists chosen (an empty list: all of them).
_DAILY = """
WITH tenant_rows AS (SELECT * FROM fct_bookings_daily WHERE tenant_id = ?),
chosen AS (SELECT ?::DATE AS start_day, ?::DATE AS end_day, ?::VARCHAR[] AS types, ?::VARCHAR[] AS artists),
d AS (
    SELECT tenant_rows.*, chosen.start_day, chosen.end_day
    FROM tenant_rows, chosen
    WHERE (len(chosen.types) = 0 OR list_contains(chosen.types, tenant_rows.booking_type))
      AND (len(chosen.artists) = 0 OR list_contains(chosen.artists, tenant_rows.artist_id))
)
"""
# the three periods (selected, prior, same period last year) in one scan: one row each, in order
_SQL_PERIOD_TOTALS = """
WITH tenant_rows AS (SELECT * FROM fct_bookings_daily WHERE tenant_id = ?),
chosen AS (SELECT ?::VARCHAR[] AS types, ?::VARCHAR[] AS artists),
periods AS (
    SELECT * FROM (VALUES (0, ?::DATE, ?::DATE), (1, ?::DATE, ?::DATE), (2, ?::DATE, ?::DATE))
        AS p (period, start_day, end_day)
),
d AS (
    SELECT tenant_rows.*
    FROM tenant_rows, chosen
    WHERE (len(chosen.types) = 0 OR list_contains(chosen.types, tenant_rows.booking_type))
      AND (len(chosen.artists) = 0 OR list_contains(chosen.artists, tenant_rows.artist_id))
)
SELECT
    periods.period,
    coalesce(sum(recognized_revenue) FILTER (WHERE day BETWEEN start_day AND end_day), 0) AS recognized_revenue,
    coalesce(sum(pipeline_revenue) FILTER (WHERE day BETWEEN start_day AND end_day), 0) AS pipeline_revenue,
    coalesce(sum(completed_bookings) FILTER (WHERE day BETWEEN start_day AND end_day), 0)::BIGINT AS completed_bookings,
    coalesce(sum(started_bookings) FILTER (WHERE day BETWEEN start_day AND end_day), 0)::BIGINT AS bookings,
    coalesce(sum(cancelled_bookings) FILTER (WHERE day BETWEEN start_day AND end_day), 0)::BIGINT AS cancelled_bookings,
    count(DISTINCT artist_id) FILTER (
        WHERE day BETWEEN start_day AND end_day AND started_bookings > cancelled_bookings
    )::BIGINT AS active_artists,
    coalesce(sum(outstanding_revenue), 0) AS outstanding_receivables
FROM periods
LEFT JOIN d ON d.day <= periods.end_day
GROUP BY periods.period
ORDER BY periods.period
"""
_SQL_PERIOD_MONTHLY = _DAILY + """
SELECT
    date_trunc('month', day)::DATE AS month, booking_type,
    sum(recognized_revenue) AS recognized_revenue, sum(pipeline_revenue) AS pipeline_revenue,
    sum(completed_bookings)::BIGINT AS completed_bookings, sum(started_bookings)::BIGINT AS bookings,
    sum(cancelled_bookings)::BIGINT AS cancelled_bookings
FROM d
WHERE day BETWEEN start_day AND end_day
GROUP BY ALL
ORDER BY month, booking_type
"""
_SQL_PERIOD_PERFORMERS = _DAILY + """
SELECT artist_id, sum(recognized_revenue) AS recognized_revenue, sum(completed_bookings)::BIGINT AS completed_bookings
FROM d
WHERE day BETWEEN start_day AND end_day
GROUP BY artist_id
HAVING sum(completed_bookings) > 0
ORDER BY recognized_revenue DESC, completed_bookings DESC, artist_id
LIMIT 10
"""
_SQL_BOOKING_TYPES = """
SELECT DISTINCT booking_type FROM fct_bookings_daily WHERE tenant_id = ? ORDER BY booking_type
"""
_SQL_ARTISTS = """
WITH present AS (SELECT DISTINCT artist_id FROM fct_bookings_daily WHERE tenant_id = ?)
SELECT present.artist_id,
       coalesce(nullif(trim(dim_artists.stage_name), ''), nullif(trim(dim_artists.artist_name), ''),
                present.artist_id) AS artist_label
FROM present
LEFT JOIN dim_artists ON dim_artists.artist_id = present.artist_id AND dim_artists.tenant_id = ?
ORDER BY lower(artist_label), present.artist_id
"""
_SQL_RECEIVABLES_AGING = """
SELECT bucket_order, aging_bucket, min_days, max_days, outstanding_bookings, outstanding_revenue
FROM fct_receivables_aging WHERE tenant_id = ? ORDER BY bucket_order
"""
_SQL_FUNNEL = """
SELECT stage_order, status, is_funnel_stage, bookings_90d, bookings_all_time
FROM fct_booking_status_funnel WHERE tenant_id = ? ORDER BY stage_order
"""
_SQL_PROJECT_STATUS = """
SELECT status, count(*)::BIGINT AS projects, count(*) FILTER (WHERE is_at_risk)::BIGINT AS at_risk
FROM fct_project_health WHERE tenant_id = ? GROUP BY status ORDER BY status
"""
_SQL_RECENT_ACTIVITY = """
SELECT occurred_at, actor_name, action, entity, summary
FROM fct_recent_activity WHERE tenant_id = ? ORDER BY recency_rank LIMIT ?
"""
# The label page reads the tenant's daily rows once and sums its periods, months and performers
# from them (daily_* below); the _SQL_PERIOD_* statements say the same in SQL (tests compare them).
_SQL_DAILY_ROWS = """
SELECT day, booking_type, artist_id, recognized_revenue, pipeline_revenue, outstanding_revenue,
       completed_bookings, started_bookings, cancelled_bookings
FROM fct_bookings_daily WHERE tenant_id = ?
"""
# every artist's label (stage name, else legal name, else id) in the filter's order
_SQL_ARTIST_LABELS = """
SELECT artist_id,
       coalesce(nullif(trim(stage_name), ''), nullif(trim(artist_name), ''), artist_id) AS artist_label
FROM dim_artists WHERE tenant_id = ?
ORDER BY lower(artist_label), artist_id
"""
_SQL_REVENUE_BY_CURRENCY = """
SELECT currency, sum(recognized_revenue_original) AS recognized_revenue_original,
       sum(recognized_revenue) AS recognized_revenue, sum(completed_bookings)::BIGINT AS completed_bookings
FROM fct_revenue_by_currency WHERE tenant_id = ? AND month BETWEEN ? AND ?
GROUP BY currency
ORDER BY recognized_revenue DESC, currency
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


class SnapshotRef(NamedTuple):
    """A tenant's version as named by its CURRENT pointer at the time of the call."""

    published_dir: str
    tenant_id: str
    version: str


@page_answers.answer_class
@dataclass(frozen=True)
class PeriodTotals:
    """The filtered daily mart summed over one period (money exact, in the base currency)."""

    start: dt.date
    end: dt.date
    recognized_revenue: Decimal
    pipeline_revenue: Decimal
    completed_bookings: int
    bookings: int  # non-draft bookings starting in the period
    cancelled_bookings: int
    active_artists: int  # artists with a non-cancelled booking starting in the period
    outstanding_receivables: Decimal  # completed, not fully paid, serviced up to the period's end

    @property
    def cancellation_rate(self) -> Decimal | None:
        return None if not self.bookings else Decimal(self.cancelled_bookings) / Decimal(self.bookings)


@page_answers.answer_class
@dataclass(frozen=True)
class LabelDashboard:
    """Everything the label dashboard shows, read from one snapshot version for one set of filters."""

    tenant_id: str
    version: str
    meta: dict[str, Any]
    base_currency: str
    as_of: dt.date
    has_bookings: bool
    booking_types: tuple[str, ...]  # the filter's options: types with bookings in the snapshot
    artists: dict[str, str]  # artist id -> stage name (else legal name), options of the artist filter
    filters: Filters
    current: PeriodTotals
    prior: PeriodTotals  # the period just before (filters.prior_period)
    last_year: PeriodTotals  # the same dates a year earlier
    kpis: dict[str, Any] | None  # as-of values: active projects, overdue milestones
    monthly: pl.DataFrame  # month × booking type of the period (money, completed, bookings, cancelled)
    pipeline_monthly: pl.DataFrame  # same, for the months after the period up to the last pipeline month
    top_performers: pl.DataFrame  # rank, artist_id, artist_label, recognized_revenue, completed_bookings
    receivables_aging: pl.DataFrame
    funnel: pl.DataFrame
    project_status: pl.DataFrame
    recent_activity: pl.DataFrame
    revenue_by_currency: pl.DataFrame  # months touched by the period, every booking type and artist


# ---------------------------------------------------------------------------------- plumbing


_published: tuple[tuple, Path] | None = None


def _published_dir() -> Path:
    """The settings' published folder, remembered while what it is derived from (the working
    folder, AUDITORYX_VAR_DIR, AUDITORYX_WAREHOUSE_DIR) is the same: reading every AUDITORYX_*
    variable and resolving the folder took most of a cached page call."""
    global _published
    key = (os.getcwd(), os.environ.get("AUDITORYX_VAR_DIR"), os.environ.get("AUDITORYX_WAREHOUSE_DIR"))
    remembered = _published
    if remembered is not None and remembered[0] == key:
        return remembered[1]
    path = get_settings().published_dir
    _published = (key, path)
    return path


# Blank DuckDB databases kept ready for the next reader (warehouse.reader.keep_connections_warm;
# the login page asks for them too): none, since the pages read the version's files; a statement
# still run on DuckDB (rare: parquet_pages.NeedsSql) makes its database when it needs it.
WARM_CONNECTIONS = 0


_pointers = PointerMemo()  # each tenant's CURRENT and CHECKED_AT, read again when their stat changes
_intact = Lru(4096)     # (published_dir, tenant, version) -> stat signature of the complete folder
_readers = Lru(256)     # (published_dir, tenant, version) -> VersionFiles (the pages' reader)
_sql_readers = Lru(64)  # (published_dir, tenant, version) -> TenantSnapshot (statements without Polars)
_results = Lru(4096)    # (published_dir, tenant, version, sql, params) -> frame
_answers = Lru(1024)    # (published_dir, tenant, version, page, args) -> (answer, checked, shown)


page_answers.answer_class(Filters)
# While publishing composes a version's page answers (dashboards/page_precompute.py): that
# composing's own reader and statement results, dropped when it ends (the publishing process keeps
# nothing of the versions it composes for), instead of the module's caches
_private = contextvars.ContextVar("auditoryx_private_caches", default=None)
# The pages whose answers publishing stores in the version (page_answers.ANSWERS_FILE); False
# composes every first view from the marts' files (benchmarks' "before", tests of that path).
USE_STORED_ANSWERS = True


@contextlib.contextmanager
def private_caches():
    """Compose with caches of this block only (publishing's precompute: the pages of one version
    share its files and results, and nothing outlives the block)."""
    token = _private.set((Lru(4096), Lru(16)))
    try:
        yield
    finally:
        _private.reset(token)


def _result_and_reader_caches() -> tuple[Lru, Lru]:
    private = _private.get()
    return (_results, _readers) if private is None else private


# The pages' keys among the composed answers (``_answers``) and the answers publishing stores
# (dashboards/page_precompute.py): the label dashboard's is (LABEL_PAGE, its sorted query)
LABEL_PAGE = "label"
LABEL_DEFAULT_KEY = (LABEL_PAGE, ())
PROJECTS_KEY = ("projects",)
DATA_QUALITY_KEY = ("data_quality",)

_registered: list[Lru] = []  # other modules' per-version caches (roster_queries), cleared with these


def register_cache(cache: Lru) -> Lru:
    """Have :func:`clear_caches` empty ``cache`` too."""
    _registered.append(cache)
    return cache


def clear_caches() -> None:
    """Forget every reader, result, answer and remembered pointer, and the blank databases kept
    ready: the next call is a first view (benchmarks; Streamlit's own caches are cleared too)."""
    import streamlit as st  # imported here: publishing composes page answers without Streamlit

    for cache in (_pointers, _intact, _readers, _sql_readers, _results, _answers, _prefetched, *_registered):
        cache.clear()
    drain_warm_connections()
    st.cache_data.clear()
    st.cache_resource.clear()


def _current_version(published_dir: Path, tenant_id: str) -> str | None:
    return _pointers.current_version(published_dir, tenant_id)


def _checked_at(published_dir: str, tenant_id: str) -> dt.datetime | None:
    return _pointers.checked_at(published_dir, tenant_id)


def _pointer_ref(tenant_id: str) -> SnapshotRef | None:
    """Like snapshot_ref, but a damaged CURRENT raises PublishedSnapshotDamaged."""
    tenant_id = validate_tenant_id(tenant_id)
    published_dir = _published_dir()
    try:
        version = _current_version(published_dir, tenant_id)
    except DamagedPointer as error:
        log.warning("tenant %s: %s", tenant_id, error)
        raise PublishedSnapshotDamaged(f"tenant {tenant_id}: {error}") from error
    if version is None:
        return None
    return SnapshotRef(str(published_dir), tenant_id, version)


def snapshot_ref(tenant_id: str) -> SnapshotRef | None:
    """The tenant's current version (checks CURRENT now), or None when nothing is published or
    the pointer is damaged (garbage or empty; the version a repairing refresh writes is then new)."""
    try:
        return _pointer_ref(tenant_id)
    except PublishedSnapshotDamaged:
        return None


def _open_snapshot(published_dir: str, tenant_id: str, version: str) -> TenantSnapshot:
    """The confined DuckDB reader of one version (opened once per process, when a statement needs
    it: the pages read the version's files, :func:`_version_files`; versions are immutable)."""
    key = SnapshotRef(published_dir, tenant_id, version)
    snapshot = _sql_readers.get(key)
    if snapshot is None:
        keep_connections_warm(WARM_CONNECTIONS)
        snapshot = _open_version_reader(published_dir, tenant_id, version)
        _sql_readers.put(key, snapshot)
    return snapshot


def _open_version_reader(published_dir: str, tenant_id: str, version: str) -> TenantSnapshot:
    folder = Path(published_dir) / tenant_id / version
    if not folder.is_dir():
        raise SnapshotDamaged(f"tenant {tenant_id}: CURRENT names {version}, whose folder {folder} is missing",
                              tenant_id=tenant_id, path=folder, version=version)
    return open_version_folder(tenant_id, version, folder, optional_tables=PUBLISHED_QUALITY_TABLES,
                               lazy_views=True)


def _version_files(ref: SnapshotRef) -> VersionFiles:
    """The version's Parquet files (checked once per process: complete; versions are immutable)."""
    readers = _result_and_reader_caches()[1]
    files = readers.get(ref)
    if files is None:
        files = open_version_files(ref.published_dir, ref.tenant_id, ref.version, _TABLES)
        readers.put(ref, files)
    return files


def _version_intact(ref: SnapshotRef) -> str | None:
    """Why the version folder cannot serve (missing, incomplete), or None; remembered per stat of
    the folder (deleting or adding a file changes it)."""
    found = stat_signature(f"{ref.published_dir}/{ref.tenant_id}/{ref.version}")
    if found is not None and _intact.get(ref) == found[0]:
        return None
    problem = version_problem(Path(ref.published_dir) / ref.tenant_id, ref.version, _TABLES)
    if problem is None and found is not None and found[1]:
        _intact.put(ref, found[0])
    return problem


def _resolve(tenant_id: str) -> SnapshotRef | None:
    """Current version with an opened (cached) reader; None when nothing was ever published (no
    tenant folder or no CURRENT). Raises PublishedSnapshotDamaged when something was published
    but cannot be read (garbage or empty CURRENT, or one naming a missing or incomplete folder)."""
    ref = _intact_ref(tenant_id)
    if ref is not None:
        _open_reader(ref)
    return ref


def _intact_ref(tenant_id: str) -> SnapshotRef | None:
    """The current version (None: nothing published) after checking its folder is complete."""
    ref = _pointer_ref(tenant_id)
    if ref is None:
        return None
    # a cached reader (and cached results) outlive a deleted or emptied folder: check it (a stat)
    problem = _version_intact(ref)
    if problem is not None:
        log.warning("tenant %s: %s", ref.tenant_id, problem)
        raise PublishedSnapshotDamaged(f"tenant {ref.tenant_id}: {problem}", version=ref.version)
    return ref


def _open_reader(ref: SnapshotRef) -> None:
    try:
        _version_files(ref)
    except SnapshotDamaged as error:  # CURRENT names a folder that is gone or incomplete
        log.warning("%s", error)
        raise PublishedSnapshotDamaged(str(error), version=ref.version) from error


def _version_folder(ref: SnapshotRef) -> Path:
    return Path(ref.published_dir) / ref.tenant_id / ref.version


def _params_key(params: tuple) -> tuple:
    """``params`` hashable (lists as tuples), for the results' key."""
    return tuple(tuple(p) if isinstance(p, list) else p for p in params)


def _query(ref: SnapshotRef, sql: str, *params: Any) -> pl.DataFrame:
    """The statement's rows (the tenant id bound first), from the version's files when Polars
    answers it (``FROM_FILES``), else from the DuckDB reader; cached per version and parameters."""
    key = (ref, sql, _params_key(params))
    results = _result_and_reader_caches()[0]
    frame = results.get(key)
    if frame is None:
        compute = FROM_FILES.get(sql)
        try:
            if compute is None:
                raise NeedsSql("no Polars answer")
            frame = compute(_version_files(ref), *params)
        except NeedsSql:
            frame = _sql_query(ref, sql, *params)
        results.put(key, frame)
    return frame


def _sql_query(ref: SnapshotRef, sql: str, *params: Any) -> pl.DataFrame:
    """The statement run on the version's confined DuckDB reader (not cached)."""
    if _private.get() is not None:  # publishing's precompute: a reader for this statement only
        snapshot = _open_version_reader(ref.published_dir, ref.tenant_id, ref.version)
        try:
            return snapshot.query(sql, [ref.tenant_id, *params])
        finally:
            snapshot.close()
    snapshot = _open_snapshot(ref.published_dir, ref.tenant_id, ref.version)
    return snapshot.query(sql, [ref.tenant_id, *params])


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


def _daily_params(filters: Filters, start: dt.date, end: dt.date) -> tuple:
    return (start, end, list(filters.booking_types), list(filters.artist_ids))


_MONEY_SUM = pl.Decimal(38, 2)  # DuckDB's sum of DECIMAL(18, 2), the type the page's frames had
# the engine of Polars' eager methods: a page's few plans run on it (Polars 2's default for a plan,
# the streaming engine, costs ~0.3 ms a plan against ~0.1 ms for frames of a page's size)
_IN_MEMORY = "in-memory"


def _sum_or_null(column: str, rows: pl.DataFrame | None = None) -> pl.Expr:
    """SQL's sum: NULL when every value is NULL (Polars would give 0). A plain sum when ``rows``
    hold no NULL in ``column`` (the same values; the conditional costs planning time)."""
    if rows is not None and not rows.get_column(column).has_nulls():
        return pl.col(column).sum()
    return pl.when(pl.col(column).is_not_null().any()).then(pl.col(column).sum()).otherwise(None)


def daily_filtered(daily: pl.DataFrame, filters: Filters) -> pl.DataFrame:
    """The tenant's daily rows of the chosen booking types and artists (none chosen: all). Pure."""
    rows = daily
    if filters.booking_types:
        rows = rows.filter(pl.col("booking_type").is_in(list(filters.booking_types)))
    if filters.artist_ids:
        rows = rows.filter(pl.col("artist_id").is_in(list(filters.artist_ids)))
    return rows


def daily_period_totals(rows: pl.DataFrame, periods: tuple[tuple[dt.date, dt.date], ...]) -> list[PeriodTotals]:
    """Totals of each period over filtered daily rows (as _SQL_PERIOD_TOTALS), every period in
    one pass over the rows (one plan: each costs a tenth of a millisecond or more). Pure."""
    sums = []
    for index, (start, end) in enumerate(periods):
        inside = pl.col("day").is_between(start, end)
        active = inside & (pl.col("started_bookings") > pl.col("cancelled_bookings"))
        sums += [pl.col(column).filter(inside).sum().alias(f"{column}{index}")
                 for column in ("recognized_revenue", "pipeline_revenue", "completed_bookings", "started_bookings",
                                "cancelled_bookings")]
        sums += [pl.col("artist_id").filter(active).drop_nulls().n_unique().alias(f"active_artists{index}"),
                 pl.col("outstanding_revenue").filter(pl.col("day") <= end).sum().alias(f"outstanding{index}")]
    if not sums:
        return []
    values = rows.lazy().select(sums).collect(engine=_IN_MEMORY).row(0, named=True)
    return [PeriodTotals(
        start=start, end=end,
        recognized_revenue=Decimal(values[f"recognized_revenue{index}"]),
        pipeline_revenue=Decimal(values[f"pipeline_revenue{index}"]),
        completed_bookings=int(values[f"completed_bookings{index}"]), bookings=int(values[f"started_bookings{index}"]),
        cancelled_bookings=int(values[f"cancelled_bookings{index}"]),
        active_artists=int(values[f"active_artists{index}"]),
        outstanding_receivables=Decimal(values[f"outstanding{index}"]),
    ) for index, (start, end) in enumerate(periods)]


def daily_monthly(rows: pl.DataFrame, start: dt.date, end: dt.date) -> pl.DataFrame:
    """Month × booking type of the period over filtered daily rows (as _SQL_PERIOD_MONTHLY). Pure."""
    return (rows.lazy().filter(pl.col("day").is_between(start, end))
            .group_by(pl.col("day").dt.truncate("1mo").alias("month"), "booking_type")
            .agg(_sum_or_null("recognized_revenue", rows).cast(_MONEY_SUM).alias("recognized_revenue"),
                 _sum_or_null("pipeline_revenue", rows).cast(_MONEY_SUM).alias("pipeline_revenue"),
                 _sum_or_null("completed_bookings", rows).cast(pl.Int64).alias("completed_bookings"),
                 _sum_or_null("started_bookings", rows).cast(pl.Int64).alias("bookings"),
                 _sum_or_null("cancelled_bookings", rows).cast(pl.Int64).alias("cancelled_bookings"))
            .sort(["month", "booking_type"], nulls_last=True).collect(engine=_IN_MEMORY))


def daily_performers(rows: pl.DataFrame, start: dt.date, end: dt.date, limit: int = TOP_PERFORMERS_LIMIT) -> pl.DataFrame:
    """Artists by recognized revenue in the period (as _SQL_PERIOD_PERFORMERS). Pure."""
    return (rows.lazy().filter(pl.col("day").is_between(start, end))
            .group_by("artist_id")
            .agg(_sum_or_null("recognized_revenue", rows).cast(_MONEY_SUM).alias("recognized_revenue"),
                 _sum_or_null("completed_bookings", rows).cast(pl.Int64).alias("completed_bookings"))
            .filter(pl.col("completed_bookings") > 0)
            .sort(["recognized_revenue", "completed_bookings", "artist_id"], descending=[True, True, False],
                  nulls_last=True)
            .head(limit).collect(engine=_IN_MEMORY))


def _daily_rows(ref: SnapshotRef) -> pl.DataFrame:
    """The tenant's fct_bookings_daily rows (_SQL_DAILY_ROWS; not kept: a large tenant's are many,
    and each composed answer that needs them is kept instead)."""
    return parquet_pages.daily_rows(_version_files(ref))


def _pipeline_after(monthly_after: pl.DataFrame) -> pl.DataFrame:
    """Months after the period, up to the last one with pipeline revenue (none when no pipeline)."""
    with_pipeline = monthly_after.filter(pl.col("pipeline_revenue") != 0)
    if with_pipeline.is_empty():
        return monthly_after.clear()
    return monthly_after.filter(pl.col("month") <= with_pipeline["month"].max())


def _booking_types(daily: pl.DataFrame) -> tuple[str, ...]:
    return tuple(daily["booking_type"].unique().sort(nulls_last=True).to_list())


def _artists(ref: SnapshotRef, daily: pl.DataFrame) -> dict[str, str]:
    """Artists with daily rows → label, in the filter's order."""
    present = daily["artist_id"].unique()
    labels = _query(ref, _SQL_ARTIST_LABELS)
    known = labels.filter(pl.col("artist_id").is_in(present.implode()))
    if present.null_count() or known.height != present.len():  # an artist missing from dim_artists
        frame = _query(ref, _SQL_ARTISTS, ref.tenant_id)
        return dict(zip(frame["artist_id"].to_list(), frame["artist_label"].to_list()))
    return dict(zip(known["artist_id"].to_list(), known["artist_label"].to_list()))


def _top_performers(performers: pl.DataFrame, artists: dict[str, str]) -> pl.DataFrame:
    labels = [artists.get(artist_id, artist_id) for artist_id in performers["artist_id"].to_list()]
    return performers.select(
        pl.int_range(1, performers.height + 1, dtype=pl.Int64).alias("rank"),
        "artist_id",
        pl.Series("artist_label", labels, dtype=pl.String),
        "recognized_revenue",
        "completed_bookings",
    )


def _month_of(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _label_dashboard(ref: SnapshotRef, query: Mapping[str, Any]) -> LabelDashboard:
    meta = _checked_meta(ref)
    as_of = meta["as_of"]
    kpis = _kpis(ref)
    base_currency = meta.get("base_currency") or (kpis or {}).get("base_currency") or "USD"
    daily = _daily_rows(ref)
    booking_types, artists = _booking_types(daily), _artists(ref, daily)
    filters = parse_query(query, as_of, booking_types, artists)
    rows = daily_filtered(daily, filters)
    current, prior, last_year = daily_period_totals(rows, (
        (filters.start, filters.end), prior_period(filters.start, filters.end),
        same_period_last_year(filters.start, filters.end)))
    after = filters.end + dt.timedelta(days=1)
    return LabelDashboard(
        tenant_id=ref.tenant_id,
        version=ref.version,
        meta=meta,
        base_currency=base_currency,
        as_of=as_of,
        has_bookings=bool(booking_types),
        booking_types=booking_types,
        artists=artists,
        filters=filters,
        current=current,
        prior=prior,
        last_year=last_year,
        kpis=kpis,
        monthly=daily_monthly(rows, filters.start, filters.end),
        pipeline_monthly=_pipeline_after(
            daily_monthly(rows, after, add_months(after, PIPELINE_MONTHS_AHEAD) - dt.timedelta(days=1))),
        top_performers=_top_performers(daily_performers(rows, filters.start, filters.end), artists),
        receivables_aging=_query(ref, _SQL_RECEIVABLES_AGING),
        funnel=_query(ref, _SQL_FUNNEL),
        project_status=_query(ref, _SQL_PROJECT_STATUS),
        recent_activity=_query(ref, _SQL_RECENT_ACTIVITY, RECENT_ACTIVITY_LIMIT),
        revenue_by_currency=_query(ref, _SQL_REVENUE_BY_CURRENCY, _month_of(filters.start), _month_of(filters.end)),
    )


# ------------------------------------------------------------------------------ public API


def snapshot_meta(tenant_id: str) -> dict[str, Any] | None:
    ref = _resolve(tenant_id)
    return None if ref is None else _with_last_check(ref, _meta(ref))


def label_dashboard(tenant_id: str, query: Mapping[str, Any] | None = None) -> LabelDashboard | None:
    """All data of the label dashboard from one version, for the filters in ``query`` (the page's
    URL query: period, from, to, type, artist; anything invalid gives the defaults, see
    dashboards/filters.py); None when nothing was ever published.

    Raises :class:`PublishedSnapshotDamaged` when something was published but the pointer or its
    version folder is damaged, and :class:`DashboardUnavailable` (its base class) when the
    snapshot does not read as expected.
    """
    key = tuple(sorted((str(k), str(v)) for k, v in (query or {}).items() if isinstance(v, str)))
    return _read_snapshot(tenant_id, lambda ref: _label_dashboard(ref, dict(key)), key=(LABEL_PAGE, key))


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

# Each statement the pages run -> the Polars function answering it from the version's files
# (dashboards/parquet_pages.py; called with the version's files and the statement's parameters
# after the tenant id). quality_queries and roster_queries add theirs. The _SQL_PERIOD_* statements
# have none: the label page sums the daily rows (daily_* above); tests compare those with the SQL.
FROM_FILES: dict[str, Callable[..., pl.DataFrame]] = {
    _SQL_META: parquet_pages.meta,
    _SQL_KPIS: parquet_pages.kpis,
    _SQL_DAILY_ROWS: parquet_pages.daily_rows,
    _SQL_BOOKING_TYPES: parquet_pages.booking_types,
    _SQL_ARTIST_LABELS: parquet_pages.artist_labels,
    _SQL_ARTISTS: parquet_pages.artists,
    _SQL_RECEIVABLES_AGING: parquet_pages.receivables_aging,
    _SQL_FUNNEL: parquet_pages.funnel,
    _SQL_PROJECT_STATUS: parquet_pages.project_status,
    _SQL_RECENT_ACTIVITY: parquet_pages.recent_activity,
    _SQL_REVENUE_BY_CURRENCY: parquet_pages.revenue_by_currency,
    _SQL_PROJECT_HEALTH: parquet_pages.project_health,
    _SQL_META_ROW_COUNTS: parquet_pages.meta_row_counts,
}


@page_answers.answer_class
@dataclass(frozen=True)
class ProjectHealth:
    """The projects page's data: every project's health row, from one snapshot version."""

    tenant_id: str
    version: str
    meta: dict[str, Any]
    base_currency: str
    as_of: dt.date
    projects: pl.DataFrame  # at-risk projects first, then by name


@page_answers.answer_class
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


def _with_last_check(ref: SnapshotRef, meta: dict[str, Any]) -> dict[str, Any]:
    """``meta`` with ``refreshed_at`` the later of the version's and the tenant folder's CHECKED_AT
    (a refresh that found nothing changed keeps the version but still checked it). Read on every
    call, outside the per-version caches."""
    checked = _checked_at(ref.published_dir, ref.tenant_id)
    refreshed = last_refresh(meta.get("refreshed_at"), checked)
    return meta if refreshed is meta.get("refreshed_at") else {**meta, "refreshed_at": refreshed}


def _read_snapshot(tenant_id: str, build: Callable[[SnapshotRef], Any], key: tuple | None = None,
                   stored: Callable[[SnapshotRef], Any] | None = None):
    """``build(ref)`` on the tenant's current version, with label_dashboard's error contract; the
    answer's meta shows the last check time (:func:`_with_last_check`). With ``key`` (the page and
    its arguments) the answer is composed once per version and shared: a rerun costs the pointer's
    and the folder's stat and a lookup. A first view takes the answer publishing stored in the
    version when there is one (``stored(ref)``, by default the stored answer of ``key``)."""
    ref = _intact_ref(tenant_id)
    if ref is None:
        return None
    memo = None if key is None else (ref, key)
    if memo is not None:
        found = _answers.get(memo)
        if found is not None:
            answer, checked, shown = found
            now_checked = _checked_at(ref.published_dir, ref.tenant_id)
            if now_checked == checked:
                return shown
            shown = _shown(answer, ref, now_checked)
            _answers.put(memo, (answer, now_checked, shown))
            return shown
    answer = None
    if USE_STORED_ANSWERS and key is not None:  # the answer publishing stored, else composed now
        answer = stored(ref) if stored is not None else _stored_answer(ref, key)
    try:
        if answer is None:
            _open_reader(ref)
            answer = build(ref)
    except (duckdb.Error, pl.exceptions.PolarsError, OSError, SnapshotNotFound) as exc:
        log.exception("tenant %s snapshot %s unreadable", ref.tenant_id, ref.version)
        if not _version_folder(ref).is_dir():
            raise PublishedSnapshotDamaged(f"snapshot {ref.version} could not be read", version=ref.version) from exc
        raise DashboardUnavailable(f"snapshot {ref.version} could not be read") from exc
    checked = _checked_at(ref.published_dir, ref.tenant_id)
    shown = _shown(answer, ref, checked)
    if memo is not None:
        _answers.put(memo, (answer, checked, shown))
    return shown


def _stored_answer(ref: SnapshotRef, key: tuple):
    """The page's answer publishing stored in the version (dashboards/page_answers.py), or None
    (not stored, or stored by other code: composed as usual; a damaged file is logged)."""
    try:
        return page_answers.read_answer(parquet_pages.version_folder(ref.published_dir, ref.tenant_id, ref.version),
                                        ref.tenant_id, ref.version, key)
    except (page_answers.AnswerFileError, OSError) as error:
        log.warning("tenant %s snapshot %s: stored page answer not used: %s", ref.tenant_id, ref.version, error)
        return None


def _shown(answer, ref: SnapshotRef, checked: dt.datetime | None):
    """``answer`` with its meta's ``refreshed_at`` the later of the version's and ``checked``."""
    if not (dataclasses.is_dataclass(answer) and isinstance(getattr(answer, "meta", None), dict)):
        return answer
    refreshed = last_refresh(answer.meta.get("refreshed_at"), checked)
    if refreshed is answer.meta.get("refreshed_at"):
        return answer
    return dataclasses.replace(answer, meta={**answer.meta, "refreshed_at": refreshed})


def _project_health(ref: SnapshotRef) -> ProjectHealth:
    meta = _checked_meta(ref)
    return ProjectHealth(tenant_id=ref.tenant_id, version=ref.version, meta=meta,
                         base_currency=meta.get("base_currency") or "USD", as_of=meta["as_of"],
                         projects=_query(ref, _SQL_PROJECT_HEALTH))


def project_health(tenant_id: str) -> ProjectHealth | None:
    """Every project of the tenant's current snapshot (fct_project_health); None when nothing was
    ever published. Errors as :func:`label_dashboard`."""
    return _read_snapshot(tenant_id, _project_health, key=PROJECTS_KEY)


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
    except (duckdb.BinderException, pl.exceptions.ColumnNotFoundError):  # published before meta had row counts
        raw = None
    return DataQuality(tenant_id=ref.tenant_id, version=ref.version, meta=meta, row_counts=parse_row_counts(raw))


def data_quality(tenant_id: str) -> DataQuality | None:
    """Refresh time, version and source row counts of the tenant's current snapshot; None when
    nothing was ever published. Errors as :func:`label_dashboard`."""
    return _read_snapshot(tenant_id, _data_quality, key=DATA_QUALITY_KEY)


PREFETCH_DELAY_SECONDS = 1.0  # after the page that asks has been drawn, before the person switches
_prefetched = Lru(1024)  # SnapshotRef -> True: the version whose other pages were composed already


def prefetch_pages(tenant_id: str) -> None:
    """Compose the projects and data-quality pages' data of the tenant's current version in a
    background thread (once per version), so that switching to them is a cached call. Only warms
    the per-tenant, per-version caches: each page still checks what its user may see."""
    ref = snapshot_ref(tenant_id)
    if ref is None or _prefetched.get(ref):
        return
    _prefetched.put(ref, True)
    threading.Thread(target=_prefetch, args=(ref,), name="auditoryx-prefetch", daemon=True).start()


def _prefetch(ref: SnapshotRef) -> None:
    from dashboards.quality_queries import data_quality_details  # it imports this module

    time.sleep(PREFETCH_DELAY_SECONDS)
    tenant_id = ref.tenant_id
    for compose in (project_health, data_quality_details):
        if str(_published_dir()) != ref.published_dir:  # the settings moved on (tests): nothing to warm
            return
        try:
            compose(tenant_id)
        except Exception:  # noqa: BLE001 - the page itself reports it when it is opened
            log.debug("tenant %s: prefetching %s failed", tenant_id, compose.__name__, exc_info=True)


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
