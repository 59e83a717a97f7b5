"""Snapshot reads for the roster's per-artist view: lifetime totals (dim_artists) and monthly
performance (fct_artist_performance_monthly) of one artist of the logged-in tenant.

Same rules as dashboards/queries.py (whose plumbing this uses): the tenant id comes from the
session, every statement binds it first and the artist id as a value, results are cached per
tenant, version, statement and parameters, and a newly published version is read on the next call.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import polars as pl

from dashboards import page_answers, parquet_pages
from dashboards.queries import (FROM_FILES, SnapshotRef, _checked_meta, _query, _read_snapshot, _stored_answer,
                                _version_files, add_months, register_cache)
from warehouse.pointer_memo import Lru

_SQL_ARTIST_LIFETIME = """
SELECT artist_id, artist_name, stage_name, verification_status, rating, is_active, base_currency,
       completed_bookings, recognized_revenue, hours_delivered, first_service_date, last_service_date
FROM dim_artists
WHERE tenant_id = ? AND artist_id = ?
"""
_SQL_ARTIST_MONTHLY = """
SELECT month, completed_bookings, recognized_revenue, hours_delivered
FROM fct_artist_performance_monthly
WHERE tenant_id = ? AND artist_id = ?
ORDER BY month
"""
FROM_FILES.update({_SQL_ARTIST_LIFETIME: parquet_pages.artist_lifetime,
                   _SQL_ARTIST_MONTHLY: parquet_pages.artist_monthly})
MONTHLY_COLUMNS = {"month": pl.Date, "completed_bookings": pl.Int64, "recognized_revenue": pl.Decimal(18, 2),
                   "hours_delivered": pl.Float64}
_MONTHLY_SCHEMA = pl.Schema(MONTHLY_COLUMNS)
MAX_MONTHS = 36  # the chart shows at most the last three years of an artist's activity


@page_answers.answer_class
@dataclass(frozen=True)
class ArtistAnalytics:
    """One artist's numbers from one snapshot version."""

    tenant_id: str
    version: str
    meta: dict[str, Any]
    base_currency: str
    as_of: dt.date
    lifetime: dict[str, Any] | None  # the dim_artists row; None when the artist is not in this version
    monthly: pl.DataFrame  # every month with completed bookings (MONTHLY_COLUMNS), oldest first


def _artist_analytics(ref: SnapshotRef, artist_id: str) -> ArtistAnalytics:
    meta = _checked_meta(ref)
    return artist_analytics_of(ref, meta, _query(ref, _SQL_ARTIST_LIFETIME, artist_id),
                               _query(ref, _SQL_ARTIST_MONTHLY, artist_id))


def artist_analytics_of(ref: SnapshotRef, meta: dict[str, Any], lifetime: pl.DataFrame,
                        monthly: pl.DataFrame) -> ArtistAnalytics:
    """The artist page's answer from its two statements' rows (_SQL_ARTIST_LIFETIME,
    _SQL_ARTIST_MONTHLY). Pure."""
    if monthly.schema != _MONTHLY_SCHEMA:
        monthly = monthly.select([pl.col(name).cast(dtype) for name, dtype in MONTHLY_COLUMNS.items()])
    return ArtistAnalytics(tenant_id=ref.tenant_id, version=ref.version, meta=meta,
                           base_currency=meta.get("base_currency") or "USD", as_of=meta["as_of"],
                           lifetime=lifetime.row(0, named=True) if lifetime.height else None, monthly=monthly)


@page_answers.answer_class
@dataclass(frozen=True)
class ArtistRows:
    """Every artist's rows of the artist page's two statements in one version (stored at publish
    time: an artist page's first view selects its artist's rows from them)."""

    tenant_id: str
    version: str
    meta: dict[str, Any]
    lifetime: pl.DataFrame  # dim_artists' rows, LIFETIME_COLUMNS, sorted by artist id
    monthly: pl.DataFrame  # artist_id and the monthly statement's columns (MONTHLY_COLUMNS' types), by artist id
    index: pl.DataFrame  # where each artist's rows are (parquet_pages.artist_index)


ARTIST_ROWS_KEY = ("artists",)  # its key among the version's stored answers
_artist_rows = register_cache(Lru(64))  # SnapshotRef -> ArtistRows read from the version's stored answers, or None


def every_artist_rows(ref: SnapshotRef) -> ArtistRows:
    """The version's :class:`ArtistRows` (publishing's precompute)."""
    meta = _checked_meta(ref)
    lifetime, monthly = parquet_pages.every_artists_rows(_version_files(ref))
    monthly = monthly.with_columns([pl.col(name).cast(dtype) for name, dtype in MONTHLY_COLUMNS.items()])
    return ArtistRows(tenant_id=ref.tenant_id, version=ref.version, meta=meta, lifetime=lifetime, monthly=monthly,
                      index=parquet_pages.artist_index(lifetime, monthly))


def artist_from_rows(ref: SnapshotRef, rows: ArtistRows, artist_id: str) -> ArtistAnalytics:
    """The artist page's answer from the stored rows: what :func:`_artist_analytics` composes
    from the files (tests compare them for every artist). Pure."""
    return artist_analytics_of(ref, rows.meta,
                               *parquet_pages.one_artists_rows(rows.lifetime, rows.monthly, rows.index, artist_id))


def _stored_artist_rows(ref: SnapshotRef) -> ArtistRows | None:
    rows = _artist_rows.get(ref, False)
    if rows is False:
        rows = _stored_answer(ref, ARTIST_ROWS_KEY)
        _artist_rows.put(ref, rows)
    return rows


def _stored_artist(ref: SnapshotRef, artist_id: str) -> ArtistAnalytics | None:
    rows = _stored_artist_rows(ref)
    return None if rows is None else artist_from_rows(ref, rows, artist_id)


def completed_bookings_of(lifetime: pl.DataFrame) -> dict[str, int]:
    """Artist id → completed bookings of dim_artists' rows (``artist_id``, ``completed_bookings``). Pure."""
    return {artist_id: int(count or 0) for artist_id, count in
            zip(lifetime.get_column("artist_id").to_list(), lifetime.get_column("completed_bookings").to_list())
            if artist_id is not None}


def _completed_bookings(ref: SnapshotRef) -> dict[str, int]:
    return completed_bookings_of(_version_files(ref).table("dim_artists", ("artist_id", "completed_bookings")))


def _stored_completed_bookings(ref: SnapshotRef) -> dict[str, int] | None:
    rows = _stored_artist_rows(ref)
    return None if rows is None else completed_bookings_of(rows.lifetime)


def completed_bookings_by_artist(tenant_id: str) -> dict[str, int] | None:
    """Each artist's completed bookings in the tenant's current snapshot (dim_artists), by artist
    id, for the roster's list; None when nothing was ever published. Errors as
    :func:`dashboards.queries.label_dashboard`."""
    return _read_snapshot(tenant_id, _completed_bookings, key=("artist_completed_bookings",),
                          stored=_stored_completed_bookings)


def artist_analytics(tenant_id: str, artist_id: str) -> ArtistAnalytics | None:
    """The artist's lifetime totals and monthly performance in the tenant's current snapshot; None
    when nothing was ever published. Errors as :func:`dashboards.queries.label_dashboard`.

    The caller has already found ``artist_id`` among the tenant's artists; an id of any other tenant
    matches nothing here anyway (the reader is confined to the tenant and the tenant id is bound)."""
    artist_id = str(artist_id)
    return _read_snapshot(tenant_id, lambda ref: _artist_analytics(ref, artist_id), key=("artist", artist_id),
                          stored=lambda ref: _stored_artist(ref, artist_id))


def monthly_series(monthly: pl.DataFrame, as_of: dt.date, max_months: int = MAX_MONTHS) -> pl.DataFrame:
    """Every month from the artist's first month with completed bookings (at most ``max_months``
    back) to the as-of month, months without any as zeros: a quiet month is a real zero."""
    last = as_of.replace(day=1)
    if not monthly.is_empty():
        last = max(last, monthly["month"].max())
    first = monthly["month"].min() if not monthly.is_empty() else last
    first = max(first, add_months(last, -(max_months - 1)))
    months = []
    current = first
    while current <= last:
        months.append(current)
        current = add_months(current, 1)
    grid = pl.DataFrame({"month": months}, schema={"month": pl.Date})
    return (grid.join(monthly, on="month", how="left")
            .with_columns(pl.col("completed_bookings").fill_null(0),
                          pl.col("recognized_revenue").fill_null(pl.lit(0).cast(pl.Decimal(18, 2))),
                          pl.col("hours_delivered").fill_null(0.0))
            .select(list(MONTHLY_COLUMNS)))
