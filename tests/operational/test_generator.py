"""The generator: deterministic by seed, statuses consistent with dates, hard cases present."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from operational.db import create_schema, make_engine
from operational.generator import generate
from operational.models import Artist, Booking, Organization

AS_OF = dt.date(2026, 6, 30)


def _dump(engine) -> list[tuple]:
    with Session(engine) as session:
        return [tuple(row) for row in session.execute(
            select(Booking.id, Booking.org_id, Booking.status, Booking.start_date, Booking.final_price,
                   Booking.currency).order_by(Booking.id))]


def test_same_seed_same_rows_and_rerun_replaces(tmp_path):
    first, second = (make_engine(f"sqlite:///{tmp_path / name}") for name in ("a.sqlite", "b.sqlite"))
    for engine in (first, second):
        create_schema(engine)
        generate(engine, tenants=4, seed=7, as_of=AS_OF, password="pw")
    assert _dump(first) == _dump(second)
    generate(first, tenants=4, seed=7, as_of=AS_OF, password="pw")  # rerun: replaced, not duplicated
    assert _dump(first) == _dump(second)
    with Session(first) as session:
        assert session.scalar(select(func.count()).select_from(Organization)) == 4
        empty_tenant = session.scalar(select(Organization.id).where(Organization.slug == "tenant-0004"))
        assert session.scalar(select(func.count()).where(Booking.org_id == empty_tenant)) == 0


def test_statuses_agree_with_dates_and_hard_cases_exist(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'g.sqlite'}")
    create_schema(engine)
    tenants = generate(engine, tenants=3, seed=1, as_of=AS_OF, password="pw")
    assert len({t.slug for t in tenants}) == 3
    now = dt.datetime(AS_OF.year, AS_OF.month, AS_OF.day, 12, tzinfo=dt.timezone.utc)
    with Session(engine) as session:
        bookings = session.scalars(select(Booking)).all()
        names = set(session.scalars(select(Artist.name)))
        currencies = {json["base_currency"] for json in session.scalars(select(Organization.settings))}
    assert len(bookings) > 4000
    assert all(b.start_date > now for b in bookings if b.status in ("PENDING_APPROVAL", "APPROVED"))
    assert all(b.end_date <= now for b in bookings if b.status == "COMPLETED")
    assert any(b.final_price is None and b.status == "COMPLETED" for b in bookings)
    assert any(b.duration_minutes >= 23 * 60 for b in bookings)  # crosses local midnight
    assert "<img src=x onerror=alert(1)>" in names and any(n.startswith("=HYPERLINK") for n in names)
    assert currencies == {"USD", "EUR", "JPY"}
