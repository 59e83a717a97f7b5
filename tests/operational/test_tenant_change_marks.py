"""The change sensor's marks (operational.tenants.tenant_change_marks) move for every committed
write of a tenant, whatever its ``updated_at``, and only for that tenant: a backdated insert, an
update, a delete, and, on PostgreSQL, a transaction that commits after a newer one."""
from __future__ import annotations

import datetime as dt
import decimal
import uuid

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from operational.db import create_schema, make_engine
from operational.generator import generate
from operational.models import Artist, Booking
from operational.tenants import tenant_change_marks

LONG_AGO = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)


def _world(url: str):
    engine = make_engine(url)
    create_schema(engine)
    tenants = generate(engine, tenants=2, seed=3, as_of=dt.date(2026, 10, 15), password="pw", scale=0.02)
    return engine, tenants[0].id, tenants[1].id


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request, tmp_path):
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else f"sqlite:///{tmp_path / 'op.sqlite'}"
    engine, a, b = _world(url)
    yield engine, a, b
    engine.dispose()


def _booking(tenant_id: str, artist_id: str) -> dict:
    end = dt.datetime(2026, 10, 1, 12, tzinfo=dt.timezone.utc)
    return {"id": str(uuid.uuid4()), "org_id": tenant_id, "artist_id": artist_id, "title": "Backdated",
            "type": "MIXING", "status": "COMPLETED", "start_date": end - dt.timedelta(hours=1), "end_date": end,
            "duration_minutes": 60, "timezone": "UTC", "final_price": decimal.Decimal("10.00"), "currency": "USD",
            "payment_status": "PAID", "created_at": LONG_AGO, "updated_at": LONG_AGO}


def _moved(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {tenant for tenant in after if before.get(tenant) != after[tenant]}


def test_backdated_insert_update_and_delete_move_only_their_tenants_mark(world):
    engine, a, b = world
    marks = tenant_change_marks(engine)
    assert set(marks) == {a, b} and tenant_change_marks(engine) == marks  # stable while nothing changes
    with Session(engine) as session, session.begin():
        artist = session.scalar(select(Artist.id).where(Artist.org_id == a).order_by(Artist.id).limit(1))
        row = _booking(a, artist)
        session.execute(insert(Booking), [row])
    after_insert = tenant_change_marks(engine)
    assert _moved(marks, after_insert) == {a}
    with Session(engine) as session, session.begin():
        session.execute(update(Booking).where(Booking.id == row["id"]).values(title="Renamed", updated_at=LONG_AGO))
    after_update = tenant_change_marks(engine)
    assert _moved(after_insert, after_update) == {a}
    with Session(engine) as session, session.begin():
        session.execute(delete(Booking).where(Booking.id == row["id"]))
    assert _moved(after_update, tenant_change_marks(engine)) == {a}


def test_a_transaction_committing_after_a_newer_one_still_moves_the_mark(pg_url):
    """PostgreSQL only: SQLite serializes writers, so its numbers follow commit order."""
    engine, a, b = _world(pg_url)
    with Session(engine) as session:
        artist_a = session.scalar(select(Artist.id).where(Artist.org_id == a).order_by(Artist.id).limit(1))
        artist_b = session.scalar(select(Artist.id).where(Artist.org_id == b).order_by(Artist.id).limit(1))
    older = Session(engine)
    older.begin()
    older.execute(insert(Booking), [_booking(a, artist_a)])  # takes the lower transaction id, commits last
    with Session(engine) as newer, newer.begin():
        newer.execute(insert(Booking), [_booking(a, artist_a), _booking(b, artist_b)])
    seen = tenant_change_marks(engine)  # the sensor's tick between the two commits
    older.commit()
    older.close()
    assert _moved(seen, tenant_change_marks(engine)) == {a}
    engine.dispose()
