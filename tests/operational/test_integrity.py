"""Tenant integrity enforced by the schema itself (migration 0003), on both backends: references
stay inside their tenant, emails are unique whatever their case, slugs never change."""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from operational.models import Artist, Booking, Organization, User


def _raw_booking(conn, tenant_id: str, artist_id: str, **extra) -> None:
    values = {"id": "cross-tenant-booking", "org_id": tenant_id, "artist_id": artist_id, "client_id": None,
              "project_id": None}
    values.update(extra)
    conn.execute(text(
        "INSERT INTO bookings (id, org_id, artist_id, client_id, project_id, title, type, status, priority, "
        "start_date, end_date, duration_minutes, timezone, is_remote, currency, payment_status, requirements, "
        "deliverables, created_at, updated_at) VALUES (:id, :org_id, :artist_id, :client_id, :project_id, 't', "
        "'MIXING', 'CONFIRMED', 'MEDIUM', '2026-01-01 10:00:00+00', '2026-01-01 12:00:00+00', 120, 'UTC', "
        "false, 'EUR', 'PENDING', '{}', '[]', '2026-01-01 00:00:00+00', '2026-01-01 00:00:00+00')"), values)


@pytest.mark.parametrize("column", ["artist_id", "client_id", "project_id"])
def test_raw_cross_tenant_reference_is_refused(migrated, tenants, column):
    a, b = tenants
    target = {"artist_id": b.artist_id, "client_id": b.user_id, "project_id": b.project_id}[column]
    extra = {column: target}
    if column != "artist_id":
        extra["artist_id"] = a.artist_id
    with pytest.raises(IntegrityError):
        with migrated.begin() as conn:  # the owner: no RLS, no repository in the way
            _raw_booking(conn, a.id, **extra)
    with migrated.begin() as conn:  # the same row inside the tenant is fine
        _raw_booking(conn, a.id, a.artist_id, client_id=a.user_id, project_id=a.project_id)


def test_deleting_another_tenants_artist_cannot_reach_this_tenant(migrated, tenants):
    a, b = tenants
    with Session(migrated) as session, session.begin():
        session.delete(session.get(Artist, b.artist_id))
    with Session(migrated) as session:
        assert session.query(Booking).filter_by(org_id=a.id).count() == len(a.booking_ids)
        assert session.query(Booking).filter_by(org_id=b.id).count() == 0


def test_deleting_a_user_still_clears_references_to_it(migrated, tenants):
    a, _b = tenants
    with Session(migrated) as session, session.begin():
        session.get(Booking, a.booking_ids[0]).client_id = a.user_id
    with Session(migrated) as session, session.begin():
        session.delete(session.get(User, a.user_id))
    with Session(migrated) as session:
        assert session.get(Booking, a.booking_ids[0]).client_id is None


def test_email_case_collision_is_refused(migrated, tenants):
    a, b = tenants
    with Session(migrated) as session:
        user_b = session.get(User, b.user_id)
        user_b.email = f"ADMIN@{a.slug.upper()}.EXAMPLE"  # stored lower-case: collides with A's admin
        with pytest.raises(IntegrityError):
            session.commit()
    with pytest.raises(IntegrityError):  # a raw write cannot store upper case either
        with migrated.begin() as conn:
            conn.execute(text("UPDATE users SET email = 'Someone@Else.example' WHERE id = :id"), {"id": b.user_id})


def test_slugs_cannot_change(migrated, tenants):
    a, _b = tenants
    with pytest.raises(DBAPIError, match="slugs cannot change"):
        with migrated.begin() as conn:
            conn.execute(text("UPDATE organizations SET slug = 'renamed' WHERE id = :id"), {"id": a.id})
    with migrated.begin() as conn:  # other columns still change
        conn.execute(text("UPDATE organizations SET name = 'Renamed' WHERE id = :id"), {"id": a.id})
    with Session(migrated) as session:
        assert session.get(Organization, a.id).slug == a.slug


def test_existing_emails_are_lower_cased_by_the_migration(db_url):
    from alembic import command

    from operational.db import alembic_config, create_schema, make_engine, migration_connection

    engine = make_engine(db_url)
    with migration_connection(engine) as conn:
        command.upgrade(alembic_config(conn), "0002")
        conn.execute(text("INSERT INTO organizations (id, name, slug, type, plan, branding, settings, is_active, "
                          "created_at, updated_at) VALUES ('o1', 'O', 'org-one', 'INDIVIDUAL', 'FREE', '{}', '{}', "
                          "true, '2026-01-01 00:00:00+00', '2026-01-01 00:00:00+00')"))
        conn.execute(text("INSERT INTO users (id, org_id, email, name, role, permissions, password_hash, is_active, "
                          "created_at, updated_at) VALUES ('u1', 'o1', 'Mixed.Case@Example.COM', 'U', 'VIEWER', "
                          "'[]', 'x', true, '2026-01-01 00:00:00+00', '2026-01-01 00:00:00+00')"))
    create_schema(engine)
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT email FROM users WHERE id = 'u1'")) == "mixed.case@example.com"
    engine.dispose()
