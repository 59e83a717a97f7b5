"""The operational model on SQLite and PostgreSQL: constraints hold, money stays exact."""
from __future__ import annotations

import datetime as dt
import decimal

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from operational.db import create_schema, make_engine
from operational.models import Artist, Booking, Organization, User

UTC = dt.timezone.utc


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'op.sqlite'}"
    else:
        url = request.getfixturevalue("pg_url")
    engine = make_engine(url)
    create_schema(engine)
    create_schema(engine)  # idempotent
    yield engine
    engine.dispose()


def _org(session: Session) -> tuple[Organization, Artist]:
    org = Organization(name="Acme", slug="acme", type="RECORD_LABEL", plan="FREE", settings={"base_currency": "EUR"})
    session.add(org)
    session.flush()
    user = User(org_id=org.id, email="a@acme.example", name="A", role="ORG_ADMIN", password_hash="x")
    artist = Artist(org_id=org.id, name="Zoë 🎧")
    session.add_all([user, artist])
    session.flush()
    return org, artist


def _booking_values(org, artist, **overrides) -> dict:
    start = dt.datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    values = dict(org_id=org.id, artist_id=artist.id, title="Session", type="MIXING", status="COMPLETED",
                  start_date=start, end_date=start + dt.timedelta(hours=3), duration_minutes=180,
                  timezone="Europe/Berlin", budget=decimal.Decimal("100.10"),
                  final_price=decimal.Decimal("1234567.89"), currency="EUR")
    values.update(overrides)
    return values


def _booking(org, artist, **overrides) -> Booking:
    return Booking(**_booking_values(org, artist, **overrides))


def test_money_is_exact_and_timestamps_utc(engine):
    with Session(engine) as session, session.begin():
        org, artist = _org(session)
        session.add(_booking(org, artist))
    with Session(engine) as session:
        booking = session.scalars(select(Booking)).one()
        assert booking.final_price == decimal.Decimal("1234567.89")
        assert booking.budget == decimal.Decimal("100.10")
        assert booking.start_date == dt.datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
        assert session.scalars(select(Artist.name)).one() == "Zoë 🎧"


@pytest.mark.parametrize("overrides", [
    {"end_date": dt.datetime(2026, 3, 28, tzinfo=UTC)},      # end before start
    {"final_price": decimal.Decimal("-1")},                    # negative money
    {"currency": "eur"},                                       # not an ISO code
])
def test_check_constraints(engine, overrides):
    """The database itself refuses (a Core insert skips the models' Python validators)."""
    with Session(engine) as session:
        org, artist = _org(session)
        with pytest.raises(IntegrityError):
            session.execute(insert(Booking.__table__).values(**_booking_values(org, artist, **overrides)))


@pytest.mark.parametrize(("attribute", "value"), [
    ("currency", "eur"), ("currency", "ABC"), ("timezone", "Mars/Olympus_Mons"), ("timezone", "CEST"),
])
def test_models_validate_currency_and_time_zone(attribute, value):
    booking = Booking(currency="EUR", timezone="Asia/Tokyo")
    with pytest.raises(ValueError, match="unknown"):
        setattr(booking, attribute, value)


def test_enums_are_enforced(engine):
    with Session(engine) as session:
        org, artist = _org(session)
        session.add(_booking(org, artist, status="NOT_A_STATUS"))
        with pytest.raises((StatementError, LookupError)):
            session.flush()


def test_slug_and_email_are_unique(engine):
    with Session(engine) as session:
        _org(session)
        session.add(Organization(name="Other", slug="acme", type="INDIVIDUAL", plan="FREE"))
        with pytest.raises(IntegrityError):
            session.flush()
