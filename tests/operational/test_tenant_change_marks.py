"""What the change sensor reads (operational.tenants.change_bound and tenants_changed_since): every
committed write of a tenant since the previous bound, whatever its ``updated_at``, and only that
tenant: a backdated insert, an update, a delete, and, on PostgreSQL, a transaction that commits
after a newer one. The read uses the change-number index (its cost follows what changed)."""
from __future__ import annotations

import datetime as dt
import decimal
import time
import uuid

import pytest
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.orm import Session

from operational.db import create_schema, make_engine
from operational.generator import generate
from operational.models import Artist, Booking
from operational.tenants import change_bound, tenants_changed_since

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


def _tick(engine, since: int) -> tuple[set[str], int]:
    """One sensor tick: the bound first, then what changed since the previous one."""
    bound = change_bound(engine)
    return tenants_changed_since(engine, since), bound


def _settled_tick(engine, since: int) -> tuple[set[str], int]:
    """A tick whose bound has passed every write committed so far. On PostgreSQL the bound is the
    cluster's oldest running transaction, so one open in another database of the server (another
    test worker) can hold it below our own commits for a moment; they would then be seen again
    (at least once, by design). Tick again until the bound has passed them."""
    with engine.connect() as conn:
        written = max(conn.scalar(text("SELECT coalesce(max(change_number), 0) FROM bookings")),
                      conn.scalar(text("SELECT coalesce(max(change_number), 0) FROM change_deletions")))
    for _ in range(100):
        changed, bound = _tick(engine, since)
        if bound > written:
            return changed, bound
        time.sleep(0.1)
    raise AssertionError(f"the change bound stayed at or below {written}")


def test_backdated_insert_update_and_delete_are_seen_for_their_tenant_only(world):
    engine, a, b = world
    changed, bound = _settled_tick(engine, _settled_tick(engine, 0)[1])
    assert changed == set()
    assert _settled_tick(engine, bound)[0] == set()  # stable while nothing changes
    with Session(engine) as session, session.begin():
        artist = session.scalar(select(Artist.id).where(Artist.org_id == a).order_by(Artist.id).limit(1))
        row = _booking(a, artist)
        session.execute(insert(Booking), [row])
    changed, bound = _settled_tick(engine, bound)
    assert changed == {a}
    assert _settled_tick(engine, bound)[0] == set()  # seen once
    with Session(engine) as session, session.begin():
        session.execute(update(Booking).where(Booking.id == row["id"]).values(title="Renamed", updated_at=LONG_AGO))
    changed, bound = _settled_tick(engine, bound)
    assert changed == {a}
    with Session(engine) as session, session.begin():
        session.execute(delete(Booking).where(Booking.id == row["id"]))
    changed, bound = _settled_tick(engine, bound)
    assert changed == {a}
    assert _settled_tick(engine, bound)[0] == set()


def test_a_transaction_committing_after_a_newer_one_is_still_seen(pg_url):
    """PostgreSQL only: SQLite serializes writers, so its numbers follow commit order."""
    engine, a, b = _world(pg_url)
    with Session(engine) as session:
        artist_a = session.scalar(select(Artist.id).where(Artist.org_id == a).order_by(Artist.id).limit(1))
        artist_b = session.scalar(select(Artist.id).where(Artist.org_id == b).order_by(Artist.id).limit(1))
    bound = change_bound(engine)
    older = Session(engine)
    older.begin()
    older.execute(insert(Booking), [_booking(a, artist_a)])  # takes the lower transaction id, commits last
    with Session(engine) as newer, newer.begin():
        newer.execute(insert(Booking), [_booking(b, artist_b)])
    seen, bound = _tick(engine, bound)  # the sensor's tick between the two commits
    assert seen == {b}
    older.commit()
    older.close()
    # the bound stayed below the older transaction's number, so b's row is read again too (its
    # refresh then finds nothing new): seen twice is harmless, missed would not be
    assert a in _tick(engine, bound)[0]
    engine.dispose()


def test_the_sensor_read_uses_the_change_number_index_on_sqlite(tmp_path):
    engine, a, b = _world(f"sqlite:///{tmp_path / 'op.sqlite'}")
    with engine.connect() as conn:
        plan = " ".join(str(row) for row in conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT org_id FROM bookings WHERE change_number >= ?", (change_bound(engine),)))
    assert "ix_bookings_change_number" in plan, plan
    engine.dispose()


def test_the_sensor_read_uses_the_change_number_index(pg_url):
    engine, a, b = _world(pg_url)
    with engine.connect() as conn:
        plan = "\n".join(conn.exec_driver_sql(
            "EXPLAIN SELECT org_id FROM bookings WHERE change_number >= %(since)s",
            {"since": change_bound(engine)}).scalars())
    assert "ix_bookings_change_number" in plan, plan
    engine.dispose()
