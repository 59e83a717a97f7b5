"""Audit log on both backends: repository writes record who changed what in the same transaction,
secrets are redacted, entries cannot be changed through the ORM (PostgreSQL grants: test_rls.py)."""
from __future__ import annotations

import decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from operational import audit
from operational.models import Artist, AuditLog, Booking, User
from operational.repository import TenantRepository
from tests.operational.conftest import booking_values


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_add_and_update_are_audited(migrated, tenants):
    a, b = tenants
    with Session(migrated) as session, session.begin():
        repo = TenantRepository(session, a.id, actor_id=a.user_id)
        booking = repo.add(Booking, **booking_values(a.artist_id, title="Audited"))
        booking_id = booking.id
        repo.update(Booking, booking_id, final_price=decimal.Decimal("99.5"), status="COMPLETED", title="Audited")
        repo.update(Booking, booking_id, title="Audited")  # no change: no entry
    with Session(migrated) as session:
        created, updated = audit.entries(session, a.id, entity="bookings", entity_id=booking_id)
        assert (created.action, created.actor_id, created.org_id, created.before) == ("create", a.user_id, a.id, None)
        assert created.after["title"] == "Audited" and created.after["final_price"] == "250.00"
        assert created.after["start_date"].startswith("2026-03-29T10:00:00")
        assert updated.action == "update"
        assert updated.before == {"final_price": "250.00", "status": "CONFIRMED"}
        assert updated.after == {"final_price": "99.50", "status": "COMPLETED"}
        assert audit.entries(session, b.id) == []  # B's log holds nothing of A's


def test_audit_entry_and_change_share_one_transaction(migrated, tenants):
    a, _ = tenants
    with Session(migrated) as session:
        before = (_count(session, Artist), _count(session, AuditLog))
        TenantRepository(session, a.id).add(Artist, name="Rolled Back")
        assert (_count(session, Artist), _count(session, AuditLog)) == (before[0] + 1, before[1] + 1)
        session.rollback()
        assert (_count(session, Artist), _count(session, AuditLog)) == before


def test_secrets_are_redacted(migrated, tenants):
    a, _ = tenants
    with Session(migrated) as session, session.begin():
        repo = TenantRepository(session, a.id)
        user = repo.add(User, email="new@tenant-a.example", name="New", role="VIEWER", password_hash="$argon2id$secret")
        repo.update(User, user.id, password_hash="$argon2id$other")
        created, updated = audit.entries(session, a.id, entity="users", entity_id=user.id)
        assert created.after["password_hash"] == audit.REDACTED and created.after["role"] == "VIEWER"
        assert updated.before == updated.after == {"password_hash": audit.REDACTED}  # a change, not its value


def test_record_directly_and_entries_cannot_be_changed(migrated, tenants):
    a, _ = tenants
    with Session(migrated) as session, session.begin():
        entry_id = audit.record(session, tenant_id=a.id, actor_id=None, action="export", entity="bookings",
                                entity_id="*", before=None, after={"rows": 3, "amount": decimal.Decimal("1.10")}).id
    with Session(migrated) as session:
        entry = session.get(AuditLog, entry_id)
        assert entry.after == {"rows": 3, "amount": "1.10"}
        entry.action = "forged"
        with pytest.raises(ValueError, match="append-only"):
            session.flush()
        session.rollback()
        session.delete(session.get(AuditLog, entry_id))
        with pytest.raises(ValueError, match="append-only"):
            session.flush()
    with Session(migrated) as session, pytest.raises(ValueError, match="tenant"):
        audit.record(session, tenant_id="", actor_id=None, action="x", entity="y", entity_id="z",
                     before=None, after=None)
