"""PostgreSQL, connected as the row-level-security role (as the web tier is): user and
organization administration still work, and what RLS hides (another tenant's users) is still
refused by the constraints, with the same messages."""
from __future__ import annotations

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from auditoryx.errors import AuditoryxError
from operational import audit, organizations as orgs, users
from operational.db import create_schema, make_engine
from operational.models import User
from operational.permissions import Actor, platform_operator
from operational.rls import APP_ROLE
from tests.operational.conftest import seed_tenant

GOOD = "correct horse battery staple"


@pytest.fixture
def pg(pg_url):
    """(owner engine, app-role engine, tenant A, tenant B)."""
    owner = make_engine(pg_url)
    create_schema(owner)
    with Session(owner) as session, session.begin():
        a = seed_tenant(session, "tenant-a", 0, "Alpha")
        b = seed_tenant(session, "tenant-b", 0, "Canary")
    app = make_engine(pg_url)
    event.listen(app, "connect", lambda dbapi, _record: _set_role(dbapi))
    yield owner, app, a, b
    app.dispose()
    owner.dispose()


def _set_role(dbapi_connection) -> None:
    with dbapi_connection.cursor() as cursor:
        cursor.execute(f'SET ROLE "{APP_ROLE}"')
    dbapi_connection.commit()


def test_user_admin_under_row_level_security(pg):
    owner, app, a, b = pg
    admin = Actor.of(user_id=a.user_id, tenant_id=a.id, role="ORG_ADMIN")
    assert [u.email for u in users.list_tenant_users(app, admin)] == ["admin@tenant-a.example"]
    created, _ = users.new_user(app, admin, email="new@tenant-a.example", name="New", role="VIEWER", password=GOOD)
    assert users.change_role(app, admin, created.id, "ACCOUNTANT").role == "ACCOUNTANT"
    assert users.deactivate_user(app, admin, created.id).is_active is False
    with pytest.raises(users.NotFoundError, match="no user"):
        users.get_user(app, admin, b.user_id)
    # B's admin is invisible here: the unique constraint answers, with the usual message
    with pytest.raises(users.DuplicateEmail, match="^a user with email admin@tenant-b.example already exists$"):
        users.new_user(app, admin, email="ADMIN@tenant-b.example", name="Dup", role="VIEWER", password=GOOD)
    results = users.bulk_create_users(app, admin, "email,name,role\none@tenant-a.example,One,VIEWER\n"
                                                  "admin@tenant-b.example,Dup,VIEWER\ntwo@tenant-a.example,Two,VIEWER\n")
    assert [r.status for r in results] == ["created", "duplicate", "created"]
    assert results[1].message == "a user with email admin@tenant-b.example already exists"
    with Session(owner) as session:
        assert session.get(User, b.user_id).name == "Admin"
        assert len([e for e in audit.entries(session, a.id) if e.entity == "users"]) == 5
        assert audit.entries(session, b.id) == []


def test_settings_and_platform_changes_under_row_level_security(pg):
    owner, app, a, b = pg
    admin = Actor.of(user_id=a.user_id, tenant_id=a.id, role="ORG_ADMIN")
    assert orgs.update_organization_settings(app, admin, primary_color="#102030").primary_color == "#102030"
    operator = platform_operator()
    assert {o.slug for o in orgs.list_organizations(app, operator)} == {"tenant-a", "tenant-b"}
    assert orgs.change_plan(app, operator, b.id, "CUSTOM").plan == "CUSTOM"
    assert orgs.deactivate_organization(app, operator, b.id).is_active is False
    with Session(owner) as session:
        assert [e.after for e in audit.entries(session, b.id)] == [{"plan": "CUSTOM"}, {"is_active": False}]


def test_create_organization_as_the_app_role(pg):
    """Operators create organizations from the web tier (migration 0003 grants INSERT; RLS still
    checks the new row against the transaction's tenant)."""
    owner, app, a, b = pg
    created = orgs.create_organization(app, platform_operator(), name="Nova", slug="nova", type="INDIVIDUAL",
                                       plan="FREE", base_currency="EUR", time_zone="UTC",
                                       admin_email="boss@nova.example", admin_name="Boss")
    assert created.organization.slug == "nova"
    with Session(owner) as session:
        assert [e.entity for e in audit.entries(session, created.organization.id)] == ["organizations", "users"]
