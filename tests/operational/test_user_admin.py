"""User administration services (operational/users.py) on both backends: the permission matrix,
tenant confinement (tenant B holds a canary user A's admin must never reach), role rules, the last
ORG_ADMIN, global case-insensitive e-mail uniqueness, bulk creation, and an audit entry per change."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auditoryx.errors import AuditoryxError
from operational import audit, users
from operational.auth import verify_password
from operational.models import AuditLog, User
from operational.passwords import WeakPassword
from operational.permissions import Actor, InvalidPermission, PermissionDenied, command_line_operator
from operational.repository import NotFoundError
from tests.operational.conftest import CANARY

GOOD = "correct horse battery staple"


def actor_for(tenant, role: str = "ORG_ADMIN", user_id: str | None = "self", **kwargs) -> Actor:
    return Actor.of(user_id=tenant.user_id if user_id == "self" else user_id, tenant_id=tenant.id, role=role, **kwargs)


def audit_rows(engine, tenant_id: str) -> list[AuditLog]:
    with Session(engine) as session:
        return audit.entries(session, tenant_id)


def user_row(engine, user_id: str) -> User:
    with Session(engine) as session:
        user = session.get(User, user_id)
        session.expunge(user)
        return user


@pytest.fixture
def world(migrated, tenants):
    """Tenants A and B; B has a canary VIEWER besides its admin."""
    a, b = tenants
    canary, _ = users.new_user(migrated, command_line_operator(b.id), email="canary@tenant-b.example",
                               name=CANARY, role="VIEWER", password=GOOD)
    return migrated, a, b, canary


def test_an_org_admin_runs_every_function_and_each_change_is_audited(world):
    engine, a, _, _ = world
    admin = actor_for(a)
    before = len(audit_rows(engine, a.id))

    created, generated = users.new_user(engine, admin, email="  New.Person@Tenant-A.Example ", name=" Nia ",
                                        role="label_manager")
    assert (created.email, created.name, created.role, created.is_active) == (
        "new.person@tenant-a.example", "Nia", "LABEL_MANAGER", True)
    assert generated and verify_password(user_row(engine, created.id).password_hash, generated)
    chosen, none = users.new_user(engine, admin, email="viv@tenant-a.example", name="Viv", role="VIEWER",
                                  password=GOOD, permissions=["Bookings:Read"])
    assert none is None and chosen.permissions == ("bookings:read",)

    listed = users.list_tenant_users(engine, admin)
    assert [u.email for u in listed] == ["admin@tenant-a.example", "new.person@tenant-a.example",
                                         "viv@tenant-a.example"]
    assert {u.id for u in listed} >= {a.user_id, created.id} and all(u.last_login_at is None for u in listed)
    assert users.get_user(engine, admin, created.id) == created
    assert users.find_user_by_email(engine, admin, "NEW.person@tenant-a.example").id == created.id

    assert users.change_role(engine, admin, created.id, "accountant").role == "ACCOUNTANT"
    assert users.set_user_permissions(engine, admin, created.id, ["bookings:write", "!reports:export"]
                                      ).permissions == ("bookings:write", "!reports:export")
    new_password = users.reset_user_password(engine, admin, created.id)
    assert verify_password(user_row(engine, created.id).password_hash, new_password)
    assert not verify_password(user_row(engine, created.id).password_hash, generated)
    assert users.reset_user_password(engine, admin, created.id, "another good passphrase") is None
    assert users.deactivate_user(engine, admin, created.id).is_active is False
    assert users.reactivate_user(engine, admin, created.id).is_active is True
    results = users.bulk_create_users(engine, admin, "email,name,role\nbulk@tenant-a.example,Bo,VIEWER\n")
    assert [r.status for r in results] == ["created"]

    entries = audit_rows(engine, a.id)[before:]
    assert [(e.action, e.entity) for e in entries] == [("create", "users")] * 2 + [("update", "users")] * 6 + [
        ("create", "users")]
    assert {e.actor_id for e in entries} == {a.user_id}
    assert entries[2].before == {"role": "LABEL_MANAGER"} and entries[2].after == {"role": "ACCOUNTANT"}
    assert entries[4].before == {"password_hash": "[redacted]"}
    assert "$argon2" not in str([(e.before, e.after) for e in entries])


@pytest.mark.parametrize("role", ["LABEL_MANAGER", "VIEWER", "CREATOR", "CLIENT"])
def test_other_roles_are_refused_everything(world, role):
    engine, a, _, _ = world
    actor = actor_for(a, role)
    target = a.user_id
    calls = [
        lambda: users.list_tenant_users(engine, actor),
        lambda: users.get_user(engine, actor, target),
        lambda: users.find_user_by_email(engine, actor, "admin@tenant-a.example"),
        lambda: users.new_user(engine, actor, email="x@tenant-a.example", name="X", role="VIEWER", password=GOOD),
        lambda: users.change_role(engine, actor, target, "VIEWER"),
        lambda: users.deactivate_user(engine, actor, target),
        lambda: users.reactivate_user(engine, actor, target),
        lambda: users.reset_user_password(engine, actor, target),
        lambda: users.set_user_permissions(engine, actor, target, ["bookings:read"]),
        lambda: users.bulk_create_users(engine, actor, "email,name,role\nx@tenant-a.example,X,VIEWER\n"),
    ]
    before = len(audit_rows(engine, a.id))
    for call in calls:
        with pytest.raises(PermissionDenied, match="not allowed: .* users"):
            call()
    assert len(audit_rows(engine, a.id)) == before


def test_operators_only_read_inside_a_tenant(world):
    engine, a, _, _ = world
    for actor in (actor_for(a, "SUPER_ADMIN"), actor_for(a, read_only=True)):
        assert len(users.list_tenant_users(engine, actor)) == 1
        with pytest.raises(PermissionDenied):
            users.new_user(engine, actor, email="x@tenant-a.example", name="X", role="VIEWER", password=GOOD)
        with pytest.raises(PermissionDenied):
            users.deactivate_user(engine, actor, a.user_id)


def test_a_user_of_another_tenant_is_not_found_like_a_missing_id(world):
    engine, a, b, canary = world
    admin = actor_for(a)
    b_rows = len(audit_rows(engine, b.id))
    assert CANARY not in str(users.list_tenant_users(engine, admin))
    messages = {}
    for name, user_id in (("canary", canary.id), ("b-admin", b.user_id), ("missing", "00000000-0000-4000-8000-0")):
        attempts = [
            lambda: users.get_user(engine, admin, user_id),
            lambda: users.change_role(engine, admin, user_id, "VIEWER"),
            lambda: users.deactivate_user(engine, admin, user_id),
            lambda: users.reactivate_user(engine, admin, user_id),
            lambda: users.reset_user_password(engine, admin, user_id, GOOD),
            lambda: users.set_user_permissions(engine, admin, user_id, ["bookings:read"]),
        ]
        for attempt in attempts:
            with pytest.raises(NotFoundError) as caught:
                attempt()
            messages.setdefault(name, set()).add(str(caught.value).replace(user_id, "<id>"))
    assert messages["canary"] == messages["b-admin"] == messages["missing"] == {"no user '<id>' in this organization"}
    with pytest.raises(NotFoundError) as by_email:
        users.find_user_by_email(engine, admin, "canary@tenant-b.example")
    with pytest.raises(NotFoundError) as unknown:
        users.find_user_by_email(engine, admin, "nobody@tenant-b.example")
    assert str(by_email.value).replace("canary", "X") == str(unknown.value).replace("nobody", "X")

    still = user_row(engine, canary.id)
    assert (still.role, still.is_active, still.permissions, still.name) == ("VIEWER", True, [], CANARY)
    assert verify_password(still.password_hash, GOOD)
    assert len(audit_rows(engine, b.id)) == b_rows


def test_emails_are_unique_everywhere_and_case_insensitively(world):
    engine, a, _, _ = world
    admin = actor_for(a)
    messages = []
    for email in ("CANARY@tenant-b.example", " admin@TENANT-A.example "):  # another tenant's, then A's own
        with pytest.raises(users.DuplicateEmail) as caught:
            users.new_user(engine, admin, email=email, name="Dup", role="VIEWER", password=GOOD)
        messages.append(str(caught.value).replace(email.strip().lower(), "<email>"))
    assert messages == ["a user with email <email> already exists"] * 2  # never says where
    created, _ = users.new_user(engine, admin, email="Mixed.Case@Tenant-A.Example", name="M", role="VIEWER",
                                password=GOOD)
    assert created.email == user_row(engine, created.id).email == "mixed.case@tenant-a.example"
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(User).where(
            func.lower(User.email) == "canary@tenant-b.example")) == 1


def test_validation_of_new_users(world):
    engine, a, _, _ = world
    admin = actor_for(a)
    bad = [
        (dict(email="not-an-email"), AuditoryxError, "invalid email address"),
        (dict(email=""), AuditoryxError, "email address is required"),
        (dict(name="  "), AuditoryxError, "a name is required"),
        (dict(name="x" * 201), AuditoryxError, "at most 200 characters"),
        (dict(role="BOSS"), AuditoryxError, "invalid role 'BOSS'"),
        (dict(role="super_admin"), PermissionDenied, "SUPER_ADMIN role cannot be given"),
        (dict(password="password123"), WeakPassword, "too common"),
        (dict(password="short"), WeakPassword, "at least 10 characters"),
        (dict(password="nadia.new@tenant-a.example"), WeakPassword, "e-mail address"),
        (dict(permissions=["bookings:fly"]), InvalidPermission, "invalid permission"),
        (dict(permissions=["platform:read"]), InvalidPermission, "platform cannot be granted"),
    ]
    for change, error, message in bad:
        values = dict(email="nadia.new@tenant-a.example", name="Nadia", role="VIEWER", password=GOOD) | change
        with pytest.raises(error, match=message):
            users.new_user(engine, admin, **values)
    assert len(users.list_tenant_users(engine, admin)) == 1


def test_roles_cannot_be_escalated(world):
    engine, a, _, _ = world
    admin = actor_for(a)
    viewer, _ = users.new_user(engine, admin, email="viv@tenant-a.example", name="Viv", role="VIEWER", password=GOOD)
    with pytest.raises(PermissionDenied, match="SUPER_ADMIN"):
        users.change_role(engine, admin, viewer.id, "SUPER_ADMIN")
    # a manager granted users:write (not an ORG_ADMIN) manages ordinary users only
    manager, _ = users.new_user(engine, admin, email="max@tenant-a.example", name="Max", role="LABEL_MANAGER",
                                password=GOOD, permissions=["users:write", "users:read"])
    delegate = actor_for(a, "LABEL_MANAGER", user_id=manager.id, permissions=manager.permissions)
    helper, _ = users.new_user(engine, delegate, email="hal@tenant-a.example", name="Hal", role="VIEWER", password=GOOD)
    assert users.change_role(engine, delegate, helper.id, "ACCOUNTANT").role == "ACCOUNTANT"
    with pytest.raises(PermissionDenied, match="only an organization admin can give the ORG_ADMIN role"):
        users.new_user(engine, delegate, email="boss@tenant-a.example", name="Boss", role="ORG_ADMIN", password=GOOD)
    with pytest.raises(PermissionDenied, match="ORG_ADMIN"):
        users.change_role(engine, delegate, manager.id, "ORG_ADMIN")
    with pytest.raises(PermissionDenied, match="only an organization admin can change an ORG_ADMIN"):
        users.reset_user_password(engine, delegate, a.user_id, GOOD)
    with pytest.raises(PermissionDenied, match="only an organization admin can change an ORG_ADMIN"):
        users.deactivate_user(engine, delegate, a.user_id)
    with pytest.raises(PermissionDenied, match="permission entries"):
        users.set_user_permissions(engine, delegate, manager.id, ["settings:update"])
    with pytest.raises(PermissionDenied, match="your own role"):
        users.change_role(engine, delegate, manager.id, "VIEWER")
    # a SUPER_ADMIN living in the tenant (the platform's own organization) is the platform's
    with Session(engine) as session, session.begin():
        session.add(User(id="op-1", org_id=a.id, email="op@tenant-a.example", name="Op", role="SUPER_ADMIN",
                         password_hash="x"))
    for attempt in (lambda: users.reset_user_password(engine, admin, "op-1", GOOD),
                    lambda: users.change_role(engine, admin, "op-1", "VIEWER"),
                    lambda: users.deactivate_user(engine, admin, "op-1"),
                    lambda: users.set_user_permissions(engine, admin, "op-1", [])):
        with pytest.raises(PermissionDenied, match="managed by the platform"):
            attempt()


def test_the_last_active_org_admin_stays(world):
    engine, a, _, _ = world
    me = actor_for(a)
    operator = command_line_operator(a.id)
    with pytest.raises(PermissionDenied, match="your own role"):
        users.change_role(engine, me, a.user_id, "VIEWER")
    with pytest.raises(PermissionDenied, match="deactivate yourself"):
        users.deactivate_user(engine, me, a.user_id)
    with pytest.raises(PermissionDenied, match="your own permission entries"):
        users.set_user_permissions(engine, me, a.user_id, ["!users:delete"])
    for attempt in (lambda: users.change_role(engine, operator, a.user_id, "VIEWER"),
                    lambda: users.deactivate_user(engine, operator, a.user_id)):
        with pytest.raises(AuditoryxError, match="last active ORG_ADMIN"):
            attempt()

    second, _ = users.new_user(engine, me, email="second@tenant-a.example", name="Second", role="ORG_ADMIN",
                               password=GOOD)
    users.deactivate_user(engine, me, second.id)  # an inactive admin does not count
    with pytest.raises(AuditoryxError, match="last active ORG_ADMIN"):
        users.change_role(engine, operator, a.user_id, "VIEWER")
    users.reactivate_user(engine, me, second.id)
    assert users.change_role(engine, operator, a.user_id, "LABEL_MANAGER").role == "LABEL_MANAGER"
    with pytest.raises(AuditoryxError, match="last active ORG_ADMIN"):
        users.deactivate_user(engine, operator, second.id)
    assert user_row(engine, second.id).is_active and user_row(engine, second.id).role == "ORG_ADMIN"


def test_state_changes_that_change_nothing_are_refused(world):
    engine, a, _, canary = world
    admin = actor_for(a)
    viewer, _ = users.new_user(engine, admin, email="viv@tenant-a.example", name="Viv", role="VIEWER", password=GOOD)
    with pytest.raises(AuditoryxError, match="already active"):
        users.reactivate_user(engine, admin, viewer.id)
    with pytest.raises(AuditoryxError, match="already has the role VIEWER"):
        users.change_role(engine, admin, viewer.id, "viewer")
    users.deactivate_user(engine, admin, viewer.id)
    with pytest.raises(AuditoryxError, match="already inactive"):
        users.deactivate_user(engine, admin, viewer.id)


BULK_CSV = """\ufeffEmail, Name ,ROLE,password
ok.generated@tenant-a.example,Gen One,VIEWER,
OK.Chosen@Tenant-A.example , Cho Sen ,label_manager,correct horse battery staple
not-an-email,Bad Email,VIEWER,
bad.role@tenant-a.example,Bad Role,BOSS,

super@tenant-a.example,Super,SUPER_ADMIN,
weak@tenant-a.example,Weak,VIEWER,password123
ok.generated@tenant-a.example,Again,VIEWER,
Canary@Tenant-B.example,Elsewhere,VIEWER,
admin@tenant-a.example,Here,VIEWER,
,No Email,VIEWER,
too@tenant-a.example,Too,VIEWER,correct horse battery staple,extra
ok.third@tenant-a.example,"Third, Q.",accountant,
"""


def test_bulk_create_with_mixed_rows(world):
    engine, a, b, canary = world
    admin = actor_for(a)
    before = len(audit_rows(engine, a.id))
    results = users.bulk_create_users(engine, admin, BULK_CSV.encode("utf-8"))
    summary = [(r.row, r.email, r.status) for r in results]
    assert summary == [
        (2, "ok.generated@tenant-a.example", "created"),
        (3, "ok.chosen@tenant-a.example", "created"),
        (4, "not-an-email", "invalid"),
        (5, "bad.role@tenant-a.example", "invalid"),
        (7, "super@tenant-a.example", "invalid"),
        (8, "weak@tenant-a.example", "invalid"),
        (9, "ok.generated@tenant-a.example", "duplicate"),
        (10, "canary@tenant-b.example", "duplicate"),
        (11, "admin@tenant-a.example", "duplicate"),
        (12, "", "invalid"),
        (13, "too@tenant-a.example", "invalid"),
        (14, "ok.third@tenant-a.example", "created"),
    ]
    by_row = {r.row: r for r in results}
    assert "invalid email address" in by_row[4].message and "invalid role 'BOSS'" in by_row[5].message
    assert "SUPER_ADMIN" in by_row[7].message and "too common" in by_row[8].message
    assert "earlier in this file (row 2)" in by_row[9].message
    assert by_row[10].message == "a user with email canary@tenant-b.example already exists"
    assert by_row[11].message == "a user with email admin@tenant-a.example already exists"  # same words
    assert "malformed row" in by_row[13].message
    assert by_row[2].generated_password and by_row[14].generated_password and by_row[3].generated_password is None
    assert all(r.generated_password is None for r in results if not r.created)
    assert "password123" not in str(results)

    listed = {u.email: u for u in users.list_tenant_users(engine, admin)}
    assert set(listed) == {"admin@tenant-a.example", "ok.generated@tenant-a.example", "ok.chosen@tenant-a.example",
                           "ok.third@tenant-a.example"}
    assert (listed["ok.chosen@tenant-a.example"].name, listed["ok.chosen@tenant-a.example"].role) == (
        "Cho Sen", "LABEL_MANAGER")
    assert listed["ok.third@tenant-a.example"].name == "Third, Q."
    assert verify_password(user_row(engine, listed["ok.chosen@tenant-a.example"].id).password_hash, GOOD)
    assert verify_password(user_row(engine, by_row[2].user_id).password_hash, by_row[2].generated_password)
    new_entries = audit_rows(engine, a.id)[before:]
    assert sorted(e.entity_id for e in new_entries) == sorted(r.user_id for r in results if r.created)
    assert {(e.action, e.actor_id) for e in new_entries} == {("create", a.user_id)}
    assert user_row(engine, canary.id).name == CANARY  # B untouched

    again = users.bulk_create_users(engine, admin, [{"email": "ok.third@tenant-a.example", "name": "T", "role": "VIEWER"},
                                                    {"Email": "fourth@tenant-a.example", "name": "F", "role": "VIEWER",
                                                     "password": GOOD}])
    assert [(r.row, r.status) for r in again] == [(2, "duplicate"), (3, "created")]


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("mail,name,role\n", "unexpected CSV header"),
    ("email,name,role,password,extra\n", "unexpected CSV header"),
    ("email,name,role\n" + "".join(f"u{i}@x.example,U,VIEWER\n" for i in range(users.MAX_BULK_ROWS + 1)),
     "at most 1000 users"),
])
def test_bulk_create_refuses_bad_files_whole(world, text, message):
    engine, a, _, _ = world
    with pytest.raises(AuditoryxError, match=message):
        users.bulk_create_users(engine, actor_for(a), text)
    with pytest.raises(AuditoryxError, match="not UTF-8"):
        users.bulk_create_users(engine, actor_for(a), "email,name,role\né@x.example,É,VIEWER\n".encode("latin-1"))
    assert len(users.list_tenant_users(engine, actor_for(a))) == 1


def test_bulk_create_reports_an_address_taken_where_it_cannot_see(world, monkeypatch):
    """Under row-level security another tenant's users are invisible: the unique constraint is the
    last word, and on PostgreSQL (savepoints) the other rows are still created."""
    engine, a, _, _ = world
    monkeypatch.setattr(users, "_taken_emails", lambda session, emails: set())
    rows = "email,name,role\nfirst@tenant-a.example,F,VIEWER\ncanary@tenant-b.example,C,VIEWER\nlast@tenant-a.example,L,VIEWER\n"
    if engine.dialect.name == "postgresql":
        results = users.bulk_create_users(engine, actor_for(a), rows)
        assert [r.status for r in results] == ["created", "duplicate", "created"]
        assert results[1].message == "a user with email canary@tenant-b.example already exists"
        expected = 3
    else:
        with pytest.raises(users.DuplicateEmail, match="nothing was imported"):
            users.bulk_create_users(engine, actor_for(a), rows)
        expected = 1
    assert len(users.list_tenant_users(engine, actor_for(a))) == expected
    with pytest.raises(users.DuplicateEmail, match="^a user with email canary@tenant-b.example already exists$"):
        users.new_user(engine, actor_for(a), email="canary@tenant-b.example", name="C", role="VIEWER", password=GOOD)


def test_a_session_given_by_the_caller_is_used_and_not_committed(world):
    engine, a, _, _ = world
    with Session(engine) as session:
        created, _ = users.new_user(session, actor_for(a), email="tx@tenant-a.example", name="Tx", role="VIEWER",
                                    password=GOOD)
        assert created.email in [u.email for u in users.list_tenant_users(session, actor_for(a))]
        session.rollback()
    assert "tx@tenant-a.example" not in [u.email for u in users.list_tenant_users(engine, actor_for(a))]
