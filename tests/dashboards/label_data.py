"""Test snapshots of the marts the label dashboard reads besides the monthly ones:
fct_bookings_daily (day × booking type × artist), dim_artists (stage and legal names),
fct_receivables_aging, fct_booking_status_funnel, fct_recent_activity and fct_revenue_by_currency.

Deterministic and derived from a tenant of tenant_data (its artists, base currency, as-of date);
the canary tenant's artist gets its own rows, so its name and amounts appear only in its snapshot.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl

MONEY = pl.Decimal(18, 2)
TYPES = ("RECORDING_SESSION", "MIXING")
SERVICE_DAYS = (3, 17)  # days of each month with completed bookings
MONTHS_BACK = 15
PIPELINE_DAYS = (10, 40)  # days after the as-of date with pipeline bookings
OUTSTANDING_DAYS = 45  # completed bookings serviced this recently are not paid yet

DAILY_SCHEMA = {
    "tenant_id": pl.String, "day": pl.Date, "booking_type": pl.String, "artist_id": pl.String,
    "base_currency": pl.String, "recognized_revenue": MONEY, "pipeline_revenue": MONEY,
    "collected_revenue": MONEY, "outstanding_revenue": MONEY, "completed_bookings": pl.Int64,
    "started_bookings": pl.Int64, "cancelled_bookings": pl.Int64,
}


def legal_name(stage_name: str) -> str:
    """The legal name the test data gives an artist (never shown where a stage name belongs)."""
    return f"{stage_name.split()[0]} Legalname"


def _month(first: dt.date, back: int) -> dt.date:
    index = first.year * 12 + first.month - 1 - back
    return dt.date(index // 12, index % 12 + 1, 1)


def row_amount(artist, type_index: int, day: dt.date) -> Decimal:
    """A booking's value: 1% of the artist's revenue in tenant_data, per type and day of month."""
    base = (artist.revenue / 100).quantize(Decimal("0.01"))
    month_index = day.year * 12 + day.month
    return base * (type_index + 1) + Decimal(month_index % 7) * 10 + Decimal(day.day) / 100


def daily_frame(tenant, as_of: dt.date) -> pl.DataFrame:
    rows = []
    if tenant.with_bookings:
        this_month = as_of.replace(day=1)
        days = [_month(this_month, back).replace(day=d) for back in range(MONTHS_BACK) for d in SERVICE_DAYS]
        for day in sorted(d for d in days if d <= as_of):
            for index, artist in enumerate(tenant.artists):
                for type_index, booking_type in enumerate(TYPES):
                    amount = row_amount(artist, type_index, day)
                    age = (as_of - day).days
                    unpaid = age < OUTSTANDING_DAYS or (index == 0 and type_index == 0 and 100 <= age <= 130)
                    cancelled = 1 if (index == 0 and booking_type == "MIXING" and day.day == SERVICE_DAYS[1]) else 0
                    rows.append({
                        "tenant_id": tenant.tenant_id, "day": day, "booking_type": booking_type,
                        "artist_id": artist.artist_id, "base_currency": tenant.base_currency,
                        "recognized_revenue": amount, "pipeline_revenue": Decimal("0"),
                        "collected_revenue": Decimal("0") if unpaid else amount,
                        "outstanding_revenue": amount if unpaid else Decimal("0"),
                        "completed_bookings": 1, "started_bookings": 1 + cancelled, "cancelled_bookings": cancelled,
                    })
        for ahead in PIPELINE_DAYS:
            day = as_of + dt.timedelta(days=ahead)
            for artist in tenant.artists:
                rows.append({
                    "tenant_id": tenant.tenant_id, "day": day, "booking_type": TYPES[0],
                    "artist_id": artist.artist_id, "base_currency": tenant.base_currency,
                    "recognized_revenue": Decimal("0"), "pipeline_revenue": row_amount(artist, 1, day),
                    "collected_revenue": Decimal("0"), "outstanding_revenue": Decimal("0"),
                    "completed_bookings": 0, "started_bookings": 1, "cancelled_bookings": 0,
                })
    return pl.DataFrame(rows, schema=DAILY_SCHEMA)


def dim_artists_frame(tenant) -> pl.DataFrame:
    return pl.DataFrame(
        [{"tenant_id": tenant.tenant_id, "artist_id": a.artist_id, "artist_name": legal_name(a.name),
          "stage_name": a.name, "genres": ["pop"], "verification_status": "VERIFIED", "rating": Decimal("4.50"),
          "is_active": True, "base_currency": tenant.base_currency, "completed_bookings": a.completed,
          "recognized_revenue": a.revenue, "hours_delivered": 2.5 * a.completed,
          "first_service_date": None, "last_service_date": None}
         for a in tenant.artists],
        schema={"tenant_id": pl.String, "artist_id": pl.String, "artist_name": pl.String, "stage_name": pl.String,
                "genres": pl.List(pl.String), "verification_status": pl.String, "rating": pl.Decimal(3, 2),
                "is_active": pl.Boolean, "base_currency": pl.String, "completed_bookings": pl.Int64,
                "recognized_revenue": MONEY, "hours_delivered": pl.Float64, "first_service_date": pl.Date,
                "last_service_date": pl.Date},
    )


def aging_frame(tenant, daily: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """Outstanding revenue of the daily rows by days since service (as fct_receivables_aging)."""
    buckets = [(1, "0-30", None, 30), (2, "31-60", 31, 60), (3, "61-90", 61, 90), (4, "90+", 91, None)]
    rows = []
    unpaid = daily.filter(pl.col("outstanding_revenue") > 0)
    for order, bucket, low, high in buckets:
        age = (pl.lit(as_of) - pl.col("day")).dt.total_days()
        part = unpaid.filter((age >= (low or -10**6)) & (age <= (high or 10**6)))
        rows.append({"tenant_id": tenant.tenant_id, "as_of": as_of, "bucket_order": order, "aging_bucket": bucket,
                     "min_days": low, "max_days": high, "base_currency": tenant.base_currency,
                     "outstanding_bookings": part.height,
                     "outstanding_revenue": sum(part["outstanding_revenue"].to_list(), Decimal("0"))})
    return pl.DataFrame(
        rows,
        schema={"tenant_id": pl.String, "as_of": pl.Date, "bucket_order": pl.Int32, "aging_bucket": pl.String,
                "min_days": pl.Int32, "max_days": pl.Int32, "base_currency": pl.String,
                "outstanding_bookings": pl.Int64, "outstanding_revenue": MONEY},
    )


FUNNEL = [("DRAFT", True, 9), ("PENDING_APPROVAL", True, 7), ("APPROVED", True, 6), ("CONFIRMED", True, 5),
          ("IN_PROGRESS", True, 4), ("COMPLETED", True, 3), ("CANCELLED", False, 2), ("DISPUTE", False, 1)]


def funnel_frame(tenant, as_of: dt.date) -> pl.DataFrame:
    scale = 1 if tenant.with_bookings else 0
    return pl.DataFrame(
        [{"tenant_id": tenant.tenant_id, "as_of": as_of, "stage_order": i, "status": status,
          "is_funnel_stage": stage, "bookings_90d": n * scale, "bookings_all_time": 3 * n * scale}
         for i, (status, stage, n) in enumerate(FUNNEL, start=1)],
        schema={"tenant_id": pl.String, "as_of": pl.Date, "stage_order": pl.Int32, "status": pl.String,
                "is_funnel_stage": pl.Boolean, "bookings_90d": pl.Int64, "bookings_all_time": pl.Int64},
    )


def activity_frame(tenant, as_of: dt.date) -> pl.DataFrame:
    moment = dt.datetime(as_of.year, as_of.month, as_of.day, 9, 15, tzinfo=dt.timezone.utc)
    artists = tenant.artists if tenant.with_bookings else []
    return pl.DataFrame(
        [{"tenant_id": tenant.tenant_id, "as_of": as_of, "recency_rank": i, "audit_log_id": f"{tenant.tenant_id}-log{i}",
          "occurred_at": moment - dt.timedelta(hours=i), "actor_user_id": "u1", "actor_name": tenant.user_name,
          "action": "UPDATE", "entity": "artist", "entity_id": a.artist_id, "summary": f"Updated artist {a.name}"}
         for i, a in enumerate(artists, start=1)],
        schema={"tenant_id": pl.String, "as_of": pl.Date, "recency_rank": pl.Int32, "audit_log_id": pl.String,
                "occurred_at": pl.Datetime("us", "UTC"), "actor_user_id": pl.String, "actor_name": pl.String,
                "action": pl.String, "entity": pl.String, "entity_id": pl.String, "summary": pl.String},
    )


def by_currency_frame(daily: pl.DataFrame, tenant) -> pl.DataFrame:
    """Recognized revenue by month from the daily rows: 90 % in the base currency, the rest in a
    second currency (original amount = base amount × 2 in the test's pretend FX)."""
    other = "GBP" if tenant.base_currency != "GBP" else "USD"
    monthly = (daily.filter(pl.col("completed_bookings") > 0)
               .group_by(pl.col("day").dt.truncate("1mo").alias("month"))
               .agg(pl.col("recognized_revenue").sum(), pl.col("completed_bookings").sum()))
    rows = []
    for month, revenue, completed in monthly.sort("month").iter_rows():
        foreign = (revenue / 10).quantize(Decimal("0.01"))
        rows.append({"tenant_id": tenant.tenant_id, "month": month, "currency": tenant.base_currency,
                     "base_currency": tenant.base_currency, "recognized_revenue_original": revenue - foreign,
                     "recognized_revenue": revenue - foreign, "completed_bookings": completed - 1})
        rows.append({"tenant_id": tenant.tenant_id, "month": month, "currency": other,
                     "base_currency": tenant.base_currency, "recognized_revenue_original": foreign * 2,
                     "recognized_revenue": foreign, "completed_bookings": 1})
    return pl.DataFrame(rows, schema={"tenant_id": pl.String, "month": pl.Date, "currency": pl.String,
                                      "base_currency": pl.String, "recognized_revenue_original": MONEY,
                                      "recognized_revenue": MONEY, "completed_bookings": pl.Int64})


def label_frames(tenant, as_of: dt.date) -> dict[str, pl.DataFrame]:
    daily = daily_frame(tenant, as_of)
    return {
        "fct_bookings_daily": daily,
        "dim_artists": dim_artists_frame(tenant),
        "fct_receivables_aging": aging_frame(tenant, daily, as_of),
        "fct_booking_status_funnel": funnel_frame(tenant, as_of),
        "fct_recent_activity": activity_frame(tenant, as_of),
        "fct_revenue_by_currency": by_currency_frame(daily, tenant),
    }


# ------------------------------------------------------------------- expected values (tests)


def published_mart(published_dir, tenant_id: str, mart: str) -> pl.DataFrame:
    """A mart of the tenant's current version, read straight from its Parquet file."""
    from pathlib import Path

    folder = Path(published_dir) / tenant_id
    version = (folder / "CURRENT").read_text(encoding="utf-8").strip()
    return pl.read_parquet(folder / version / f"{mart}.parquet")


def expected_period(daily: pl.DataFrame, start: dt.date, end: dt.date, types=(), artists=()) -> dict:
    """The label dashboard's period totals computed directly from fct_bookings_daily rows."""
    rows = daily
    if types:
        rows = rows.filter(pl.col("booking_type").is_in(list(types)))
    if artists:
        rows = rows.filter(pl.col("artist_id").is_in(list(artists)))
    inside = rows.filter(pl.col("day").is_between(start, end))

    def total(frame: pl.DataFrame, column: str):
        return sum(frame[column].to_list(), Decimal("0") if frame.schema[column] == MONEY else 0)

    return {
        "recognized_revenue": total(inside, "recognized_revenue"),
        "bookings": total(inside, "started_bookings"),
        "cancelled_bookings": total(inside, "cancelled_bookings"),
        "completed_bookings": total(inside, "completed_bookings"),
        "active_artists": inside.filter(pl.col("started_bookings") > pl.col("cancelled_bookings"))["artist_id"].n_unique(),
        "outstanding_receivables": total(rows.filter(pl.col("day") <= end), "outstanding_revenue"),
    }
