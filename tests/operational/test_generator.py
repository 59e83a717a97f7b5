"""The generator: deterministic by seed, statuses consistent with dates, hard cases present, and
bulk paths that store exactly what SQLAlchemy would store (SQLite and PostgreSQL)."""
from __future__ import annotations

import datetime as dt
import decimal
import sqlite3
import zoneinfo

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import operational.generator as generator
from operational.db import create_schema, make_engine
from operational.generator import CURRENCIES, HARD_NAMES, PRESET_TENANTS, generate, tenant_profiles, writers
from operational.generator.schema import TABLE_ORDER
from operational.generator.timezones import local_to_utc, transitions
from operational.models import Artist, Booking, Organization, Project, ProjectMilestone, User

AS_OF = dt.date(2026, 6, 30)
NOW = dt.datetime(AS_OF.year, AS_OF.month, AS_OF.day, 12, tzinfo=dt.timezone.utc)
EPOCH_DAY = dt.date(1970, 1, 1)


def _engine(tmp_path, name: str):
    engine = make_engine(f"sqlite:///{tmp_path / name}")
    create_schema(engine)
    return engine


def _dump(engine) -> list[tuple]:
    with Session(engine) as session:
        return [tuple(row) for row in session.execute(
            select(Booking.id, Booking.org_id, Booking.status, Booking.start_date, Booking.final_price,
                   Booking.currency).order_by(Booking.id))]


def _raw_sqlite(path) -> dict[str, list[tuple]]:
    """Every stored value with its SQLite storage class (the password hash is salted, the change
    number counts the loads: both left out)."""
    conn = sqlite3.connect(path)
    try:
        out = {}
        for table in TABLE_ORDER:
            columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")
                       if row[1] not in ("password_hash", "change_number")]
            select_list = ", ".join(f"{c}, typeof({c})" for c in columns)
            out[table] = conn.execute(f"SELECT {select_list} FROM {table} ORDER BY id").fetchall()
        return out
    finally:
        conn.close()


def test_same_seed_same_rows_and_rerun_replaces(tmp_path):
    first, second = _engine(tmp_path, "a.sqlite"), _engine(tmp_path, "b.sqlite")
    for engine in (first, second):
        generate(engine, tenants=4, seed=7, as_of=AS_OF, password="pw")
    assert _dump(first) == _dump(second)
    generate(first, tenants=4, seed=7, as_of=AS_OF, password="pw")  # rerun: replaced, not duplicated
    assert _dump(first) == _dump(second)
    with Session(first) as session:
        assert session.scalar(select(func.count()).select_from(Organization)) == 4
        empty_tenant = session.scalar(select(Organization.id).where(Organization.slug == "tenant-0004"))
        assert session.scalar(select(func.count()).where(Booking.org_id == empty_tenant)) == 0
    assert _raw_sqlite(tmp_path / "a.sqlite") == _raw_sqlite(tmp_path / "b.sqlite")


def test_statuses_agree_with_dates_and_hard_cases_exist(tmp_path):
    engine = _engine(tmp_path, "g.sqlite")
    tenants = generate(engine, tenants=3, seed=1, as_of=AS_OF, password="pw")
    assert [t.slug for t in tenants] == [p.slug for p in PRESET_TENANTS]
    assert [t.bookings for t in tenants] == [p.bookings for p in PRESET_TENANTS]
    with Session(engine) as session:
        bookings = session.scalars(select(Booking)).all()
        artists = session.scalars(select(Artist)).all()
        projects = session.scalars(select(Project)).all()
        milestones = session.scalars(select(ProjectMilestone)).all()
        first_tenant_names = set(session.scalars(select(Artist.name).where(Artist.org_id == tenants[0].id)))
        currencies = {json["base_currency"] for json in session.scalars(select(Organization.settings))}
    names = {a.name for a in artists}
    assert len(bookings) == 4800
    assert all(b.start_date > NOW for b in bookings if b.status in ("PENDING_APPROVAL", "APPROVED"))
    assert all(b.end_date <= NOW for b in bookings if b.status == "COMPLETED")
    assert all(b.start_date <= NOW < b.end_date for b in bookings if b.status == "IN_PROGRESS")
    assert all(b.end_date > b.start_date and b.duration_minutes > 0 for b in bookings)
    assert all(b.end_date - b.start_date == dt.timedelta(minutes=b.duration_minutes) for b in bookings)
    assert all(b.created_at <= b.updated_at <= NOW for b in bookings)
    assert all(b.payment_status == "PENDING" for b in bookings if b.status in ("DRAFT", "PENDING_APPROVAL"))
    assert any(b.final_price is None and b.status == "COMPLETED" for b in bookings)
    assert any(b.budget == 0 for b in bookings) and any(b.budget is None for b in bookings)
    assert {b.status for b in bookings} == {"DRAFT", "PENDING_APPROVAL", "APPROVED", "CONFIRMED", "IN_PROGRESS",
                                            "COMPLETED", "CANCELLED", "DISPUTE"}
    assert {"PAID", "PENDING", "PARTIAL", "REFUNDED", "DISPUTED"} <= {b.payment_status for b in bookings}
    assert {b.currency for b in bookings} <= set(CURRENCIES)
    assert len({b.currency for b in bookings}) > 3  # side currencies besides the base ones
    assert currencies == {"USD", "EUR", "JPY"}
    # every service date inside the FX seed (2022-01-03 .. 2028-12-29, business days)
    assert min(b.end_date for b in bookings).date() > dt.date(2022, 1, 3)
    assert max(b.end_date for b in bookings).date() < dt.date(2028, 12, 29)
    assert set(HARD_NAMES) <= first_tenant_names
    assert "<img src=x onerror=alert(1)>" in names and any(n.startswith("=HYPERLINK") for n in names)
    assert any("🎧" in n for n in names)
    assert any(a.rating is None for a in artists) and all(a.rating is None or 0 <= a.rating <= 5 for a in artists)
    assert all(a.genres and a.skills for a in artists)
    # local time: across local midnight, across DST changes, far east and far west
    zones = {b.timezone for b in bookings}
    assert {"Pacific/Kiritimati", "Pacific/Pago_Pago", "Pacific/Auckland", "Europe/Berlin", "America/New_York"} <= zones

    def local(moment, zone):
        return moment.astimezone(zoneinfo.ZoneInfo(zone))

    assert any(b.duration_minutes >= 23 * 60 for b in bookings)
    assert any(local(b.start_date, b.timezone).date() != local(b.end_date, b.timezone).date() for b in bookings)
    dst_zones = {b.timezone for b in bookings
                 if local(b.start_date, b.timezone).utcoffset() != local(b.end_date, b.timezone).utcoffset()}
    assert {"Europe/Berlin", "America/New_York"} <= dst_zones
    # projects and milestones: over budget, zero budget, overdue milestones still stored PENDING
    assert any(p.budget and p.spent > p.budget for p in projects)
    assert any(p.budget == 0 for p in projects)
    assert all(p.end_date is None or p.end_date >= p.start_date for p in projects)
    assert any(m.status == "PENDING" and m.due_date < AS_OF for m in milestones)
    assert all(m.completed_at is not None and m.completed_at <= NOW for m in milestones if m.status == "COMPLETED")


def test_fast_path_stores_exactly_what_sqlalchemy_stores(tmp_path, monkeypatch):
    fast = _engine(tmp_path, "fast.sqlite")
    generate(fast, tenants=8, seed=3, as_of=AS_OF, password="pw", scale=0.2)
    reference = _engine(tmp_path, "reference.sqlite")
    monkeypatch.setattr(generator, "open_writer", lambda engine, bulk: writers.SqlAlchemyWriter(engine, bulk=bulk))
    generate(reference, tenants=8, seed=3, as_of=AS_OF, password="pw", scale=0.2)
    assert _raw_sqlite(tmp_path / "fast.sqlite") == _raw_sqlite(tmp_path / "reference.sqlite")


def test_bulk_load_matches_small_chunks_and_restores_indexes(tmp_path, monkeypatch):
    """The bulk path (a child process writing through ADBC, indexes rebuilt after the load) gives the
    same rows as the transactional path with tiny chunks: determinism does not depend on chunking."""
    bulk = _engine(tmp_path, "bulk.sqlite")
    reader = sqlite3.connect(tmp_path / "bulk.sqlite")
    schema_before = reader.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    monkeypatch.setattr(generator, "BULK_BOOKINGS", 1)
    generate(bulk, tenants=6, seed=9, as_of=AS_OF, password="pw", scale=0.5)  # a reader is open: stays WAL
    reader.close()
    generate(bulk, tenants=6, seed=9, as_of=AS_OF, password="pw", scale=0.5)  # alone: rollback journal
    monkeypatch.setattr(generator, "BULK_BOOKINGS", 10**12)
    monkeypatch.setattr(generator, "CHUNK_BOOKINGS", 700)
    small = _engine(tmp_path, "small.sqlite")
    generate(small, tenants=6, seed=9, as_of=AS_OF, password="pw", scale=0.5)
    assert _raw_sqlite(tmp_path / "bulk.sqlite") == _raw_sqlite(tmp_path / "small.sqlite")
    conn = sqlite3.connect(tmp_path / "bulk.sqlite")
    assert conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall() == schema_before
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)  # back to WAL after the load


def _read_back(engine) -> list[tuple]:
    with Session(engine) as session:
        rows = session.scalars(select(Booking).order_by(Booking.id)).all()
        users = session.scalars(select(User).order_by(User.id)).all()
        projects = session.scalars(select(Project).order_by(Project.id)).all()
        artists = session.scalars(select(Artist).order_by(Artist.id)).all()
    assert rows and all(b.start_date.tzinfo is not None and b.created_at.utcoffset() == dt.timedelta(0) for b in rows)
    assert all(isinstance(b.budget, decimal.Decimal) for b in rows if b.budget is not None)
    assert all(isinstance(b.final_price, decimal.Decimal) for b in rows if b.final_price is not None)
    assert all(isinstance(b.requirements, dict) and isinstance(b.deliverables, list) for b in rows)
    assert all(isinstance(p.spent, decimal.Decimal) and isinstance(p.start_date, dt.date) for p in projects)
    assert all(a.rating is None or isinstance(a.rating, decimal.Decimal) for a in artists)
    return ([(b.id, b.org_id, b.project_id, b.artist_id, b.title, b.status, b.start_date, b.end_date, b.timezone,
              b.is_remote, b.budget, b.final_price, b.currency, b.payment_status, b.requirements, b.deliverables,
              b.notes, b.created_at, b.updated_at) for b in rows]
            + [(u.id, u.email, u.name, u.permissions, u.last_login_at, u.is_active) for u in users]
            + [(p.id, p.name, p.budget, p.spent, p.start_date, p.end_date, p.deadline, p.currency) for p in projects]
            + [(a.id, a.name, a.rating, a.genres, a.skills, a.social_links, a.total_earnings) for a in artists])


@pytest.mark.postgres
def test_rows_read_back_through_the_models_on_sqlite_and_postgres(tmp_path, pg_url, monkeypatch):
    sqlite_engine = _engine(tmp_path, "op.sqlite")
    pg_engine = make_engine(pg_url)
    create_schema(pg_engine)
    try:
        for engine in (sqlite_engine, pg_engine):
            generate(engine, tenants=5, seed=4, as_of=AS_OF, password="pw", scale=0.25)
        expected = _read_back(sqlite_engine)
        assert _read_back(pg_engine) == expected
        # bulk on PostgreSQL: constraints and indexes dropped, data loaded, everything rebuilt
        catalog = ("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid IN "
                   "(SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace) "
                   "UNION ALL SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2")
        with pg_engine.connect() as conn:
            before = conn.exec_driver_sql(catalog).fetchall()
        monkeypatch.setattr(generator, "BULK_BOOKINGS", 1)
        generate(pg_engine, tenants=5, seed=4, as_of=AS_OF, password="pw", scale=0.25)
        with pg_engine.connect() as conn:
            assert conn.exec_driver_sql(catalog).fetchall() == before
        assert _read_back(pg_engine) == expected
    finally:
        pg_engine.dispose()


def test_long_tail_profiles_scale_to_a_target():
    profiles = tenant_profiles(1000, 42, target_bookings=10_000_000)
    sizes = np.array([p.bookings for p in profiles])
    assert sizes.sum() == 10_000_000
    assert [p.bookings for p in profiles[:3]] == [p.bookings for p in PRESET_TENANTS]
    assert sizes[3] == 0 and len({p.slug for p in profiles}) == 1000
    assert sizes.max() > 20 * np.median(sizes)  # a long tail: a few big tenants, many small ones
    assert {p.base_currency for p in profiles} == set(CURRENCIES)
    available = zoneinfo.available_timezones()
    assert all(zone in available for p in profiles for zone in p.timezones)
    assert tenant_profiles(50, 42)[:10] == tenant_profiles(10, 42)[:10]  # prefix-stable
    assert sum(p.bookings for p in tenant_profiles(2, 42, target_bookings=1000)) == 1000


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Pacific/Auckland", "Pacific/Kiritimati"])
def test_local_to_utc_agrees_with_zoneinfo(zone):
    first, last = (dt.date(2025, 1, 1) - EPOCH_DAY).days, (dt.date(2026, 12, 31) - EPOCH_DAY).days
    rng = np.random.default_rng(0)
    local_seconds = rng.integers(first * 86400, last * 86400, 2000)
    local_seconds = np.concatenate([local_seconds, transitions(zone, first, last) + 7200])
    utc = local_to_utc(zone, local_seconds, first, last)
    tz = zoneinfo.ZoneInfo(zone)
    for wall, instant in zip(local_seconds.tolist(), utc.tolist()):
        naive = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=wall)
        moment = dt.datetime.fromtimestamp(instant, tz=dt.timezone.utc).astimezone(tz)
        if moment.replace(tzinfo=None) != naive:  # only a wall time that does not exist (spring gap)
            assert naive.replace(tzinfo=tz, fold=0).astimezone(dt.timezone.utc).astimezone(tz).replace(tzinfo=None) != naive
    if zone in ("Europe/Berlin", "America/New_York"):
        assert len(transitions(zone, first, last)) == 4
