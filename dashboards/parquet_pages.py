"""The executive pages' statements answered from a version's Parquet files with Polars.

A published tenant version is a folder of small, immutable Parquet files (warehouse/layout.py).
Opening a confined DuckDB reader over it costs tens of milliseconds (creating the in-memory
database, then a few ms to plan each statement and bind each view), where reading the few columns
a statement needs and computing its answer in Polars costs a fraction of a millisecond. The
pages' data (dashboards/queries.py, quality_queries.py, roster_queries.py) is therefore computed
here; the ``_SQL_*`` statements of those modules stay the definitions, and each function below
answers exactly what one of them answers through the DuckDB reader:

- the same rows, in the same order: SQL's ``ORDER BY`` with DuckDB's default ``NULLS LAST`` (in
  both directions), ties in the file's order (which the SQL leaves unspecified); a statement
  without ``ORDER BY`` reads the view, i.e. the table's natural order (warehouse.mart_catalog);
- the same column names and types: DuckDB's (a sum of DECIMAL(p, s) is DECIMAL(38, s), counts are
  BIGINT, time-zone-aware times come in DuckDB's session time zone, :func:`duckdb_time_zone`);
- ``lower()`` and ``trim()`` as DuckDB's: ``trim`` removes space separators (not tabs); ``lower``
  maps each character on its own, where Polars' Unicode lowercase differs for a few characters
  (final sigma, dotted capital I, capitals of Unicode 16): labels holding one are sorted by DuckDB
  instead (:class:`NeedsSql`, the only case where a page still opens a DuckDB reader).

Cost of a statement (DuckDB-written files of a few rows): the file read at once (~0.01 ms),
decoded by pyarrow on the calling thread (~0.15 ms), the tenant filter and time zones in Arrow
(microseconds), one Polars frame (~0.1 ms) and at most one Polars plan run in memory (~0.1 ms;
Polars 2 runs plans on its streaming engine by default, ~0.3 ms each). Files of more than
``ARROW_ROWS`` rows go through Polars' own reader (pyarrow decodes a 160,000-row daily mart in
~25 ms, Polars in ~5).

tests/dashboards/test_parquet_pages.py compares every function with its statement on a two-tenant
world. Isolation is the reader's: a :class:`VersionFiles` is made only from a validated tenant id
and version (``warehouse.layout.version_dir``), reads only the files of the tables it knows, each
a regular file directly inside the resolved version folder (no link leads out of it), and every
frame it gives is filtered on ``tenant_id`` = the session's tenant (defence in depth, as every
statement binds the tenant id). Pure functions (frames in, frame out) hold the logic.
"""
from __future__ import annotations

import datetime as dt
import errno
import functools
import os
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from warehouse.layout import META_TABLE, PUBLISHED_MARTS, PUBLISHED_QUALITY_TABLES, version_dir
from warehouse.mart_catalog import order_columns
from warehouse.reader import SnapshotDamaged

KNOWN_TABLES = frozenset((*PUBLISHED_MARTS, META_TABLE, *PUBLISHED_QUALITY_TABLES))
ARROW_ROWS = 2048  # files of more rows are decoded by Polars' reader (VersionFiles.table)


class NeedsSql(Exception):
    """This statement's answer for these rows is DuckDB's to give (e.g. a ``lower()`` Polars
    would compute differently): the caller runs the statement on the DuckDB reader instead."""


# ----------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class VersionFiles:
    """The Parquet files of one tenant's version: what a page reads instead of a DuckDB reader."""

    tenant_id: str
    version: str
    folder: Path  # resolved

    def table(self, table: str, columns: Sequence[str],
              where: Mapping[str, str] | None = None) -> pl.DataFrame:
        """``columns`` of the tenant's rows of ``table`` (and of those whose columns equal
        ``where``'s values, as ``WHERE column = ?``), in the file's order, typed as DuckDB gives
        them. A missing column raises ``polars.exceptions.ColumnNotFoundError`` (DuckDB: a
        binder error), a missing file ``FileNotFoundError``, an unreadable one
        ``polars.exceptions.ComputeError``.

        A file of a few rows is decoded by pyarrow on this thread and stays Arrow until the end
        (Polars' reader and plans cost a few tenths of a millisecond each, Arrow's steps here
        microseconds); a larger one by Polars' reader (pyarrow decodes a 160,000-row daily mart
        in ~25 ms, Polars in ~5)."""
        equal = {**(where or {}), "tenant_id": self.tenant_id}
        wanted = list(dict.fromkeys((*equal, *columns)))
        data = self._bytes(table)
        try:
            parquet = pq.ParquetFile(pa.BufferReader(data), pre_buffer=False)
            names = set(parquet.schema_arrow.names)
            missing = [c for c in wanted if c not in names]
            if missing:
                raise pl.exceptions.ColumnNotFoundError(f"{table} of snapshot {self.version} lacks {missing}")
            if parquet.metadata.num_rows <= ARROW_ROWS:
                rows = only_rows(parquet.read(columns=wanted, use_threads=False), equal)
                return pl.from_arrow(arrow_like_duckdb(rows.select(list(columns))), rechunk=False)
        except pa.ArrowException as error:  # not Parquet, truncated…: unreadable, as for DuckDB
            raise pl.exceptions.ComputeError(f"{table} of snapshot {self.version}: {error}") from error
        frame = only_frame_rows(pl.read_parquet(data, columns=wanted), equal)
        return polars_like_duckdb(pl.DataFrame([frame.get_column(name) for name in columns]))

    def _bytes(self, table: str) -> bytes:
        """The file of ``table``: a regular file directly in the version folder (a link is
        refused, not followed), read at once."""
        if table not in KNOWN_TABLES:
            raise ValueError(f"not a published table: {table!r}")
        path = os.path.join(self.folder, f"{table}.parquet")
        try:
            handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise self._damaged(f"{table} is a link") from error
            raise
        with open(handle, "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                raise self._damaged(f"{table} is not a file")
            return file.read()

    def _damaged(self, reason: str) -> SnapshotDamaged:
        return SnapshotDamaged(f"snapshot {self.version} of tenant {self.tenant_id}: {reason}",
                               tenant_id=self.tenant_id, path=self.folder, version=self.version)


def version_folder(published_dir: str | Path, tenant_id: str, version: str) -> Path:
    """The version's folder (tenant id and version validated: they become folder names), resolved."""
    return version_dir(Path(published_dir), tenant_id, version).resolve()


def open_version_files(published_dir: str | Path, tenant_id: str, version: str,
                       tables: Sequence[str]) -> VersionFiles:
    """The version's files (tenant id and version validated: they become folder names); each of
    ``tables`` must be there (SnapshotDamaged otherwise, as when opening a DuckDB reader)."""
    folder = version_dir(Path(published_dir), tenant_id, version)
    if not folder.is_dir():
        raise SnapshotDamaged(f"tenant {tenant_id}: CURRENT names {version}, whose folder {folder} is missing",
                              tenant_id=tenant_id, path=folder, version=version)
    folder = folder.resolve()
    present = set(os.listdir(folder))  # one call, not a stat per table (each file is checked when read)
    for table in tables:
        if f"{table}.parquet" not in present:
            path = folder / f"{table}.parquet"
            raise SnapshotDamaged(f"snapshot {version} of tenant {tenant_id} lacks {table} ({path})",
                                  tenant_id=tenant_id, path=folder, version=version)
    return VersionFiles(tenant_id=tenant_id, version=version, folder=folder)


def only_rows(rows: pa.Table, equal: Mapping[str, str]) -> pa.Table:
    """The rows whose columns equal ``equal``'s values (``tenant_id``: a version holds no other
    tenant, but every frame is filtered; a NULL is nobody's). Pure."""
    keep = None
    for column, value in equal.items():
        same = pc.equal(rows.column(column), pa.scalar(value, pa.string()))
        keep = same if keep is None else pc.and_kleene(keep, same)
    if keep is None or pc.all(keep, skip_nulls=False).as_py() is True:  # every row: no copy
        return rows
    return rows.filter(keep)


@functools.cache
def duckdb_time_zone() -> str:
    """The zone DuckDB gives time-zone-aware times in: its ``TimeZone`` setting, by default the
    host's zone as ICU finds it (``TZ``, else the zone ``/etc/localtime`` links to), else UTC.
    Read once, on first use (tests compare it with DuckDB's own answer on this host)."""
    name = (os.environ.get("TZ") or "").lstrip(":")
    if not name:
        target = os.path.realpath("/etc/localtime")
        name = target.split("/zoneinfo/", 1)[1] if "/zoneinfo/" in target else ""
    if name.startswith(("posix/", "right/")):
        name = name.split("/", 1)[1]
    try:
        pl.Series([dt.datetime(2000, 1, 1)]).dt.replace_time_zone("UTC").dt.convert_time_zone(name)
    except Exception:  # noqa: BLE001 - not a zone Polars knows: DuckDB's fallback
        return "UTC"
    return name


def only_frame_rows(frame: pl.DataFrame, equal: Mapping[str, str]) -> pl.DataFrame:
    """:func:`only_rows` for a Polars frame. Pure."""
    for column, value in equal.items():
        same = frame.get_column(column) == value
        if same.sum() != frame.height:
            frame = frame.filter(same)
    return frame


def polars_like_duckdb(frame: pl.DataFrame) -> pl.DataFrame:
    """:func:`arrow_like_duckdb` for a Polars frame. Pure but for the host's zone."""
    changes = []
    for name, dtype in frame.schema.items():
        if not isinstance(dtype, pl.Datetime) or dtype.time_unit == "ns":
            continue
        zone = None if dtype.time_zone is None else duckdb_time_zone()
        if dtype.time_unit != "us" or dtype.time_zone != zone:
            changes.append(pl.col(name).cast(pl.Datetime("us", dtype.time_zone)).dt.convert_time_zone(zone)
                           if zone else pl.col(name).cast(pl.Datetime("us")))
    return frame.with_columns(changes) if changes else frame


def arrow_like_duckdb(rows: pa.Table) -> pa.Table:
    """``rows`` with the types DuckDB gives the same Parquet columns: time-zone-aware times in
    DuckDB's session zone (the same instants), millisecond and second times as microseconds.
    Pure but for the host's zone."""
    for index, field in enumerate(rows.schema):
        kind = field.type
        if not pa.types.is_timestamp(kind) or kind.unit == "ns":
            continue
        zone = None if kind.tz is None else duckdb_time_zone()
        if kind.unit != "us" or kind.tz != zone:
            rows = rows.set_column(index, field.name, rows.column(index).cast(pa.timestamp("us", tz=zone)))
    return rows


# ----------------------------------------------------------------------- SQL's semantics, pure

Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)  # the pure functions compute or plan alike


def sql_sorted(frame: Frame, by: Sequence[str], descending: Sequence[bool] | None = None) -> Frame:
    """SQL's ``ORDER BY by`` as DuckDB runs it (NULLS LAST in both directions; ties kept in the
    frame's order). Pure."""
    descending = list(descending or [False] * len(by))
    if not by or (isinstance(frame, pl.DataFrame) and frame.height <= 1):
        return frame
    if isinstance(frame, pl.DataFrame) and len(by) == 1 \
            and frame.get_column(by[0]).is_sorted(descending=descending[0], nulls_last=True):
        return frame  # in order already (usual for a mart's own order): a stable sort changes nothing
    return frame.sort(list(by), descending=descending, nulls_last=True, maintain_order=True)


def sql_sum(column: str, dtype: pl.DataType) -> pl.Expr:
    """SQL's ``sum(column)``: NULL when every value is NULL, DuckDB's type (DECIMAL(38, s) for a
    DECIMAL, DOUBLE for a float, HUGEINT for an integer). Pure."""
    if isinstance(dtype, pl.Decimal):
        result: pl.DataType = pl.Decimal(38, dtype.scale)
    elif dtype.is_float():
        result = pl.Float64
    else:
        result = pl.Int128
    column_expr = pl.col(column)
    return (pl.when(column_expr.is_not_null().any()).then(column_expr.sum()).otherwise(None)
            .cast(result).alias(column))


# What DuckDB's trim() removes: the space separators (Unicode category Zs), not tabs or line
# breaks (checked against DuckDB over every code point by the tests)
SQL_SPACES = "\u0020\u00a0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B)) + "\u202f\u205f\u3000"


def sql_trim(expr: pl.Expr) -> pl.Expr:
    """DuckDB's ``trim(x)``: space separators removed from both ends. Pure."""
    return expr.str.strip_chars(SQL_SPACES)


# Characters whose lowercase Polars gives differently from DuckDB's lower() (which maps each
# character on its own, by its simple case mapping, from an older Unicode): the dotted capital I
# (Polars: two characters), the capital sigma (Polars: a final sigma at the end of a word) and
# capitals of Unicode 16 (Cyrillic, Latin extended, Garay, Kirat Rai) DuckDB leaves as they are.
# Checked against DuckDB over every code point by tests/dashboards/test_parquet_pages.py.
_LOWER_DIFFERS_RANGES = ((0x0130, 0x0130), (0x03A3, 0x03A3), (0x1C89, 0x1C89), (0xA7CB, 0xA7CC), (0xA7CE, 0xA7CE),
                         (0xA7D2, 0xA7D2), (0xA7D4, 0xA7D4), (0xA7DA, 0xA7DA), (0xA7DC, 0xA7DC),
                         (0x10D50, 0x10D65), (0x16EA0, 0x16EB8))
LOWER_DIFFERS = "".join(chr(c) for low, high in _LOWER_DIFFERS_RANGES for c in range(low, high + 1))


_LOWER_DIFFERS_SEARCH = re.compile("[" + "".join(chr(low) if low == high else f"{chr(low)}-{chr(high)}"
                                                  for low, high in _LOWER_DIFFERS_RANGES) + "]").search


def sql_lower(expr: pl.Expr) -> pl.Expr:
    """DuckDB's ``lower(x)`` for text without any of :data:`LOWER_DIFFERS`. Pure."""
    return expr.str.to_lowercase()


def lower_differs(labels: pl.Series) -> bool:
    """Whether some label holds a character whose lowercase Polars gives differently. Pure."""
    return _LOWER_DIFFERS_SEARCH("\n".join(label for label in labels.to_list() if label)) is not None


def _nonblank(column: str) -> pl.Expr:
    """``nullif(trim(column), '')``."""
    trimmed = sql_trim(pl.col(column))
    return pl.when(trimmed != "").then(trimmed)


def artist_label() -> pl.Expr:
    """``coalesce(nullif(trim(stage_name), ''), nullif(trim(artist_name), ''), artist_id)``."""
    return pl.coalesce(_nonblank("stage_name"), _nonblank("artist_name"), pl.col("artist_id")).alias("artist_label")


def _by_label(frame: Frame) -> Frame:
    """``ORDER BY lower(artist_label), artist_id`` (for labels without LOWER_DIFFERS)."""
    return (frame.with_columns(sql_lower(pl.col("artist_label")).alias("_key"))
            .pipe(sql_sorted, ["_key", "artist_id"]).drop("_key"))


def checked_labels(labels: pl.DataFrame) -> pl.DataFrame:
    """``labels`` when Polars sorted them as DuckDB does; NeedsSql when a label holds one of
    :data:`LOWER_DIFFERS`. Pure."""
    if lower_differs(labels.get_column("artist_label")):
        raise NeedsSql("an artist label DuckDB lowers differently")
    return labels


def artist_labels_of(dim_artists: Frame) -> Frame:
    """Every artist's label in the filter's order (queries._SQL_ARTIST_LABELS; then
    :func:`checked_labels`). Pure."""
    return _by_label(dim_artists.select("artist_id", artist_label()))


def present_artist_labels(artist_ids: Frame, dim_artists: Frame) -> Frame:
    """The label of each distinct ``artist_id`` of the daily rows (dim_artists' label, else the
    id), in the filter's order (queries._SQL_ARTISTS; then :func:`checked_labels`). Pure."""
    present = artist_ids.select("artist_id").unique(maintain_order=True)
    joined = present.join(dim_artists.select("artist_id", "stage_name", "artist_name"), on="artist_id",
                          how="left", maintain_order="left")
    return _by_label(joined.select("artist_id", artist_label()))


def project_status_of(health: Frame) -> Frame:
    """Projects and at-risk projects per status (queries._SQL_PROJECT_STATUS). Pure."""
    counted = health.group_by("status", maintain_order=True).agg(
        pl.len().cast(pl.Int64).alias("projects"),
        pl.col("is_at_risk").cast(pl.Boolean).sum().cast(pl.Int64).alias("at_risk"))
    return sql_sorted(counted, ["status"])


def revenue_by_currency_of(rows: Frame, start: dt.date, end: dt.date) -> Frame:
    """Recognized revenue per original currency of the months from ``start`` to ``end``
    (queries._SQL_REVENUE_BY_CURRENCY). Pure."""
    schema = rows.collect_schema()
    summed = (rows.filter(pl.col("month").is_between(start, end))
              .group_by("currency", maintain_order=True)
              .agg(sql_sum("recognized_revenue_original", schema["recognized_revenue_original"]),
                   sql_sum("recognized_revenue", schema["recognized_revenue"]),
                   sql_sum("completed_bookings", schema["completed_bookings"]).cast(pl.Int64)))
    return sql_sorted(summed, ["recognized_revenue", "currency"], [True, False])


def first_rows(frame: Frame, by: Sequence[str], descending: Sequence[bool], limit: int,
               columns: Sequence[str]) -> Frame:
    """``SELECT columns … ORDER BY by LIMIT limit``. Pure."""
    first = sql_sorted(frame, by, descending).head(int(limit))
    if isinstance(first, pl.DataFrame):  # a new frame from its columns: no plan to run
        return pl.DataFrame([first.get_column(name) for name in columns])
    return first.select(columns)


# ------------------------------------------------------------- the statements, one by one

META_COLUMNS = ("tenant_id", "tenant_slug", "tenant_name", "base_currency", "as_of", "refreshed_at", "version")
KPI_COLUMNS = ("as_of", "base_currency", "active_projects", "overdue_milestones", "outstanding_revenue")
DAILY_COLUMNS = ("day", "booking_type", "artist_id", "recognized_revenue", "pipeline_revenue", "outstanding_revenue",
                 "completed_bookings", "started_bookings", "cancelled_bookings")
AGING_COLUMNS = ("bucket_order", "aging_bucket", "min_days", "max_days", "outstanding_bookings", "outstanding_revenue")
FUNNEL_COLUMNS = ("stage_order", "status", "is_funnel_stage", "bookings_90d", "bookings_all_time")
ACTIVITY_COLUMNS = ("occurred_at", "actor_name", "action", "entity", "summary")
BY_CURRENCY_COLUMNS = ("month", "currency", "recognized_revenue_original", "recognized_revenue", "completed_bookings")
PROJECT_COLUMNS = ("project_id", "name", "status", "budget", "spent", "budget_used_pct", "milestones_total",
                   "milestones_completed", "milestones_overdue", "is_over_budget", "is_past_deadline", "is_at_risk",
                   "deadline")
QUARANTINED_COLUMNS = ("quarantined_at", "source", "entity", "file", "row_number", "record_id", "column", "value",
                       "reason", "run_id", "tenant_total")
RUNS_COLUMNS = ("started_at", "ended_at", "source", "entity", "file_name", "status", "rows_read", "rows_loaded",
                "rows_quarantined", "error", "run_id", "tenant_total")
LIFETIME_COLUMNS = ("artist_id", "artist_name", "stage_name", "verification_status", "rating", "is_active",
                    "base_currency", "completed_bookings", "recognized_revenue", "hours_delivered",
                    "first_service_date", "last_service_date")
ARTIST_MONTHLY_COLUMNS = ("month", "completed_bookings", "recognized_revenue", "hours_delivered")


def meta(files: VersionFiles) -> pl.DataFrame:
    return files.table(META_TABLE, META_COLUMNS)


def meta_row_counts(files: VersionFiles) -> pl.DataFrame:
    return files.table(META_TABLE, ("row_counts",))


def kpis(files: VersionFiles) -> pl.DataFrame:
    return files.table("kpi_summary", KPI_COLUMNS)


def daily_rows(files: VersionFiles) -> pl.DataFrame:
    return files.table("fct_bookings_daily", DAILY_COLUMNS)


def _run(plan: pl.LazyFrame) -> pl.DataFrame:
    """A statement's plan, run in memory (Polars 2 runs a plan on its streaming engine by
    default: ~0.3 ms a plan against ~0.1 ms in memory for frames of a page's size)."""
    return plan.collect(engine="in-memory")


def booking_types(files: VersionFiles) -> pl.DataFrame:
    return _run(sql_sorted(files.table("fct_bookings_daily", ("booking_type",)).lazy().unique(maintain_order=True),
                           ["booking_type"]))


_LABEL_COLUMNS = ("artist_id", "stage_name", "artist_name")


def artist_labels(files: VersionFiles) -> pl.DataFrame:
    return checked_labels(_run(artist_labels_of(files.table("dim_artists", _LABEL_COLUMNS).lazy())))


def artists(files: VersionFiles, tenant_id: str) -> pl.DataFrame:
    if tenant_id != files.tenant_id:  # the statement binds the session's tenant twice
        raise ValueError("one tenant per statement")
    return checked_labels(_run(present_artist_labels(files.table("fct_bookings_daily", ("artist_id",)).lazy(),
                                                     files.table("dim_artists", _LABEL_COLUMNS).lazy())))


def receivables_aging(files: VersionFiles) -> pl.DataFrame:
    return sql_sorted(files.table("fct_receivables_aging", AGING_COLUMNS), ["bucket_order"])


def funnel(files: VersionFiles) -> pl.DataFrame:
    return sql_sorted(files.table("fct_booking_status_funnel", FUNNEL_COLUMNS), ["stage_order"])


def project_status(files: VersionFiles) -> pl.DataFrame:
    return _run(project_status_of(files.table("fct_project_health", ("status", "is_at_risk")).lazy()))


def recent_activity(files: VersionFiles, limit: int) -> pl.DataFrame:
    frame = files.table("fct_recent_activity", (*ACTIVITY_COLUMNS, "recency_rank"))
    return first_rows(sql_sorted(frame, ["recency_rank"]), [], [], limit, ACTIVITY_COLUMNS)


def revenue_by_currency(files: VersionFiles, start: dt.date, end: dt.date) -> pl.DataFrame:
    return _run(revenue_by_currency_of(files.table("fct_revenue_by_currency", BY_CURRENCY_COLUMNS).lazy(), start, end))


def project_health(files: VersionFiles) -> pl.DataFrame:
    return sql_sorted(files.table("fct_project_health", PROJECT_COLUMNS), ["is_at_risk", "name", "project_id"],
                      [True, False, False])


def quarantined(files: VersionFiles, limit: int) -> pl.DataFrame:
    frame = files.table("quarantined_rows", QUARANTINED_COLUMNS).lazy()
    return _run(first_rows(frame, ["quarantined_at", "source", "file", "row_number", "record_id", "column", "reason"],
                           [True, False, False, False, False, False, False], limit, QUARANTINED_COLUMNS))


def runs(files: VersionFiles, limit: int) -> pl.DataFrame:
    frame = files.table("ingestion_runs", RUNS_COLUMNS).lazy()
    return _run(first_rows(frame, ["started_at", "run_id"], [True, False], limit, RUNS_COLUMNS))


def artist_lifetime(files: VersionFiles, artist_id: str) -> pl.DataFrame:
    return artist_lifetime_of(files.table("dim_artists", LIFETIME_COLUMNS, where={"artist_id": artist_id}))


def artist_lifetime_of(rows: pl.DataFrame) -> pl.DataFrame:
    """The artist's dim_artists rows (LIFETIME_COLUMNS) in the view's order. Pure."""
    return sql_sorted(rows, order_columns("dim_artists", LIFETIME_COLUMNS))


def artist_monthly(files: VersionFiles, artist_id: str) -> pl.DataFrame:
    return artist_monthly_of(files.table("fct_artist_performance_monthly", ARTIST_MONTHLY_COLUMNS,
                                         where={"artist_id": artist_id}))


def artist_monthly_of(rows: pl.DataFrame) -> pl.DataFrame:
    """The artist's monthly rows (ARTIST_MONTHLY_COLUMNS) by month. Pure."""
    return sql_sorted(rows, ["month"])


def every_artists_rows(files: VersionFiles) -> tuple[pl.DataFrame, pl.DataFrame]:
    """dim_artists' LIFETIME_COLUMNS and the monthly mart's ``artist_id`` + ARTIST_MONTHLY_COLUMNS
    of every artist, each sorted by artist id (an artist's rows in the files' order, its months
    already in :func:`artist_monthly_of`'s order; rows without an artist id, which
    ``artist_id = ?`` never selects, left out): what :func:`artist_lifetime` and
    :func:`artist_monthly` select from for one artist (:func:`one_artists_rows`)."""
    def by_artist(frame: pl.DataFrame, *then: str) -> pl.DataFrame:
        return frame.filter(pl.col("artist_id").is_not_null()).sort(["artist_id", *then], maintain_order=True,
                                                                     nulls_last=True)

    return (by_artist(files.table("dim_artists", LIFETIME_COLUMNS)),
            by_artist(files.table("fct_artist_performance_monthly", ("artist_id", *ARTIST_MONTHLY_COLUMNS)), "month"))


def artist_index(lifetime: pl.DataFrame, monthly: pl.DataFrame) -> pl.DataFrame:
    """Where each artist's rows are in :func:`every_artists_rows`' frames: ``artist_id`` (sorted,
    every artist of either frame), ``lifetime_start``, ``lifetime_rows``, ``monthly_start``,
    ``monthly_rows``. Pure."""
    def runs(rows: pl.DataFrame, name: str) -> pl.DataFrame:
        return (rows.select("artist_id").with_row_index(f"{name}_start")
                .group_by("artist_id", maintain_order=True)
                .agg(pl.col(f"{name}_start").min().cast(pl.Int64), pl.len().cast(pl.Int64).alias(f"{name}_rows")))

    index = runs(lifetime, "lifetime").join(runs(monthly, "monthly"), on="artist_id", how="full", coalesce=True)
    return index.fill_null(0).sort("artist_id")


def one_artists_rows(lifetime: pl.DataFrame, monthly: pl.DataFrame, index: pl.DataFrame,
                     artist_id: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """:func:`artist_lifetime` and :func:`artist_monthly` of one artist from
    :func:`every_artists_rows`' frames and their :func:`artist_index` (one binary search, two
    slices). Pure."""
    ids = index.get_column("artist_id")
    position = ids.search_sorted(artist_id, "left")
    if position < len(ids) and ids[position] == artist_id:
        _, lifetime_start, lifetime_rows, monthly_start, monthly_rows = index.row(position)
    else:
        lifetime_start = lifetime_rows = monthly_start = monthly_rows = 0
    months = monthly.slice(monthly_start, monthly_rows)
    return (artist_lifetime_of(lifetime.slice(lifetime_start, lifetime_rows)),
            artist_monthly_of(pl.DataFrame([months.get_column(name) for name in ARTIST_MONTHLY_COLUMNS])))
