"""The roster service (operational/roster.py) on both backends: plan limits at the boundary (adding
and activating), WHITE_LABEL limits from settings, permissions by role, tenant confinement (tenant
B's canary artist is out of reach), validation, an audit entry per change, and concurrent adds."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from auditoryx.errors import AuditoryxError
from operational import audit, roster
from operational.models import Artist, AuditLog, Organization
from operational.permissions import Actor, PermissionDenied
from operational.repository import NotFoundError
from operational.roster import InvalidArtist, PlanLimitReached
from tests.operational.conftest import CANARY


def actor(tenant, role="ORG_ADMIN", **kw) -> Actor:
    return Actor.of(user_id=tenant.user_id, tenant_id=tenant.id, role=role, **kw)


def set_plan(engine, tenant, plan: str, settings: dict | None = None) -> None:
    with Session(engine) as session, session.begin():
        values = {"plan": plan}
        if settings is not None:
            values["settings"] = settings
        session.execute(update(Organization).where(Organization.id == tenant.id).values(**values))


def fill(engine, tenant, active: int) -> None:
    """Written directly: the tenant has ``active`` active artists (it starts with one)."""
    with Session(engine) as session, session.begin():
        have = session.scalar(select(func.count()).select_from(Artist).where(
            Artist.org_id == tenant.id, Artist.is_active.is_(True)))
        session.add_all(Artist(org_id=tenant.id, name=f"Filler {i:03d}") for i in range(active - have))


def audit_rows(engine, tenant_id: str, entity_id: str | None = None) -> list[AuditLog]:
    with Session(engine) as session:
        return audit.entries(session, tenant_id, entity="artists", entity_id=entity_id)


def active_count(engine, tenant_id: str) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(Artist).where(
            Artist.org_id == tenant_id, Artist.is_active.is_(True)))


def test_add_deactivate_activate_and_list_with_an_audit_entry_each(migrated, tenants):
    a, _ = tenants
    admin = actor(a)
    added = roster.add_artist(migrated, admin, name="  Nina   Simone ", stage_name="High Priestess",
                              email=" Nina@Example.COM ", genres="Jazz, soul, jazz,", skills=["vocals", " Keys "],
                              user_id=a.user_id)
    assert (added.name, added.display_name, added.email, added.genres, added.skills, added.is_active,
            added.user_id) == ("Nina Simone", "High Priestess", "nina@example.com", ("Jazz", "soul"),
                               ("vocals", "Keys"), True, a.user_id)
    assert [x.display_name for x in roster.list_artists(migrated, admin)] == ["Alpha Artist", "High Priestess"]

    assert roster.deactivate_artist(migrated, admin, added.id).is_active is False
    assert [x.name for x in roster.list_artists(migrated, admin)] == ["Alpha Artist"]
    assert {x.name for x in roster.list_artists(migrated, admin, include_inactive=True)} == {"Alpha Artist",
                                                                                           "Nina Simone"}
    with pytest.raises(AuditoryxError, match="already inactive"):
        roster.deactivate_artist(migrated, admin, added.id)
    assert roster.activate_artist(migrated, admin, added.id).is_active is True
    with pytest.raises(AuditoryxError, match="already active"):
        roster.activate_artist(migrated, admin, added.id)

    entries = audit_rows(migrated, a.id, added.id)
    assert [(e.action, e.actor_id) for e in entries] == [("create", a.user_id), ("update", a.user_id),
                                                         ("update", a.user_id)]
    assert entries[0].after["name"] == "Nina Simone" and entries[0].after["genres"] == ["Jazz", "soul"]
    assert (entries[1].before, entries[1].after) == ({"is_active": True}, {"is_active": False})
    assert (entries[2].before, entries[2].after) == ({"is_active": False}, {"is_active": True})
    usage = roster.roster_usage(migrated, admin)
    assert (usage.plan, usage.active_artists, usage.limit, usage.remaining) == ("FREE", 2, 5, 3)


@pytest.mark.parametrize("plan, limit, bigger", [("FREE", 5, "STUDIO_PRO"), ("STUDIO_PRO", 25, "LABEL_ENTERPRISE")])
def test_the_plan_limit_holds_at_the_boundary_and_names_the_plan_that_allows_more(migrated, tenants, plan, limit,
                                                                                   bigger):
    a, _ = tenants
    admin = actor(a)
    set_plan(migrated, a, plan)
    fill(migrated, a, limit - 1)
    last = roster.add_artist(migrated, admin, name="The Last One")  # limit - 1 → limit: allowed
    assert active_count(migrated, a.id) == limit
    before = len(audit_rows(migrated, a.id))
    with pytest.raises(PlanLimitReached) as refused:
        roster.add_artist(migrated, admin, name="One Too Many")
    message = str(refused.value)
    assert message.startswith("cannot add One Too Many: ")
    assert f"the {plan} plan allows {limit} active artists and you have {limit}" in message and bigger in message
    assert active_count(migrated, a.id) == limit and len(audit_rows(migrated, a.id)) == before  # nothing written

    # a deactivation frees a slot; activating past the limit is refused like adding
    roster.deactivate_artist(migrated, admin, last.id)
    extra = roster.add_artist(migrated, admin, name="Replacement")
    with pytest.raises(PlanLimitReached, match=f"cannot activate The Last One: .*{bigger}"):
        roster.activate_artist(migrated, admin, last.id)
    roster.deactivate_artist(migrated, admin, extra.id)
    assert roster.activate_artist(migrated, admin, last.id).is_active
    assert active_count(migrated, a.id) == limit
    assert roster.roster_usage(migrated, admin).remaining == 0


def test_white_label_takes_its_limit_from_settings_else_none(migrated, tenants):
    a, b = tenants
    set_plan(migrated, a, "WHITE_LABEL", {"base_currency": "EUR", "artist_limit": 2})
    roster.add_artist(migrated, actor(a), name="Second")
    with pytest.raises(PlanLimitReached, match="the WHITE_LABEL plan allows 2 active artists and you have 2"):
        roster.add_artist(migrated, actor(a), name="Third")
    set_plan(migrated, b, "WHITE_LABEL", {"base_currency": "EUR"})
    fill(migrated, b, 120)
    assert roster.add_artist(migrated, actor(b), name="Beyond a hundred").is_active
    usage = roster.roster_usage(migrated, actor(b))
    assert (usage.limit, usage.remaining, usage.active_artists) == (None, None, 121)


def test_permissions_by_role(migrated, tenants):
    a, _ = tenants
    for role in ("VIEWER", "STUDIO_MANAGER", "CREATOR", "ACCOUNTANT", "CLIENT", "SUPER_ADMIN"):
        with pytest.raises(PermissionDenied):
            roster.add_artist(migrated, actor(a, role=role, artist_ids={a.artist_id}), name="Nope")
    for role in ("VIEWER", "STUDIO_MANAGER", "CREATOR"):
        with pytest.raises(PermissionDenied):
            roster.deactivate_artist(migrated, actor(a, role=role, artist_ids={a.artist_id}), a.artist_id)
        with pytest.raises(PermissionDenied):
            roster.activate_artist(migrated, actor(a, role=role, artist_ids={a.artist_id}), a.artist_id)
    with pytest.raises(PermissionDenied):
        roster.add_artist(migrated, actor(a, permissions=["!roster:create"]), name="Denied")
    for role in ("LABEL_MANAGER", "ARTIST_MANAGER"):
        assert roster.add_artist(migrated, actor(a, role=role), name=f"By {role}").is_active
    granted = actor(a, role="VIEWER", permissions=["roster:write"])
    assert roster.add_artist(migrated, granted, name="By a grant").is_active
    for role in ("CLIENT", "ACCOUNTANT"):
        with pytest.raises(PermissionDenied):
            roster.list_artists(migrated, actor(a, role=role))
    creator = actor(a, role="CREATOR", artist_ids={a.artist_id})
    assert [x.id for x in roster.list_artists(migrated, creator, include_inactive=True)] == [a.artist_id]
    assert roster.list_artists(migrated, actor(a, role="CREATOR")) == []
    assert len(roster.list_artists(migrated, actor(a, role="VIEWER"))) == 4  # Alpha + the three above


def test_another_tenants_artists_and_users_are_out_of_reach(migrated, tenants):
    a, b = tenants
    admin = actor(a)
    for change in (roster.deactivate_artist, roster.activate_artist):
        with pytest.raises(NotFoundError, match="no artist .* in this organization"):
            change(migrated, admin, b.artist_id)
    with pytest.raises(NotFoundError, match="no user .* in this organization"):
        roster.add_artist(migrated, admin, name="Linked elsewhere", user_id=b.user_id)
    forged = actor(a, role="CREATOR", artist_ids={b.artist_id})
    assert roster.list_artists(migrated, forged, include_inactive=True) == []
    assert CANARY not in {x.name for x in roster.list_artists(migrated, admin, include_inactive=True)}
    with Session(migrated) as session:
        canary = session.get(Artist, b.artist_id)
        assert canary.is_active and canary.name == CANARY
    assert audit_rows(migrated, b.id) == []


def test_input_is_validated_before_anything_is_written(migrated, tenants):
    a, _ = tenants
    admin = actor(a)
    cases = [
        ({"name": "   "}, "name: required"),
        ({"name": "x" * 201}, "name: at most 200"),
        ({"name": "Ok", "stage_name": "y" * 201}, "stage name: at most 200"),
        ({"name": "Ok", "email": "not-an-email"}, "email: invalid email address"),
        ({"name": "Ok", "genres": [f"g{i}" for i in range(31)]}, "genres: at most 30"),
        ({"name": "Ok", "skills": ["s" * 41]}, "skills: .* longer than 40"),
        ({"name": "Ok", "skills": [None]}, "skills: None is not text"),
    ]
    for kwargs, message in cases:
        with pytest.raises(InvalidArtist, match=message):
            roster.add_artist(migrated, admin, **kwargs)
    assert roster.add_artist(migrated, admin, name="Ok", genres=[f"g{i}" for i in range(30)] + ["G0"],
                             stage_name="  ").stage_name is None
    assert len(audit_rows(migrated, a.id)) == 1


def test_concurrent_adds_never_pass_the_limit(migrated, tenants):
    a, _ = tenants
    fill(migrated, a, 3)  # FREE: 2 slots left, 5 managers try at once
    barrier = threading.Barrier(5)
    outcomes: list[str] = []

    def add(i: int) -> None:
        barrier.wait()
        try:
            roster.add_artist(migrated, actor(a), name=f"Racer {i}")
            outcomes.append("added")
        except PlanLimitReached:
            outcomes.append("refused")
        except Exception as exc:  # noqa: BLE001 - reported by the assertion
            outcomes.append(repr(exc))

    threads = [threading.Thread(target=add, args=(i,)) for i in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["added"] * 2 + ["refused"] * 3
    assert active_count(migrated, a.id) == 5
