"""Operational fixtures: a migrated database on each backend, seeded with two tenants and a canary."""
from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from operational.db import create_schema, make_engine
from operational.models import Artist, Booking, Organization, Project, User

UTC = dt.timezone.utc
CANARY = "Canary Zyxwvut"


def backend_url(request, tmp_path, backend: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'op.sqlite'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """An empty database on each backend (PostgreSQL: a throwaway database)."""
    return backend_url(request, tmp_path, request.param)


@pytest.fixture
def migrated(db_url):
    engine = make_engine(db_url)
    create_schema(engine)
    yield engine
    engine.dispose()


@dataclass(frozen=True)
class Tenant:
    id: str
    slug: str
    user_id: str
    artist_id: str
    project_id: str
    booking_ids: tuple[str, ...]


def booking_values(artist_id: str, title: str = "Session", **overrides) -> dict:
    start = dt.datetime(2026, 3, 29, 10, tzinfo=UTC)
    values = dict(artist_id=artist_id, title=title, type="MIXING", status="CONFIRMED", start_date=start,
                  end_date=start + dt.timedelta(hours=2), duration_minutes=120, timezone="Europe/Berlin",
                  final_price=decimal.Decimal("250.00"), currency="EUR")
    values.update(overrides)
    return values


def seed_tenant(session: Session, slug: str, bookings: int, artist_name: str) -> Tenant:
    """Written directly (as the owner), not through the repository under test."""
    org = Organization(name=slug.title(), slug=slug, type="RECORD_LABEL", plan="FREE")
    session.add(org)
    session.flush()
    user = User(org_id=org.id, email=f"admin@{slug}.example", name="Admin", role="ORG_ADMIN", password_hash="x")
    artist = Artist(org_id=org.id, name=artist_name)
    project = Project(org_id=org.id, name=f"{slug} album", type="ALBUM", status="PLANNING", currency="EUR")
    session.add_all([user, artist, project])
    session.flush()
    rows = [Booking(org_id=org.id, **booking_values(artist.id, f"{artist_name} #{i}")) for i in range(bookings)]
    session.add_all(rows)
    session.flush()
    return Tenant(org.id, slug, user.id, artist.id, project.id, tuple(b.id for b in rows))


@pytest.fixture
def tenants(migrated) -> tuple[Tenant, Tenant]:
    """Tenant A (3 bookings) and tenant B (2 bookings of a canary artist A must never see)."""
    with Session(migrated) as session, session.begin():
        a = seed_tenant(session, "tenant-a", 3, "Alpha Artist")
        b = seed_tenant(session, "tenant-b", 2, CANARY)
    return a, b


def pytest_collection_modifyitems(config, items):
    """A ``test_postgresql_*`` test is about PostgreSQL only (row-level security): its SQLite
    variant of a backend-parametrized fixture is not collected, rather than skipped."""
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        is_sqlite = callspec is not None and "sqlite" in callspec.id.split("-")
        (drop if item.name.startswith("test_postgresql_") and is_sqlite else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
