"""Organization administration (operational/organizations.py) on both backends: platform actions
(create with the first admin, list, plan, deactivate/reactivate) and tenant settings (colour,
logo by magic bytes and size, currency, time zone, recipients), each audited in the tenant's log."""
from __future__ import annotations

import base64
import json
import struct
import zlib

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auditoryx.errors import AuditoryxError
from operational import audit, organizations as orgs
from operational.auth import verify_password
from operational.models import Organization, User
from operational.organizations import InvalidSetting
from operational.passwords import WeakPassword
from operational.permissions import Actor, PermissionDenied, platform_operator
from operational.repository import NotFoundError
from operational.users import DuplicateEmail

GOOD = "correct horse battery staple"


def png(width: int = 2, height: int = 1, padding: int = 0) -> bytes:
    """A small valid PNG (optionally with a big ancillary chunk)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    extra = chunk(b"tEXt", b"c\x00" + b"x" * padding) if padding else b""
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + extra
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00" \
      b"\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
TEXT_RENAMED_PNG = b"this is a text file saved as logo.png\n"


def org_admin(tenant) -> Actor:
    return Actor.of(user_id=tenant.user_id, tenant_id=tenant.id, role="ORG_ADMIN")


def entries(engine, tenant_id: str, entity: str = "organizations"):
    with Session(engine) as session:
        return audit.entries(session, tenant_id, entity=entity)


def org_row(engine, tenant_id: str) -> Organization:
    with Session(engine) as session:
        org = session.get(Organization, tenant_id)
        session.expunge(org)
        return org


CREATE = dict(name="Nova Sound", slug="nova-sound", type="record_label", plan="studio_pro", base_currency="eur",
              time_zone="Europe/Lisbon", admin_email=" Boss@Nova-Sound.Example ", admin_name="Bea Boss")


def test_create_an_organization_with_its_first_admin(migrated, tenants):
    a, _ = tenants
    created = orgs.create_organization(migrated, platform_operator(), **CREATE)
    org, admin = created.organization, created.admin
    assert (org.name, org.slug, org.type, org.plan, org.is_active, org.user_count) == (
        "Nova Sound", "nova-sound", "RECORD_LABEL", "STUDIO_PRO", True, 1)
    assert (admin.email, admin.name, admin.role, admin.is_active) == ("boss@nova-sound.example", "Bea Boss",
                                                                      "ORG_ADMIN", True)
    with Session(migrated) as session:
        row = session.get(Organization, org.id)
        assert row.settings == {"base_currency": "EUR", "timezone": "Europe/Lisbon", "report_recipients": []}
        assert row.branding == {"display_name": "Nova Sound"}
        user = session.get(User, admin.id)
        assert user.org_id == org.id and verify_password(user.password_hash, created.admin_password)
    log = [(e.action, e.entity, e.entity_id, e.actor_id) for e in entries(migrated, org.id, entity=None)]
    assert log == [("create", "organizations", org.id, None), ("create", "users", admin.id, None)]
    assert "$argon2" not in json.dumps([e.after for e in entries(migrated, org.id, entity=None)])

    # a SUPER_ADMIN user (living in the platform's own organization) is recorded as the actor
    with Session(migrated) as session, session.begin():
        session.add(User(id="op-1", org_id=a.id, email="op@tenant-a.example", name="Op", role="SUPER_ADMIN",
                         password_hash="x"))
    operator = Actor.of(user_id="op-1", tenant_id=a.id, role="SUPER_ADMIN")
    second = orgs.create_organization(migrated, operator, **{**CREATE, "slug": "nova-two",
                                                             "admin_email": "two@nova.example"},
                                      admin_password=GOOD)
    assert second.admin_password is None
    assert {e.actor_id for e in entries(migrated, second.organization.id, entity=None)} == {"op-1"}


@pytest.mark.parametrize("change, error, message", [
    (dict(slug="tenant-a"), AuditoryxError, "an organization with slug 'tenant-a' already exists"),
    (dict(slug="Bad Slug"), AuditoryxError, "invalid slug"),
    (dict(slug="-x"), AuditoryxError, "invalid slug"),
    (dict(name=" "), AuditoryxError, "a name is required"),
    (dict(type="BAND"), AuditoryxError, "invalid organization type 'BAND'"),
    (dict(plan="GOLD"), AuditoryxError, "invalid plan 'GOLD'"),
    (dict(base_currency="EURO"), AuditoryxError, "unknown currency"),
    (dict(base_currency="XXX"), AuditoryxError, "unknown currency"),
    (dict(time_zone="Mars/Olympus_Mons"), AuditoryxError, "unknown time zone"),
    (dict(time_zone="CEST"), AuditoryxError, "unknown time zone"),
    (dict(admin_email="nope"), AuditoryxError, "invalid email address"),
    (dict(admin_email="ADMIN@tenant-b.example"), DuplicateEmail, "a user with email admin@tenant-b.example already exists"),
    (dict(admin_name=""), AuditoryxError, "a name is required"),
    (dict(admin_password="password123"), WeakPassword, "too common"),
    (dict(admin_password="boss@nova-sound.example"), WeakPassword, "e-mail address"),
])
def test_create_validates_everything_and_writes_nothing_when_refused(migrated, tenants, change, error, message):
    with Session(migrated) as session:
        counts = session.scalar(select(func.count()).select_from(Organization)), \
            session.scalar(select(func.count()).select_from(User))
    with pytest.raises(error, match=message):
        orgs.create_organization(migrated, platform_operator(), **{**CREATE, **change})
    with Session(migrated) as session:
        assert (session.scalar(select(func.count()).select_from(Organization)),
                session.scalar(select(func.count()).select_from(User))) == counts


@pytest.mark.parametrize("role", ["ORG_ADMIN", "LABEL_MANAGER", "VIEWER"])
def test_platform_actions_are_refused_to_tenant_roles(migrated, tenants, role):
    a, b = tenants
    actor = Actor.of(user_id=a.user_id, tenant_id=a.id, role=role, permissions=["users:write"])
    for attempt in (lambda: orgs.create_organization(migrated, actor, **CREATE),
                    lambda: orgs.list_organizations(migrated, actor),
                    lambda: orgs.change_plan(migrated, actor, b.id, "CUSTOM"),
                    lambda: orgs.deactivate_organization(migrated, actor, b.id),
                    lambda: orgs.reactivate_organization(migrated, actor, b.id)):
        with pytest.raises(PermissionDenied, match="platform"):
            attempt()
    assert org_row(migrated, b.id).is_active and entries(migrated, b.id) == []
    read_only_operator = Actor.of(user_id=None, tenant_id=a.id, role="SUPER_ADMIN", read_only=True)
    with pytest.raises(PermissionDenied):
        orgs.deactivate_organization(migrated, read_only_operator, b.id)


def test_list_change_plan_deactivate_reactivate(migrated, tenants):
    a, b = tenants
    operator = platform_operator()
    listed = {o.slug: o for o in orgs.list_organizations(migrated, operator)}
    assert set(listed) == {"tenant-a", "tenant-b"}
    assert (listed["tenant-a"].plan, listed["tenant-a"].type, listed["tenant-a"].user_count,
            listed["tenant-a"].active_user_count, listed["tenant-a"].is_active) == ("FREE", "RECORD_LABEL", 1, 1, True)

    assert orgs.change_plan(migrated, operator, b.id, "label_enterprise").plan == "LABEL_ENTERPRISE"
    with pytest.raises(AuditoryxError, match="already on the plan LABEL_ENTERPRISE"):
        orgs.change_plan(migrated, operator, b.id, "LABEL_ENTERPRISE")
    with pytest.raises(AuditoryxError, match="invalid plan"):
        orgs.change_plan(migrated, operator, b.id, "PLATINUM")
    assert orgs.deactivate_organization(migrated, operator, b.id).is_active is False
    with pytest.raises(AuditoryxError, match="already inactive"):
        orgs.deactivate_organization(migrated, operator, b.id)
    assert {o.slug: o.is_active for o in orgs.list_organizations(migrated, operator)} == {"tenant-a": True,
                                                                                          "tenant-b": False}
    assert orgs.reactivate_organization(migrated, operator, b.id).is_active is True
    with pytest.raises(AuditoryxError, match="already active"):
        orgs.reactivate_organization(migrated, operator, b.id)
    for missing in ("no-such-id", ""):
        with pytest.raises(NotFoundError):
            orgs.change_plan(migrated, operator, missing, "CUSTOM")

    log = [(e.action, e.before, e.after, e.actor_id) for e in entries(migrated, b.id)]
    assert log == [("update", {"plan": "FREE"}, {"plan": "LABEL_ENTERPRISE"}, None),
                   ("update", {"is_active": True}, {"is_active": False}, None),
                   ("update", {"is_active": False}, {"is_active": True}, None)]
    assert entries(migrated, a.id) == []  # nothing in the other tenant's log


def test_settings_read_and_update(migrated, tenants):
    a, b = tenants
    admin = org_admin(a)
    current = orgs.get_organization_settings(migrated, admin)
    assert (current.slug, current.display_name, current.base_currency, current.time_zone, current.logo_url) == (
        "tenant-a", "Tenant-A", "USD", "UTC", None)

    logo = png()
    updated = orgs.update_organization_settings(
        migrated, admin, display_name=" Alpha Records ", primary_color="#1F77B4", logo_bytes=logo,
        base_currency="eur", time_zone="Europe/Berlin",
        report_recipients=["CEO@tenant-a.example", "cfo@tenant-a.example", "ceo@tenant-a.example"])
    assert (updated.display_name, updated.primary_color, updated.base_currency, updated.time_zone) == (
        "Alpha Records", "#1f77b4", "EUR", "Europe/Berlin")
    assert updated.report_recipients == ("ceo@tenant-a.example", "cfo@tenant-a.example")
    assert (updated.logo_mime_type, updated.logo_size, updated.logo_bytes()) == ("image/png", len(logo), logo)

    row = org_row(migrated, a.id)  # the generator's keys, which the readers use
    assert row.settings == {"base_currency": "EUR", "timezone": "Europe/Berlin",
                            "report_recipients": ["ceo@tenant-a.example", "cfo@tenant-a.example"]}
    assert row.branding == {"display_name": "Alpha Records", "primary_colour": "#1f77b4",
                            "logo": "data:image/png;base64," + base64.b64encode(logo).decode()}
    assert row.slug == "tenant-a"

    (entry,) = entries(migrated, a.id)
    assert (entry.action, entry.entity_id, entry.actor_id) == ("update", a.id, a.user_id)
    assert entry.after["branding.logo"] == {"type": "image/png", "size": len(logo)}
    assert entry.before == {"branding.display_name": None, "branding.logo": None, "branding.primary_colour": None,
                            "settings.base_currency": None, "settings.report_recipients": None,
                            "settings.timezone": None}
    assert base64.b64encode(logo).decode()[:20] not in json.dumps([entry.before, entry.after])

    jpeg = orgs.update_organization_settings(migrated, admin, logo_bytes=JPEG, report_recipients="")
    assert (jpeg.logo_mime_type, jpeg.report_recipients, jpeg.primary_color) == ("image/jpeg", (), "#1f77b4")
    last = entries(migrated, a.id)[-1]
    assert last.before["branding.logo"] == {"type": "image/png", "size": len(logo)}
    assert last.after["branding.logo"] == {"type": "image/jpeg", "size": len(JPEG)}
    removed = orgs.update_organization_settings(migrated, admin, remove_logo=True)
    assert removed.logo_url is None and entries(migrated, a.id)[-1].after == {"branding.logo": None}
    orgs.update_organization_settings(migrated, admin, primary_color="#1f77b4")  # no change: no entry
    assert len(entries(migrated, a.id)) == 3
    assert orgs.get_organization_settings(migrated, org_admin(b)).display_name == "Tenant-B"  # B untouched
    assert entries(migrated, b.id) == []


@pytest.mark.parametrize("change, message", [
    (dict(primary_color="#12345"), "invalid colour"),
    (dict(primary_color="red"), "invalid colour"),
    (dict(primary_color="#12345g"), "invalid colour"),
    (dict(logo_bytes=GIF), "PNG or JPEG"),
    (dict(logo_bytes=TEXT_RENAMED_PNG), "PNG or JPEG"),
    (dict(logo_bytes=b"\x89PNG\r\n\x1a\n" + b"garbage" * 4), "PNG or JPEG"),
    (dict(logo_bytes=b""), "empty"),
    (dict(logo_bytes="logo.png"), "bytes of a PNG or JPEG"),
    (dict(logo_bytes=png(padding=256 * 1024)), "too large"),
    (dict(logo_bytes=JPEG, remove_logo=True), "not both"),
    (dict(base_currency="EURO"), "unknown currency"),
    (dict(base_currency="ABC"), "unknown currency"),
    (dict(time_zone="Europe/Atlantis"), "unknown time zone"),
    (dict(time_zone=""), "unknown time zone"),
    (dict(report_recipients=["ok@tenant-a.example", "not an email"]), "report recipients: invalid email"),
    (dict(report_recipients=[f"r{i}@tenant-a.example" for i in range(51)]), "at most 50 report recipients"),
    (dict(display_name="  "), "display name is required"),
])
def test_settings_validation_refuses_and_writes_nothing(migrated, tenants, change, message):
    a, _ = tenants
    before = org_row(migrated, a.id)
    with pytest.raises(InvalidSetting, match=message):
        orgs.update_organization_settings(migrated, org_admin(a), **{"display_name": "Changed Too", **change})
    after = org_row(migrated, a.id)
    assert (after.branding, after.settings) == (before.branding, before.settings)
    assert entries(migrated, a.id) == []


def test_a_logo_just_under_the_limit_is_accepted(migrated, tenants):
    a, _ = tenants
    logo = png(padding=256 * 1024 - len(png()) - 14)
    assert len(logo) <= 256 * 1024
    assert orgs.update_organization_settings(migrated, org_admin(a), logo_bytes=logo).logo_size == len(logo)


@pytest.mark.parametrize("role", ["LABEL_MANAGER", "VIEWER", "ACCOUNTANT"])
def test_settings_are_refused_to_other_roles(migrated, tenants, role):
    a, _ = tenants
    actor = Actor.of(user_id=a.user_id, tenant_id=a.id, role=role)
    with pytest.raises(PermissionDenied, match="settings"):
        orgs.get_organization_settings(migrated, actor)
    with pytest.raises(PermissionDenied, match="settings"):
        orgs.update_organization_settings(migrated, actor, primary_color="#000000")
    viewer_granted = Actor.of(user_id=a.user_id, tenant_id=a.id, role=role, permissions=["settings:read"])
    assert orgs.get_organization_settings(migrated, viewer_granted).slug == "tenant-a"
    with pytest.raises(PermissionDenied):
        orgs.update_organization_settings(migrated, viewer_granted, primary_color="#000000")
    operator_view = Actor.of(user_id=None, tenant_id=a.id, role="SUPER_ADMIN")
    assert orgs.get_organization_settings(migrated, operator_view).slug == "tenant-a"
    with pytest.raises(PermissionDenied):
        orgs.update_organization_settings(migrated, operator_view, primary_color="#000000")
    assert entries(migrated, a.id) == []


def test_slugs_have_no_way_to_change():
    public = [name for name, value in vars(orgs).items()
              if not name.startswith("_") and callable(value) and getattr(value, "__module__", "") == orgs.__name__]
    assert "update_organization_settings" in public
    assert not [name for name in public if "slug" in name.lower() or "rename" in name.lower()]
    assert "slug" not in orgs.update_organization_settings.__code__.co_varnames[:12]
