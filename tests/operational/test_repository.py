"""TenantRepository on both backends: tenant A never reads, changes or references tenant B's rows
(B holds a canary artist). Its PostgreSQL row-level-security scoping is tested in test_rls.py."""
from __future__ import annotations

import decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from operational.models import Artist, AuditLog, Booking, Project, User
from operational.repository import NotFoundError, TenantRepository, TenantScopeError
from tests.operational.conftest import CANARY, booking_values


@pytest.mark.parametrize("tenant_id", [None, "", "   ", 42])
def test_a_tenant_is_required(migrated, tenant_id):
    with Session(migrated) as session, pytest.raises(TenantScopeError, match="tenant is required"):
        TenantRepository(session, tenant_id)


def test_one_session_serves_one_tenant(migrated, tenants):
    a, b = tenants
    with Session(migrated) as session:
        TenantRepository(session, a.id)
        TenantRepository(session, a.id)  # the same tenant again is fine
        with pytest.raises(TenantScopeError, match="another tenant"):
            TenantRepository(session, b.id)


def test_reads_are_confined_to_the_tenant(migrated, tenants):
    a, b = tenants
    with Session(migrated) as session:
        repo = TenantRepository(session, a.id)
        assert sorted(x.id for x in repo.list(Booking)) == sorted(a.booking_ids)
        assert [x.name for x in repo.list(Artist)] == ["Alpha Artist"]
        assert [x.email for x in repo.list(User)] == ["admin@tenant-a.example"]
        assert [x.id for x in repo.list(Project)] == [a.project_id]
        assert repo.list(Artist, Artist.name == CANARY) == []
        assert [x.title for x in repo.list(Booking, limit=2, order_by=Booking.title.desc())] == [
            "Alpha Artist #2", "Alpha Artist #1"]
        assert repo.get(Booking, b.booking_ids[0]) is None
        assert repo.get(Artist, b.artist_id) is None
        assert repo.get(Booking, a.booking_ids[0]).org_id == a.id
        assert repo.organization().slug == "tenant-a"
        with pytest.raises(NotFoundError):
            repo.require(User, b.user_id)


def test_writes_are_confined_to_the_tenant(migrated, tenants):
    a, b = tenants
    with Session(migrated) as session, session.begin():
        repo = TenantRepository(session, a.id, actor_id=a.user_id)
        with pytest.raises(TenantScopeError, match="another tenant"):
            repo.add(Artist, org_id=b.id, name="Smuggled")
        with pytest.raises(TenantScopeError, match="artist_id .*: no such artists row in this tenant"):
            repo.add(Booking, **booking_values(b.artist_id))  # B's canary artist
        with pytest.raises(TenantScopeError, match="project_id"):
            repo.add(Booking, **booking_values(a.artist_id, project_id=b.project_id))
        with pytest.raises(NotFoundError):
            repo.update(Booking, b.booking_ids[0], title="hacked")
        with pytest.raises(ValueError, match="org_id"):
            repo.update(Booking, a.booking_ids[0], org_id=b.id)
        with pytest.raises(ValueError, match="unknown bookings fields: colour"):
            repo.update(Booking, a.booking_ids[0], colour="red")
        with pytest.raises(TypeError):
            repo.list(AuditLog)  # not an entity of the repository
        booking_id = repo.add(Booking, **booking_values(a.artist_id, project_id=a.project_id)).id
        repo.update(Booking, booking_id, final_price=decimal.Decimal("300"), status="COMPLETED")
    with Session(migrated) as session:
        assert session.get(Booking, booking_id).org_id == a.id
        assert session.get(Booking, booking_id).final_price == decimal.Decimal("300.00")
        assert {session.get(Booking, i).title for i in b.booking_ids} == {f"{CANARY} #0", f"{CANARY} #1"}
        assert session.scalar(select(func.count()).select_from(Artist).where(Artist.name == "Smuggled")) == 0
