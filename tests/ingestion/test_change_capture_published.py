"""Issue #18: a booking committed with an ``updated_at`` older than anything extracted before (a
clock behind, a long transaction, generated rows stamped ahead of the clock) is published by the
next incremental refresh, on SQLite and PostgreSQL: extraction follows change numbers written in
the committing transaction, not timestamps."""
from __future__ import annotations

import datetime as dt
import decimal
import uuid

import duckdb
import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from auditoryx.pipeline import refresh
from auditoryx.settings import get_settings
from operational.db import create_schema, make_engine
from operational.generator import generate
from operational.models import Artist, Booking
from warehouse.reader import open_tenant_snapshot

LONG_AGO = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)


def _published_bookings(settings, tenant_id: str) -> int:
    snap = open_tenant_snapshot(settings.published_dir, tenant_id)
    try:
        return int(snap.meta()["row_counts"]["bookings"])
    finally:
        snap.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request, app_env, monkeypatch):
    if request.param == "postgresql":
        monkeypatch.setenv("AUDITORYX_OPERATIONAL_URL", request.getfixturevalue("pg_url"))
        return get_settings()
    return app_env


def test_booking_with_an_older_updated_at_than_the_watermark_is_published(settings):
    engine = make_engine(settings.operational_database_url)
    create_schema(engine)
    tenants = generate(engine, tenants=2, seed=5, as_of=settings.as_of, password="pw", scale=0.05)
    tenant = tenants[0].id
    refresh(settings)
    before = _published_bookings(settings, tenant)
    with duckdb.connect(str(settings.build_database_path), read_only=True) as conn:
        newest = conn.execute("SELECT max(updated_at) FROM raw_bookings").fetchone()[0]
    assert newest > LONG_AGO  # the old timestamp watermark would have skipped the row below

    end = dt.datetime.combine(settings.as_of, dt.time(9), tzinfo=dt.timezone.utc) - dt.timedelta(days=1)
    booking_id = str(uuid.uuid4())
    with Session(engine) as session, session.begin():
        artist = session.scalar(select(Artist.id).where(Artist.org_id == tenant).order_by(Artist.id).limit(1))
        session.execute(insert(Booking), [{
            "id": booking_id, "org_id": tenant, "artist_id": artist, "title": "Late arrival",
            "type": "MIXING", "status": "COMPLETED", "start_date": end - dt.timedelta(hours=2), "end_date": end,
            "duration_minutes": 120, "timezone": "UTC", "final_price": decimal.Decimal("100.00"),
            "currency": "USD", "payment_status": "PAID", "created_at": LONG_AGO, "updated_at": LONG_AGO,
        }])
    engine.dispose()

    result = refresh(settings, [tenant])
    # PostgreSQL may read again rows committed while the first extraction ran (its bound is the
    # oldest transaction running anywhere in the cluster then); they are compared, not changes
    assert result.extraction.rows["bookings"] >= 1
    assert result.extraction.changed_tables() == {tenant: {"bookings"}}
    assert _published_bookings(settings, tenant) == before + 1
    with duckdb.connect(str(settings.build_database_path), read_only=True) as conn:
        assert conn.execute("SELECT updated_at FROM raw_bookings WHERE id = ?", [booking_id]).fetchone()[0] == LONG_AGO
