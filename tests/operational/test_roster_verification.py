"""Bulk verification, one artist and an artist's bookings (operational/roster.py) on SQLite and on
PostgreSQL through the row-level-security login the web tier uses: one audit entry per artist
changed, none for those already at the status, all-or-nothing on a foreign or unknown id, who may,
and tenant B's canary artist out of reach."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from operational import audit, roster
from operational.db import ensure_app_login, make_engine
from operational.models import Artist, AuditLog, Booking
from operational.permissions import Actor, PermissionDenied
from operational.repository import NotFoundError
from operational.roster import InvalidArtist
from tests.operational.conftest import CANARY, booking_values

APP_LOGIN = "auditoryx_web_roster_test"


@pytest.fixture
def app_engine(migrated, db_url):
    """What the service runs on: SQLite as is; PostgreSQL as a plain login of the RLS role."""
    if migrated.dialect.name != "postgresql":
        yield migrated
        return
    app_url = make_url(db_url).set(username=APP_LOGIN, password=None).render_as_string(hide_password=False)
    assert ensure_app_login(migrated, app_url) == APP_LOGIN
    engine = make_engine(app_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT rolbypassrls FROM pg_roles WHERE rolname = current_user").scalar() is False
    yield engine
    engine.dispose()


@pytest.fixture
def roster_of_a(migrated, tenants):
    """Tenant A's three more artists (PENDING, VERIFIED, PENDING) beside Alpha Artist, written directly."""
    a, _ = tenants
    with Session(migrated) as session, session.begin():
        session.add_all([Artist(id="a-pending", org_id=a.id, name="Pia Pending", genres=["Jazz"]),
                         Artist(id="a-verified", org_id=a.id, name="Vera Verified", verification_status="VERIFIED"),
                         Artist(id="a-other", org_id=a.id, name="Otto Other", skills=["drums"])])
    return a


def actor(tenant, role="ORG_ADMIN", **kw) -> Actor:
    return Actor.of(user_id=tenant.user_id, tenant_id=tenant.id, role=role, **kw)


def statuses(engine, tenant_id) -> dict[str, str]:
    with Session(engine) as session:
        return {a.id: str(a.verification_status) for a in session.scalars(select(Artist).where(Artist.org_id == tenant_id))}


def audit_rows(engine, tenant_id) -> list[AuditLog]:
    with Session(engine) as session:
        return audit.entries(session, tenant_id, entity="artists")


def test_bulk_verification_changes_each_artist_once_with_an_audit_entry(app_engine, migrated, roster_of_a, tenants):
    a, b = tenants
    before = statuses(migrated, a.id)
    result = roster.set_verification(app_engine, actor(a, "LABEL_MANAGER"),
                                     ["a-pending", "a-verified", a.artist_id, "a-pending"], "verified")
    assert (result.status, result.changed, result.unchanged) == ("VERIFIED", ("a-pending", a.artist_id),
                                                                 ("a-verified",))
    after = statuses(migrated, a.id)
    assert after == {**before, "a-pending": "VERIFIED", a.artist_id: "VERIFIED"}
    entries = audit_rows(migrated, a.id)
    assert sorted((e.entity_id, e.action, e.actor_id) for e in entries) == sorted(
        [("a-pending", "update", a.user_id), (a.artist_id, "update", a.user_id)])
    assert all((e.before, e.after) == ({"verification_status": "PENDING"}, {"verification_status": "VERIFIED"})
               for e in entries)

    again = roster.set_verification(app_engine, actor(a), ["a-pending", a.artist_id], "VERIFIED")  # no-op
    assert (again.changed, again.unchanged) == ((), ("a-pending", a.artist_id))
    assert len(audit_rows(migrated, a.id)) == 2
    assert statuses(migrated, b.id) == {b.artist_id: "PENDING"}  # B untouched
    assert audit_rows(migrated, b.id) == []


def test_one_foreign_or_unknown_id_refuses_the_whole_update(app_engine, migrated, roster_of_a, tenants):
    a, b = tenants
    before = statuses(migrated, a.id)
    for stranger in (b.artist_id, "no-such-artist"):
        with pytest.raises(NotFoundError) as refused:
            roster.set_verification(app_engine, actor(a), ["a-pending", stranger, "a-other"], "SUSPENDED")
        assert str(refused.value) == f"no artist {stranger!r} in this organization"  # the same answer
        assert CANARY not in str(refused.value)
    assert statuses(migrated, a.id) == before and audit_rows(migrated, a.id) == []
    assert statuses(migrated, b.id) == {b.artist_id: "PENDING"}


def test_who_may_set_verification(app_engine, migrated, roster_of_a, tenants):
    a, _ = tenants
    for role in ("ORG_ADMIN", "LABEL_MANAGER", "ARTIST_MANAGER"):
        assert roster.may_set_verification(actor(a, role))
    refused = [actor(a, role) for role in ("SUPER_ADMIN", "STUDIO_MANAGER", "VIEWER", "ACCOUNTANT", "CLIENT")]
    refused += [actor(a, "CREATOR", artist_ids={"a-pending"}),  # a creator cannot verify their own artist
                actor(a, permissions=["!roster:update"]),
                Actor.of(user_id=a.user_id, tenant_id=a.id, role="ORG_ADMIN", read_only=True)]
    for who in refused:
        assert not roster.may_set_verification(who)
        with pytest.raises(PermissionDenied):
            roster.set_verification(app_engine, who, ["a-pending"], "VERIFIED")
    assert roster.may_set_verification(actor(a, "VIEWER", permissions=["roster:update"]))  # a grant: tenant-wide
    assert audit_rows(migrated, a.id) == [] and statuses(migrated, a.id)["a-pending"] == "PENDING"


def test_input_is_checked_before_anything_is_written(app_engine, migrated, roster_of_a, tenants):
    a, _ = tenants
    with pytest.raises(InvalidArtist, match="not one of PENDING, VERIFIED, REJECTED, SUSPENDED"):
        roster.set_verification(app_engine, actor(a), ["a-pending"], "APPROVED")
    with pytest.raises(InvalidArtist, match="choose at least one"):
        roster.set_verification(app_engine, actor(a), [], "VERIFIED")
    with pytest.raises(InvalidArtist, match="a list of artist ids"):
        roster.set_verification(app_engine, actor(a), "a-pending", "VERIFIED")
    with pytest.raises(InvalidArtist, match=f"at most {roster.MAX_BULK_VERIFICATION}"):
        roster.set_verification(app_engine, actor(a), [f"id-{i}" for i in range(roster.MAX_BULK_VERIFICATION + 1)],
                                "VERIFIED")
    assert audit_rows(migrated, a.id) == []


def test_get_artist_and_its_bookings_stay_in_the_tenant(app_engine, migrated, roster_of_a, tenants):
    a, b = tenants
    admin = actor(a)
    found = roster.get_artist(app_engine, admin, "a-verified")
    assert (found.name, found.verification_status, found.is_active) == ("Vera Verified", "VERIFIED", True)
    for stranger in (b.artist_id, "no-such-artist", ""):
        with pytest.raises(NotFoundError, match="in this organization"):
            roster.get_artist(app_engine, admin, stranger)
        with pytest.raises(NotFoundError):
            roster.artist_bookings(app_engine, admin, stranger)
    creator = actor(a, "CREATOR", artist_ids={"a-other"})
    assert roster.get_artist(app_engine, creator, "a-other").name == "Otto Other"
    with pytest.raises(NotFoundError):  # a creator reads only their own artist, with the same answer
        roster.get_artist(app_engine, creator, "a-pending")

    with Session(migrated) as session, session.begin():  # one more, later booking of Alpha Artist
        start = dt.datetime(2026, 5, 2, 9, tzinfo=dt.timezone.utc)
        session.add(Booking(org_id=a.id, **booking_values(a.artist_id, "Alpha later", start_date=start,
                                                          end_date=start + dt.timedelta(hours=1), duration_minutes=60)))
    lines = roster.artist_bookings(app_engine, admin, a.artist_id)
    assert [line.title for line in lines][0] == "Alpha later"  # latest first
    assert sorted(line.id for line in lines[1:]) == sorted(a.booking_ids)
    assert {line.artist_name for line in lines} == {"Alpha Artist"}
    assert [line.title for line in roster.artist_bookings(app_engine, admin, a.artist_id, limit=1)] == ["Alpha later"]
    assert roster.artist_bookings(app_engine, admin, "a-pending") == []
    with pytest.raises(PermissionDenied):  # a viewer reads the roster, not bookings
        roster.artist_bookings(app_engine, actor(a, "VIEWER"), a.artist_id)
