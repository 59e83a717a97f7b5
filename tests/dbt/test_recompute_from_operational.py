"""Every number of the revenue marts, top performers and KPIs, recomputed by hand from the
operational database.

A small generated dataset (3 tenants: USD, EUR and JPY base currencies, side currencies, time
zones from Honolulu to Kiritimati, bookings across local midnight and DST changes, missing
prices) goes through the real refresh path (`auditoryx.pipeline.ingest`, then `build_all`).
METRICS.md is then applied in plain Python to the rows read back with the SQLAlchemy models:
FX from the shipped seed with Decimal, local dates with zoneinfo, rounding half away from zero
(ROUND_HALF_UP on exact decimals), and the results must equal the marts exactly.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from auditoryx.pipeline import ingest
from auditoryx.settings import Settings
from operational.db import create_schema, make_engine
from operational.generator import generate
from operational.models import Artist, Booking, Organization, Project, ProjectMilestone
from tests.dbt.build_data import FxReference
from warehouse.dbt_runner import build_all

AS_OF = dt.date(2025, 6, 18)   # mid-month: the 30/60/90-day windows cross month boundaries
ZERO = Decimal("0.00")
PIPELINE = ("APPROVED", "CONFIRMED", "IN_PROGRESS")


def text(value: Any) -> str | None:
    """Enum members by value, everything else as is."""
    return None if value is None else str(getattr(value, "value", value))


@dataclass(frozen=True)
class Row:
    """One booking as METRICS.md sees it."""
    tenant_id: str
    artist_id: str
    booking_type: str
    status: str
    payment_status: str | None
    start_local_date: dt.date
    service_date: dt.date
    value_base: Decimal | None

    @property
    def recognized(self) -> bool:
        return self.status == "COMPLETED"

    @property
    def outstanding(self) -> bool:
        return self.recognized and self.payment_status in ("PENDING", "PARTIAL")


def base_currency(settings: dict | None) -> str:
    code = (settings or {}).get("base_currency")
    code = code.strip().upper() if isinstance(code, str) else ""
    return code or "USD"


def month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def between(day: dt.date, first: dt.date, last: dt.date) -> bool:
    return first <= day <= last


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory):
    root = tmp_path_factory.mktemp("recompute")
    settings = Settings(var_dir=root / "var", as_of=AS_OF)
    engine = make_engine(settings.operational_database_url)
    create_schema(engine)
    generate(engine, tenants=3, seed=11, as_of=AS_OF, password="pw", scale=0.2)

    ingest(settings)
    build_all(settings.build_database_path, settings.dbt_work_dir, AS_OF, threads=settings.dbt_threads)

    with Session(engine) as session:
        operational = {
            "organizations": list(session.scalars(select(Organization))),
            "bookings": list(session.scalars(select(Booking))),
            "artists": list(session.scalars(select(Artist))),
            "projects": list(session.scalars(select(Project))),
            "milestones": list(session.scalars(select(ProjectMilestone))),
        }
        session.expunge_all()
    engine.dispose()
    # the writers are closed (ingest and build_all close their connections): read the marts
    con = duckdb.connect(str(settings.build_database_path), read_only=True)
    yield operational, con
    con.close()


@pytest.fixture(scope="module")
def bookings(refreshed) -> list[Row]:
    operational, _ = refreshed
    fx = FxReference()
    bases = {org.id: base_currency(org.settings) for org in operational["organizations"]}
    rows = []
    for booking in operational["bookings"]:
        zone = ZoneInfo(booking.timezone)
        service_date = booking.end_date.astimezone(zone).date()
        value = booking.final_price if booking.final_price is not None else booking.budget
        currency, base = text(booking.currency), bases[booking.org_id]
        rows.append(Row(
            tenant_id=booking.org_id, artist_id=booking.artist_id, booking_type=text(booking.type),
            status=text(booking.status), payment_status=text(booking.payment_status),
            start_local_date=booking.start_date.astimezone(zone).date(), service_date=service_date,
            value_base=None if value is None else fx.convert(Decimal(value), currency, base, service_date),
        ))
    return rows


def query(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = con.execute(sql)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def total(values) -> Decimal:
    return sum((v for v in values if v is not None), ZERO)


def test_dataset_covers_the_hard_cases(refreshed, bookings):
    operational, _ = refreshed
    assert {base_currency(org.settings) for org in operational["organizations"]} == {"USD", "EUR", "JPY"}
    assert len(bookings) > 500
    assert any(row.value_base is None for row in bookings)                       # no price at all
    assert any(row.start_local_date != row.service_date for row in bookings)     # across local midnight
    utc_dates = {b.id: b.end_date.date() for b in operational["bookings"]}
    assert sum(1 for b, row in zip(operational["bookings"], bookings) if row.service_date != utc_dates[b.id]) > 50
    assert sum(1 for b in operational["bookings"] if text(b.currency) != base_currency(
        next(o.settings for o in operational["organizations"] if o.id == b.org_id))) > 50   # converted


def test_revenue_monthly_by_type(refreshed, bookings):
    _, con = refreshed
    expected: dict[tuple, dict[str, Any]] = {}
    for row in bookings:
        if not (row.recognized or row.status in PIPELINE):
            continue
        key = (row.tenant_id, month(row.service_date), row.booking_type)
        acc = expected.setdefault(key, {"recognized_revenue": ZERO, "pipeline_revenue": ZERO,
                                        "collected_revenue": ZERO, "outstanding_revenue": ZERO,
                                        "completed_bookings": 0})
        amount = row.value_base or ZERO
        if row.recognized:
            acc["recognized_revenue"] += amount
            acc["completed_bookings"] += 1
            if row.payment_status == "PAID":
                acc["collected_revenue"] += amount
            if row.outstanding:
                acc["outstanding_revenue"] += amount
        else:
            acc["pipeline_revenue"] += amount
    actual = {
        (r.pop("tenant_id"), r.pop("month"), r.pop("booking_type")): r
        for r in query(con, "select * exclude (base_currency) from marts.fct_revenue_monthly")
    }
    assert len(expected) > 50
    assert actual == expected


def test_top_performers(refreshed, bookings):
    operational, con = refreshed
    names = {a.id: a.name for a in operational["artists"]}
    window = defaultdict(lambda: [ZERO, 0])
    for row in bookings:
        if row.recognized and between(row.service_date, AS_OF - dt.timedelta(days=89), AS_OF):
            window[(row.tenant_id, row.artist_id)][0] += row.value_base or ZERO
            window[(row.tenant_id, row.artist_id)][1] += 1
    expected = []
    for tenant_id in sorted({t for t, _ in window}):
        ranked = sorted(((revenue, count, artist_id) for (t, artist_id), (revenue, count) in window.items()
                         if t == tenant_id), key=lambda item: (-item[0], -item[1], item[2]))
        expected += [(tenant_id, rank, artist_id, names[artist_id], revenue, count)
                     for rank, (revenue, count, artist_id) in enumerate(ranked[:10], start=1)]
    actual = [tuple(r.values()) for r in query(
        con, "select tenant_id, rank, artist_id, artist_name, recognized_revenue, completed_bookings "
             "from marts.top_performers order by tenant_id, rank")]
    assert actual == expected
    assert len(expected) > 20 and {row[0] for row in expected} == {org.id for org in operational["organizations"]}
    assert {r["as_of"] for r in query(con, "select as_of from marts.top_performers")} == {AS_OF}


def test_kpi_summary_every_column(refreshed, bookings):
    operational, con = refreshed
    day = dt.timedelta(days=1)
    expected = {}
    for org in operational["organizations"]:
        mine = [row for row in bookings if row.tenant_id == org.id]
        last = total(r.value_base for r in mine if r.recognized and between(r.service_date, AS_OF - 29 * day, AS_OF))
        prev = total(r.value_base for r in mine
                     if r.recognized and between(r.service_date, AS_OF - 59 * day, AS_OF - 30 * day))
        started = [r for r in mine if r.status != "DRAFT" and between(r.start_local_date, AS_OF - 29 * day, AS_OF)]
        expected[org.id] = {
            "as_of": AS_OF,
            "base_currency": base_currency(org.settings),
            "recognized_revenue_30d": last,
            "recognized_revenue_prev_30d": prev,
            "revenue_delta_pct": None if prev == 0 else float(last - prev) / float(prev),
            "bookings_30d": len(started),
            "active_artists_30d": len({r.artist_id for r in started if r.status != "CANCELLED"}),
            "active_projects": sum(1 for p in operational["projects"]
                                   if p.org_id == org.id and text(p.status) == "IN_PROGRESS"),
            "overdue_milestones": sum(1 for m in operational["milestones"]
                                      if m.org_id == org.id and m.due_date is not None and m.due_date < AS_OF
                                      and text(m.status) != "COMPLETED"),
            "outstanding_revenue": total(r.value_base for r in mine if r.outstanding),
        }
    actual = {r.pop("tenant_id"): r for r in query(con, "select * from marts.kpi_summary")}
    assert actual == expected
    assert all(e["bookings_30d"] > 0 and e["recognized_revenue_prev_30d"] > 0 for e in expected.values())
