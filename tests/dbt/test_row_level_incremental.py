"""Issue #18: in a build limited to some tenants, the bookings model looks only at the bookings
extraction recorded as changed (warehouse/pending.py ``rows_known``), not at the tenant's every
booking; the result still equals a full-refresh build of the same raw data, mart by mart.

Operational database (SQLite) → ``ingest`` (marks and changed rows) → ``build_all``, after random
edits, backdated writes, moves to other months, deletes, deletes written again and late rows,
refreshing one tenant or all of them; then compared with a full-refresh build of a copy of the
same raw tables (tests/dbt/test_incremental.py).
"""
from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import tempfile
import uuid
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select, text, update

from auditoryx.pipeline import ingest
from auditoryx.settings import get_settings
from operational.db import create_schema, make_engine
from operational.generator import generate
from operational.models import Artist, Booking
from tests.dbt.test_incremental import assert_same_tables, build_tables, full_refresh_of_copy
from warehouse.dbt_runner import BOOKINGS_MODEL_ALSO_READS, build_all, plan_build
from warehouse.pending import rows_known

AS_OF = dt.date(2026, 6, 30)
LONG_AGO = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
BOOKINGS = Booking.__table__


# --- the rule, without I/O ------------------------------------------------------------------------

def test_rows_are_known_only_when_every_mark_of_the_tenant_is_a_recorded_one():
    marks = [
        ("rows", "bookings", True), ("rows", "projects", False), ("rows", "", False),
        ("broad", "bookings", True), ("broad", "*", False),                 # a file drop, a quarantine…
        ("base-currency", "bookings", True), ("base-currency", "organizations", True),
        ("unrecorded", "bookings", False),                                  # narrowed without rows
        ("no-bookings", "artists", True),                                   # nothing to look at
    ]
    assert rows_known(marks, "bookings", BOOKINGS_MODEL_ALSO_READS) == ["no-bookings", "rows"]
    assert rows_known([], "bookings") == []


# --- the model, through extraction ----------------------------------------------------------------

def _settings(folder: Path):
    return get_settings(var_dir=folder / "var", as_of=AS_OF, operational_url=f"sqlite:///{folder / 'op.sqlite'}")


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """Two generated tenants, extracted and built once (copied per example)."""
    folder = tmp_path_factory.mktemp("row-level")
    settings = _settings(folder)
    engine = make_engine(settings.operational_database_url)
    create_schema(engine)
    generate(engine, tenants=2, seed=23, as_of=AS_OF, password="pw", scale=0.04)
    engine.dispose()
    ingest(settings)
    build_all(settings.build_database_path, settings.dbt_work_dir, AS_OF)
    return folder


def _copy(template: Path, folder: Path) -> None:
    with sqlite3.connect(template / "op.sqlite") as src, sqlite3.connect(folder / "op.sqlite") as dst:
        src.backup(dst)
    shutil.copytree(template / "var", folder / "var")


def _late_booking(tenant_id: str, artist_id: str) -> dict:
    end = dt.datetime(2026, 3, 1, 12, tzinfo=dt.timezone.utc)
    return {"id": str(uuid.uuid4()), "org_id": tenant_id, "artist_id": artist_id, "title": "Late",
            "type": "MIXING", "status": "COMPLETED", "priority": "MEDIUM", "start_date": end - dt.timedelta(hours=2),
            "end_date": end, "duration_minutes": 120, "timezone": "UTC", "is_remote": False, "currency": "USD",
            "final_price": 250, "payment_status": "PAID", "requirements": {}, "deliverables": [],
            "created_at": LONG_AGO, "updated_at": LONG_AGO}


def _apply(conn, operation, tenant_ids: list[str]) -> None:
    kind, tenant_index, pick, *args = operation
    tenant = tenant_ids[tenant_index]
    ids = conn.execute(select(BOOKINGS.c.id).where(BOOKINGS.c.org_id == tenant).order_by(BOOKINGS.c.id)).scalars().all()
    target = ids[pick % len(ids)]
    row = conn.execute(select(BOOKINGS).where(BOOKINGS.c.id == target)).mappings().one()
    if kind == "price":
        conn.execute(update(BOOKINGS).where(BOOKINGS.c.id == target).values(final_price=(row["final_price"] or 0) + 7))
    elif kind == "status":
        conn.execute(update(BOOKINGS).where(BOOKINGS.c.id == target).values(status=args[0]))
    elif kind == "backdate":
        conn.execute(update(BOOKINGS).where(BOOKINGS.c.id == target).values(budget=123, updated_at=LONG_AGO))
    elif kind == "move":
        shift = dt.timedelta(days=args[0])
        conn.execute(update(BOOKINGS).where(BOOKINGS.c.id == target).values(
            start_date=row["start_date"] + shift, end_date=row["end_date"] + shift))
    elif kind == "delete":
        conn.execute(delete(BOOKINGS).where(BOOKINGS.c.id == target))
    elif kind == "again":
        conn.execute(delete(BOOKINGS).where(BOOKINGS.c.id == target))
        conn.execute(insert(BOOKINGS), [{**{k: v for k, v in row.items() if k != "change_number"},
                                         "title": "Written again", "status": "CANCELLED", "updated_at": LONG_AGO}])
    elif kind == "late":
        artist = conn.execute(select(Artist.id).where(Artist.org_id == tenant).limit(1)).scalar()
        conn.execute(insert(Booking), [_late_booking(tenant, artist)])


TENANT = st.integers(0, 1)
PICK = st.integers(0, 10_000)
OPERATIONS = st.lists(st.one_of(
    st.tuples(st.just("price"), TENANT, PICK),
    st.tuples(st.just("status"), TENANT, PICK, st.sampled_from(["COMPLETED", "CANCELLED", "CONFIRMED", "DRAFT"])),
    st.tuples(st.just("backdate"), TENANT, PICK),
    st.tuples(st.just("move"), TENANT, PICK, st.sampled_from([-62, -31, 29, 45, 400])),
    st.tuples(st.just("delete"), TENANT, PICK),
    st.tuples(st.just("again"), TENANT, PICK),
    st.tuples(st.just("late"), TENANT, PICK),
    st.tuples(st.just("refresh"), st.sampled_from(["one", "all"]), st.just(0)),
), min_size=1, max_size=5)


def _written_rows(db: Path, since: dt.datetime) -> int:
    with duckdb.connect(str(db), read_only=True) as conn:
        return conn.execute("select count(*) from intermediate.int_bookings_enriched where loaded_at > ?",
                            [since]).fetchone()[0]


def _refresh(settings, tenant_ids) -> list[str]:
    """Extract (``tenant_ids``: None for all), then build; return the build's row-level tenants
    (every tenant of the build's scope: extraction recorded all their changed rows)."""
    ingest(settings, tenant_ids)
    plan = plan_build(settings.build_database_path, AS_OF)
    assert plan.row_scope == (plan.tenant_scope or [])
    build_all(settings.build_database_path, settings.dbt_work_dir, AS_OF)
    return plan.row_scope


@hypothesis_settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_row_level_builds_equal_a_full_refresh(template, operations):
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        _copy(template, folder)
        settings = _settings(folder)
        engine = make_engine(settings.operational_database_url)
        with engine.connect() as conn:
            tenant_ids = sorted(conn.execute(text("SELECT id FROM organizations")).scalars())
        try:
            for operation in operations:
                if operation[0] == "refresh":
                    _refresh(settings, tenant_ids[:1] if operation[1] == "one" else None)
                    continue
                with engine.begin() as conn:
                    _apply(conn, operation, tenant_ids)
            _refresh(settings, None)
        finally:
            engine.dispose()
        assert_same_tables(build_tables(settings.build_database_path),
                           full_refresh_of_copy(settings.build_database_path, folder / "reference", AS_OF))


def test_one_changed_booking_rewrites_its_partitions_only(template, tmp_path):
    """A price change in one tenant: the build is row-level for it, writes only the rows of the
    booking's (tenant, month) partition and leaves no pending rows (the property test above checks
    the numbers against a full refresh)."""
    _copy(template, tmp_path)
    settings = _settings(tmp_path)
    engine = make_engine(settings.operational_database_url)
    with engine.begin() as conn:
        tenant_ids = sorted(conn.execute(text("SELECT id FROM organizations")).scalars())
        _apply(conn, ("price", 0, 3), tenant_ids)
    engine.dispose()
    with duckdb.connect(str(settings.build_database_path), read_only=True) as conn:
        before = conn.execute("select max(loaded_at) from intermediate.int_bookings_enriched").fetchone()[0]
        total = conn.execute("select count(*) from intermediate.int_bookings_enriched where tenant_id = ?",
                             [tenant_ids[0]]).fetchone()[0]
    assert _refresh(settings, tenant_ids[:1]) == tenant_ids[:1]
    written = _written_rows(settings.build_database_path, before)
    assert 1 <= written < total / 3  # one month's rows, not the tenant's
    with duckdb.connect(str(settings.build_database_path), read_only=True) as conn:
        assert conn.execute("select count(*) from main.dbt_pending_rows").fetchone()[0] == 0
