"""PostgreSQL row-level security: through the application role, a transaction sees and writes only
the tenant named by app.tenant_id, nothing without one; superusers (extraction) still read all."""
from __future__ import annotations

import datetime as dt
from contextlib import contextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ingestion.operational_source import open_operational
from operational import rls
from operational.models import Artist
from operational.repository import TenantRepository

ALL_TABLES = rls.RLS_TABLES


@pytest.fixture
def db_url(pg_url):
    """PostgreSQL only: SQLite has no row-level security."""
    return pg_url


@contextmanager
def as_app(engine, tenant_id: str | None):
    """One transaction as auditoryx_app, scoped to ``tenant_id`` (or to no tenant)."""
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL ROLE auditoryx_app"))
        if tenant_id is not None:
            conn.execute(text("SELECT set_config('app.tenant_id', :tenant, true)"), {"tenant": tenant_id})
        yield conn


def _tenant_column(table: str) -> str:
    return "id" if table == "organizations" else "org_id"


def test_every_tenant_table_has_forced_rls_and_the_policy(migrated):
    with migrated.connect() as conn:
        rows = conn.execute(text(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, p.qual, p.with_check "
            "FROM pg_class c LEFT JOIN pg_policies p ON p.tablename = c.relname AND p.policyname = :policy "
            "WHERE c.relname = ANY(:tables) AND c.relkind = 'r'"),
            {"policy": rls.POLICY_NAME, "tables": list(ALL_TABLES)}).all()
        role = conn.execute(text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :role"),
                            {"role": rls.APP_ROLE}).one()
    assert {row.relname for row in rows} == set(ALL_TABLES)
    for row in rows:
        assert row.relrowsecurity and row.relforcerowsecurity, row.relname
        for clause in (row.qual, row.with_check):
            assert "current_setting('app.tenant_id'" in clause and _tenant_column(row.relname) in clause
    assert tuple(role) == (False, False)  # the app role is subject to RLS


def test_tenant_sees_only_its_rows_without_any_where(migrated, tenants):
    a, b = tenants
    with as_app(migrated, a.id) as conn:
        bookings = conn.execute(text("SELECT * FROM bookings")).mappings().all()
        assert sorted(row["id"] for row in bookings) == sorted(a.booking_ids)
        assert conn.execute(text("SELECT count(*) FROM artists WHERE name = 'Canary Zyxwvut'")).scalar() == 0
        for table in ALL_TABLES:
            tenants_seen = conn.execute(text(f"SELECT DISTINCT {_tenant_column(table)} FROM {table}")).scalars().all()
            assert set(tenants_seen) <= {a.id}, table
    with as_app(migrated, b.id) as conn:
        assert sorted(conn.execute(text("SELECT id FROM bookings")).scalars()) == sorted(b.booking_ids)


def test_no_tenant_set_means_nothing_visible(migrated, tenants):
    with as_app(migrated, None) as conn:
        for table in ALL_TABLES:
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0, table


def test_setting_lasts_one_transaction(migrated, tenants):
    a, _ = tenants
    with migrated.connect() as conn:
        with conn.begin():
            rls.tenant_scope(conn, a.id, as_app_role=True)
            assert conn.execute(text("SELECT count(*) FROM bookings")).scalar() == len(a.booking_ids)
        with conn.begin():  # same connection, next transaction: the role and tenant are gone
            assert conn.execute(text("SELECT current_user")).scalar() != rls.APP_ROLE
            rls.assume_app_role(conn)
            assert conn.execute(text("SELECT count(*) FROM bookings")).scalar() == 0


def test_writing_into_another_tenant_is_refused(migrated, tenants):
    a, b = tenants
    start = dt.datetime(2026, 5, 1, 10, tzinfo=dt.timezone.utc)
    insert = text(
        "INSERT INTO bookings (id, org_id, artist_id, title, type, status, priority, start_date, end_date, "
        "duration_minutes, timezone, is_remote, currency, payment_status, requirements, deliverables, "
        "created_at, updated_at) VALUES (:id, :org, :artist, 'x', 'MIXING', 'DRAFT', 'LOW', :start, :end, 60, "
        "'UTC', false, 'USD', 'PENDING', '{}', '[]', :start, :start)")
    values = {"start": start, "end": start + dt.timedelta(hours=1)}
    with pytest.raises(DBAPIError, match="row-level security"):
        with as_app(migrated, a.id) as conn:
            conn.execute(insert, {"id": "smuggled", "org": b.id, "artist": b.artist_id, **values})
    with pytest.raises(DBAPIError, match="row-level security"):  # nor move one of A's rows to B
        with as_app(migrated, a.id) as conn:
            conn.execute(text("UPDATE bookings SET org_id = :b WHERE id = :id"), {"b": b.id, "id": a.booking_ids[0]})
    with as_app(migrated, a.id) as conn:  # B's rows are invisible to UPDATE and DELETE
        assert conn.execute(text("UPDATE bookings SET title = 'hacked' WHERE org_id = :b"), {"b": b.id}).rowcount == 0
        assert conn.execute(text("DELETE FROM bookings WHERE id = :id"), {"id": b.booking_ids[0]}).rowcount == 0
        conn.execute(insert, {"id": "legit", "org": a.id, "artist": a.artist_id, **values})  # own tenant: fine
    with as_app(migrated, b.id) as conn:
        assert "hacked" not in conn.execute(text("SELECT title FROM bookings")).scalars().all()


def test_audit_log_is_append_only_for_the_app_role(migrated, tenants):
    a, _ = tenants
    with as_app(migrated, a.id) as conn:
        conn.execute(text("INSERT INTO audit_log (id, org_id, action, entity, entity_id, at) "
                          "VALUES ('e1', :org, 'create', 'bookings', 'b1', now())"), {"org": a.id})
        assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar() == 1
    for statement in ("UPDATE audit_log SET action = 'forged'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="permission denied"):
            with as_app(migrated, a.id) as conn:
                conn.execute(text(statement))


def test_superuser_extraction_still_reads_every_tenant(migrated, tenants, db_url):
    a, b = tenants
    with migrated.connect() as conn:  # the owner/superuser: no role, no tenant
        assert conn.execute(text("SELECT count(*) FROM bookings")).scalar() == len(a.booking_ids + b.booking_ids)
    with open_operational(db_url) as reader:
        assert set(reader.tenant_ids()) == {a.id, b.id}
        assert reader.read("bookings", b.id).num_rows == len(b.booking_ids)


def test_repository_scopes_every_transaction_of_its_session(migrated, tenants):
    """Even a query that forgets the tenant sees only A's rows: the repository set app.tenant_id
    (and, here, the application role) for every transaction of its session."""
    a, b = tenants
    with Session(migrated) as session:
        repo = TenantRepository(session, a.id, as_app_role=True)
        count = text("SELECT count(*) FROM bookings")
        assert session.scalar(count) == len(a.booking_ids)
        assert session.scalar(text("SELECT current_setting('app.tenant_id')")) == a.id
        repo.add(Artist, name="New Artist")
        session.commit()
        assert session.scalar(count) == len(a.booking_ids)  # the next transaction is scoped again
        assert session.scalar(text("SELECT current_user")) == "auditoryx_app"
        assert [x.name for x in repo.list(Artist)] == ["Alpha Artist", "New Artist"]
    with Session(migrated) as session:  # a plain session of the superuser sees both tenants
        assert session.scalar(text("SELECT count(*) FROM bookings")) == len(a.booking_ids + b.booking_ids)
