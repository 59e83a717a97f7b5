"""Report sections from one tenant's published snapshot (no files, no UI).

A report is a set of sections for a period, in this order: the dashboard's key figures, revenue by
month and booking type, top performers, receivables aging, project health and recent activity.
Each section is a small table with human headers (money headers name the currency), rows in a
sensible order (months ascending, performers by rank, aging buckets youngest first, projects at
risk first, activity newest first), booleans as Yes/No, ratios as percentages, and no internal
ids unless asked for (``include_ids``). Column kinds tell the renderers how to format cells.

Reads go through the tenant's confined snapshot reader (:mod:`warehouse.reader`), one bound
``SELECT`` per mart, the tenant id bound as well; marts come from the allow-list below.
"""
from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import duckdb
import polars as pl

from auditoryx.errors import AuditoryxError
from reports.currency import minor_units, quantize
from reports.period import Period, resolve_period
from warehouse.layout import last_refresh, read_checked
from warehouse.reader import TenantSnapshot

# column kinds
TEXT, INT, MONEY, PERCENT, DATE, MONTH, DATETIME = "text", "int", "money", "percent", "date", "month", "datetime"

KPIS, REVENUE, TOP, AGING, PROJECTS, ACTIVITY = ("kpis", "revenue_by_month", "top_performers",
                                                  "receivables_aging", "project_health", "recent_activity")
SECTION_KEYS: tuple[str, ...] = (KPIS, REVENUE, TOP, AGING, PROJECTS, ACTIVITY)
SECTION_TITLES: dict[str, str] = {
    KPIS: "Key figures", REVENUE: "Revenue by month", TOP: "Top performers", AGING: "Receivables aging",
    PROJECTS: "Project health", ACTIVITY: "Recent activity",
}
_MARTS = {KPIS: "kpi_summary", REVENUE: "fct_revenue_monthly", TOP: "top_performers",
          AGING: "fct_receivables_aging", PROJECTS: "fct_project_health", ACTIVITY: "fct_recent_activity"}
_ENTITY_LABELS = {"bookings": "Booking", "artists": "Artist", "projects": "Project", "project_milestones": "Milestone",
                  "project_users": "Project member", "users": "User", "organizations": "Organization"}
_AGING_LABELS = {"0-30": "0–30 days", "31-60": "31–60 days", "61-90": "61–90 days", "90+": "More than 90 days"}
FX_SEED = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds" / "fx_rates.csv"


class UnknownSection(AuditoryxError):
    pass


@dataclass(frozen=True)
class Column:
    name: str
    kind: str


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    description: str
    columns: tuple[Column, ...]
    frame: pl.DataFrame      # columns named as ``columns``, typed by kind

    @property
    def rows(self) -> int:
        return self.frame.height

    @property
    def file_stem(self) -> str:
        return self.title


@dataclass(frozen=True)
class Report:
    tenant_id: str
    tenant_name: str
    tenant_slug: str
    currency: str
    as_of: dt.date
    refreshed_at: dt.datetime | None
    snapshot_version: str
    definitions_version: str | None
    definitions_source: str
    period: Period
    fx: list[dict[str, Any]]
    sections: tuple[Section, ...]
    generated_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))

    def section(self, key: str) -> Section:
        return next(s for s in self.sections if s.key == key)


def validate_sections(keys: Iterable[str] | str | None) -> tuple[str, ...]:
    """Section keys in report order (None or empty: all); unknown keys are refused."""
    if keys is None:
        return SECTION_KEYS
    items = [k.strip() for k in (keys.split(",") if isinstance(keys, str) else keys) if k and k.strip()]
    unknown = [k for k in items if k not in SECTION_KEYS]
    if unknown:
        raise UnknownSection(f"unknown report section {unknown[0]!r}: one of {', '.join(SECTION_KEYS)}")
    return tuple(k for k in SECTION_KEYS if k in items) or SECTION_KEYS


def _dtype(kind: str, currency: str) -> pl.DataType:
    return {TEXT: pl.String(), INT: pl.Int64(), MONEY: pl.Decimal(18, minor_units(currency)), PERCENT: pl.Float64(),
            DATE: pl.Date(), MONTH: pl.Date(), DATETIME: pl.Datetime("us", "UTC")}[kind]


def _section(key: str, description: str, columns: list[Column], rows: list[list[Any]], currency: str) -> Section:
    schema = {c.name: _dtype(c.kind, currency) for c in columns}
    frame = pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
    return Section(key, SECTION_TITLES[key], description, tuple(columns), frame)


def _percent(fraction: Any) -> float | None:
    if fraction is None:
        return None
    value = decimal.Decimal(str(fraction)) * 100
    return float(value.quantize(decimal.Decimal("0.1"), rounding=decimal.ROUND_HALF_UP))


def _yes_no(value: Any) -> str | None:
    return None if value is None else ("Yes" if value else "No")


def _label(code: Any) -> str | None:
    """``RECORDING_SESSION`` → ``Recording session``."""
    if code is None:
        return None
    text = str(code).replace("_", " ").strip().lower()
    return text[:1].upper() + text[1:]


def _utc(value: Any) -> dt.datetime | None:
    if not isinstance(value, dt.datetime):
        return None
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def _rows(snapshot: TenantSnapshot, key: str) -> list[dict[str, Any]]:
    frame = snapshot.query(f"SELECT * FROM {_MARTS[key]} WHERE tenant_id = ?", [snapshot.tenant_id])
    return frame.to_dicts()


def _has(rows: list[dict[str, Any]], *columns: str) -> bool:
    return bool(rows) and all(c in rows[0] for c in columns)


def _kpis(snapshot, currency, period, include_ids) -> Section:
    m = lambda text: f"{text} ({currency})"  # noqa: E731
    columns = [Column("As of", DATE), Column(m("Recognized revenue, last 30 days"), MONEY),
               Column(m("Recognized revenue, previous 30 days"), MONEY),
               Column("Revenue change vs previous 30 days (%)", PERCENT), Column("Bookings, last 30 days", INT),
               Column("Active artists, last 30 days", INT), Column("Active projects", INT),
               Column("Overdue milestones", INT), Column(m("Outstanding revenue"), MONEY)]
    rows = []
    for r in _rows(snapshot, KPIS)[:1]:
        rows.append([r.get("as_of"), quantize(r.get("recognized_revenue_30d"), currency),
                     quantize(r.get("recognized_revenue_prev_30d"), currency), _percent(r.get("revenue_delta_pct")),
                     r.get("bookings_30d"), r.get("active_artists_30d"), r.get("active_projects"),
                     r.get("overdue_milestones"), quantize(r.get("outstanding_revenue"), currency)])
    return _section(KPIS, "The dashboard's key figures as of the snapshot date (30-day windows end on it).",
                    columns, rows, currency)


def _revenue(snapshot, currency, period: Period, include_ids) -> Section:
    m = lambda text: f"{text} ({currency})"  # noqa: E731
    columns = [Column("Month", MONTH), Column("Booking type", TEXT), Column(m("Recognized revenue"), MONEY),
               Column(m("Pipeline revenue"), MONEY), Column(m("Collected revenue"), MONEY),
               Column(m("Outstanding revenue"), MONEY), Column("Completed bookings", INT)]
    data = [r for r in _rows(snapshot, REVENUE)
            if isinstance(r.get("month"), dt.date) and period.first_month <= r["month"] <= period.last_month]
    data.sort(key=lambda r: (r["month"], str(r.get("booking_type") or "")))
    rows = [[r["month"], _label(r.get("booking_type")), quantize(r.get("recognized_revenue"), currency),
             quantize(r.get("pipeline_revenue"), currency), quantize(r.get("collected_revenue"), currency),
             quantize(r.get("outstanding_revenue"), currency), r.get("completed_bookings")] for r in data]
    return _section(REVENUE, f"Revenue by month of service and booking type, {period.describe()}.", columns, rows,
                    currency)


def _top(snapshot, currency, period, include_ids) -> Section:
    columns = [Column("Rank", INT), Column("Artist", TEXT)]
    if include_ids:
        columns.append(Column("Artist ID", TEXT))
    columns += [Column(f"Recognized revenue, last 90 days ({currency})", MONEY),
                Column("Completed bookings, last 90 days", INT)]
    data = sorted(_rows(snapshot, TOP), key=lambda r: (r.get("rank") or 0))
    rows = []
    for r in data:
        row = [r.get("rank"), r.get("stage_name") or r.get("artist_name")]
        if include_ids:
            row.append(r.get("artist_id"))
        rows.append(row + [quantize(r.get("recognized_revenue"), currency), r.get("completed_bookings")])
    return _section(TOP, "Artists by recognized revenue over the 90 days ending on the snapshot date.", columns, rows,
                    currency)


def _aging(snapshot, currency, period, include_ids) -> Section:
    columns = [Column("Age", TEXT), Column("Outstanding bookings", INT), Column(f"Outstanding amount ({currency})", MONEY)]
    data = sorted(_rows(snapshot, AGING), key=lambda r: (r.get("bucket_order") or 0))
    rows = [[_AGING_LABELS.get(r.get("aging_bucket"), r.get("aging_bucket")), r.get("outstanding_bookings"),
             quantize(r.get("outstanding_revenue"), currency)] for r in data if r.get("aging_bucket") is not None]
    return _section(AGING, "Completed bookings not yet paid, by days since their service date.", columns, rows,
                    currency)


def _projects(snapshot, currency, period, include_ids) -> Section:
    m = lambda text: f"{text} ({currency})"  # noqa: E731
    columns = [Column("Project", TEXT)]
    if include_ids:
        columns.append(Column("Project ID", TEXT))
    columns += [Column("Status", TEXT), Column(m("Budget"), MONEY), Column(m("Spent"), MONEY),
                Column("Budget used (%)", PERCENT), Column("Milestones", INT), Column("Milestones completed", INT),
                Column("Milestones overdue", INT), Column("At risk", TEXT)]
    data = sorted(_rows(snapshot, PROJECTS), key=lambda r: (not r.get("is_at_risk"), str(r.get("name") or "").lower(),
                                                             str(r.get("project_id") or "")))
    rows = []
    for r in data:
        if "name" not in r:
            continue
        row = [r.get("name")]
        if include_ids:
            row.append(r.get("project_id"))
        rows.append(row + [_label(r.get("status")), quantize(r.get("budget"), currency),
                           quantize(r.get("spent"), currency), _percent(r.get("budget_used_pct")),
                           r.get("milestones_total"), r.get("milestones_completed"), r.get("milestones_overdue"),
                           _yes_no(r.get("is_at_risk"))])
    return _section(PROJECTS, "Every project, those at risk first.", columns, rows, currency)


def _activity(snapshot, currency, period: Period, include_ids) -> Section:
    columns = [Column("When (UTC)", DATETIME), Column("Who", TEXT), Column("What", TEXT), Column("Action", TEXT),
               Column("Entity", TEXT)]
    if include_ids:
        columns.append(Column("Entity ID", TEXT))
    data = [r for r in _rows(snapshot, ACTIVITY) if _utc(r.get("occurred_at")) is not None
            and period.first <= _utc(r["occurred_at"]).date() <= period.last]
    data.sort(key=lambda r: (r.get("recency_rank") or 0, ))
    rows = []
    for r in data:
        row = [_utc(r["occurred_at"]), r.get("actor_name"), r.get("summary"), _label(r.get("action")),
               _ENTITY_LABELS.get(r.get("entity"), _label(r.get("entity")))]
        if include_ids:
            row.append(r.get("entity_id"))
        rows.append(row)
    return _section(ACTIVITY, f"The latest changes (up to 50), newest first, {period.describe()}.", columns, rows,
                    currency)


_BUILDERS = {KPIS: _kpis, REVENUE: _revenue, TOP: _top, AGING: _aging, PROJECTS: _projects, ACTIVITY: _activity}


def _fx_used(snapshot: TenantSnapshot, meta: dict[str, Any], currency: str, period: Period) -> list[dict[str, Any]]:
    """FX dates behind the period's converted amounts: from the snapshot meta when it records
    them, else derived: each foreign currency with recognized revenue in the period, and the range
    of rate dates (latest on or before a service date) its months can have used."""
    recorded = meta.get("fx_dates") or meta.get("fx_rate_dates")
    if recorded:
        return recorded if isinstance(recorded, list) else [{"recorded": recorded}]
    try:
        frame = snapshot.query("SELECT currency, min(month) AS first_month, max(month) AS last_month, "
                               "count(*) AS months FROM fct_revenue_by_currency WHERE tenant_id = ? AND currency <> ? "
                               "AND month BETWEEN ? AND ? GROUP BY currency ORDER BY currency",
                               [snapshot.tenant_id, currency, period.first_month, period.last_month])
    except duckdb.Error:  # an older snapshot without the mart (or its columns)
        return []
    if frame.is_empty() or "currency" not in frame.columns:
        return []
    used = []
    rates = pl.scan_csv(FX_SEED, schema_overrides={"rate_date": pl.Date, "currency": pl.String}) \
        if FX_SEED.is_file() else None
    for row in frame.iter_rows(named=True):
        entry = {"currency": row["currency"], "months": int(row["months"]),
                 "first_month": row["first_month"].isoformat(), "last_month": row["last_month"].isoformat(),
                 "rate_date_from": None, "rate_date_to": None, "source": "derived: fx_rates seed, latest rate on or "
                                                                         "before each service date"}
        if rates is not None:
            month_end = (row["last_month"].replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
            for target, bound in (("rate_date_from", row["first_month"]), ("rate_date_to", month_end)):
                found = (rates.filter((pl.col("currency").is_in([row["currency"], currency]))
                                      & (pl.col("rate_date") <= bound))
                         .group_by("currency").agg(pl.col("rate_date").max()).collect())
                dates = [d for d in found["rate_date"].to_list() if d is not None]
                entry[target] = min(dates).isoformat() if dates else None
        used.append(entry)
    return used


def build_report(snapshot: TenantSnapshot, *, period: str | None = None, sections: Iterable[str] | None = None,
                 include_ids: bool = False, tenant_name: str | None = None,
                 generated_at: dt.datetime | None = None) -> Report:
    """The report of the snapshot's tenant (checked against the snapshot's meta) for ``period``."""
    meta = snapshot.meta()
    if meta.get("tenant_id") != snapshot.tenant_id:
        raise AuditoryxError(f"snapshot {snapshot.version} does not belong to tenant {snapshot.tenant_id}")
    as_of = meta["as_of"]
    resolved = resolve_period(period, as_of)
    currency = str(meta.get("base_currency") or "USD").upper()
    keys = validate_sections(sections)
    built = tuple(_BUILDERS[key](snapshot, currency, resolved, include_ids) for key in keys)
    definitions = meta.get("definitions_version")
    return Report(
        tenant_id=snapshot.tenant_id, tenant_name=tenant_name or meta.get("tenant_name") or meta.get("tenant_slug") or "",
        tenant_slug=str(meta.get("tenant_slug") or ""), currency=currency, as_of=as_of,
        refreshed_at=last_refresh(meta.get("refreshed_at"), read_checked(snapshot.folder.parent)),
        snapshot_version=snapshot.version,
        definitions_version=str(definitions) if definitions else None,
        definitions_source="snapshot meta" if definitions else "not recorded in the snapshot meta",
        period=resolved, fx=_fx_used(snapshot, meta, currency, resolved), sections=built,
        generated_at=generated_at or dt.datetime.now(dt.timezone.utc))
