"""The booking calendar and its .ics export: scoped by role, bound to the tenant, times in UTC."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import icalendar
import pytest
from sqlalchemy.orm import Session

from operational.booking_reads import list_bookings
from operational.calendar import (
    calendar_entries,
    calendar_filters,
    calendar_range,
    next_free_slot,
    shift_day,
    tenant_time_zone,
)
from operational.ics import artist_calendar_ics
from operational.models import Artist, Booking, Organization, Project, User
from operational.permissions import Actor, PermissionDenied
from operational.repository import NotFoundError

UTC = dt.timezone.utc
CANARY = "Canary Calendar Qzx"
WEEK_START = dt.datetime(2025, 3, 10, tzinfo=UTC)   # a Monday
WEEK_END = WEEK_START + dt.timedelta(days=7)


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> dt.datetime:
    return dt.datetime(2025, month, day, hour, minute, tzinfo=UTC)


@dataclass(frozen=True)
class World:
    a: str
    b: str
    plain: str  # an organization without a time zone setting
    users: dict[str, str]   # role name -> user id (tenant A)
    b_admin: str
    a1: str
    a2: str
    b1: str
    project: str
    bookings: dict[str, str]  # name -> booking id

    def actor(self, role: str, **extra) -> Actor:
        artist_ids = (self.a1,) if role == "CREATOR" else ()
        return Actor.of(user_id=self.users[role], tenant_id=self.a, role=role.rstrip("2"),
                        artist_ids=extra.pop("artist_ids", artist_ids), **extra)


def _booking(org: str, artist: str, title: str, status: str, start: dt.datetime, hours: float, zone: str,
             **extra) -> Booking:
    end = start + dt.timedelta(hours=hours)
    return Booking(org_id=org, artist_id=artist, title=title, type="RECORDING_SESSION", status=status,
                   start_date=start, end_date=end, duration_minutes=int(hours * 60), timezone=zone, currency="EUR",
                   **extra)


@pytest.fixture
def world(migrated) -> World:
    with Session(migrated) as session, session.begin():
        a = Organization(name="Aurora", slug="aurora", type="RECORD_LABEL", plan="FREE",
                         settings={"timezone": "Europe/Berlin"})
        b = Organization(name="Bravo", slug="bravo", type="RECORD_LABEL", plan="FREE",
                         settings={"timezone": "America/New_York"})
        plain = Organization(name="Plain", slug="plain", type="RECORD_LABEL", plan="FREE")
        session.add_all([a, b, plain])
        session.flush()
        users = {}
        for role in ("ORG_ADMIN", "STUDIO_MANAGER", "CREATOR", "CLIENT", "CLIENT2", "VIEWER", "ACCOUNTANT",
                     "SUPER_ADMIN"):
            user = User(org_id=a.id, email=f"{role.lower()}@aurora.example", name=role,
                        role=role.rstrip("2"), password_hash="x")
            session.add(user)
            session.flush()
            users[role] = user.id
        b_admin = User(org_id=b.id, email="admin@bravo.example", name="B", role="ORG_ADMIN", password_hash="x")
        plain_admin = User(org_id=plain.id, email="admin@plain.example", name="P", role="ORG_ADMIN", password_hash="x")
        session.add_all([b_admin, plain_admin])
        session.flush()
        a1 = Artist(org_id=a.id, name="Lumen Vale", user_id=users["CREATOR"])
        a2 = Artist(org_id=a.id, name="Marisol", stage_name="Marisol Keys")
        b1 = Artist(org_id=b.id, name=CANARY)
        project = Project(org_id=a.id, name="Debut album", type="ALBUM", status="IN_PROGRESS", currency="EUR")
        session.add_all([a1, a2, b1, project])
        session.flush()
        rows = {
            "confirmed": _booking(a.id, a1.id, "Vocals day", "CONFIRMED", at(12, 10), 2, "Europe/Berlin",
                                  client_id=users["CLIENT"], project_id=project.id, location="Studio 1"),
            "pending": _booking(a.id, a1.id, "Overdubs", "PENDING_APPROVAL", at(13, 14), 1, "America/New_York",
                                client_id=users["CLIENT2"], location="Brooklyn"),
            "draft": _booking(a.id, a1.id, "Idea session", "DRAFT", at(14, 8), 1, "Europe/Berlin",
                              location="Studio 2"),
            "cancelled": _booking(a.id, a2.id, "Mix notes", "CANCELLED", at(14, 9), 1, "Europe/London",
                                  client_id=users["CLIENT"], is_remote=True),
            "later": _booking(a.id, a2.id, "Mastering", "COMPLETED", at(20, 9, month=4), 3, "Europe/Berlin",
                              location="Studio 1"),
            "canary": _booking(b.id, b1.id, f"{CANARY} session", "CONFIRMED", at(12, 10), 2, "America/New_York",
                               location="Bravo room"),
        }
        session.add_all(rows.values())
        session.flush()
        return World(a=a.id, b=b.id, plain=plain.id, users=users, b_admin=b_admin.id, a1=a1.id, a2=a2.id,
                     b1=b1.id, project=project.id, bookings={k: v.id for k, v in rows.items()})


def titles(entries) -> list[str]:
    return [e.title for e in entries]


# calendar entries

@pytest.mark.parametrize("role,expected", [
    ("ORG_ADMIN", ["Vocals day", "Overdubs", "Idea session", "Mix notes"]),
    ("STUDIO_MANAGER", ["Vocals day", "Overdubs", "Idea session", "Mix notes"]),
    ("SUPER_ADMIN", ["Vocals day", "Overdubs", "Idea session", "Mix notes"]),
    ("CREATOR", ["Vocals day", "Overdubs", "Idea session"]),   # their own artist only
    ("CLIENT", ["Vocals day", "Mix notes"]),                    # where they are the client
    ("CLIENT2", ["Overdubs"]),
])
def test_entries_are_scoped_by_role_and_never_leave_the_tenant(migrated, world, role, expected):
    entries = calendar_entries(migrated, world.actor(role), WEEK_START, WEEK_END)
    assert titles(entries) == expected
    assert CANARY not in repr(entries)
    assert all(WEEK_START < e.end and e.start < WEEK_END for e in entries)


@pytest.mark.parametrize("role", ["VIEWER", "ACCOUNTANT"])
def test_roles_without_the_calendar_are_refused(migrated, world, role):
    with pytest.raises(PermissionDenied):
        calendar_entries(migrated, world.actor(role), WEEK_START, WEEK_END)


def test_a_denied_calendar_is_refused_even_to_an_admin(migrated, world):
    with pytest.raises(PermissionDenied):
        calendar_entries(migrated, world.actor("ORG_ADMIN", permissions=["!calendar:read"]), WEEK_START, WEEK_END)


def test_entries_carry_artist_project_and_zone(migrated, world):
    first = calendar_entries(migrated, world.actor("ORG_ADMIN"), WEEK_START, WEEK_END)[0]
    assert (first.artist_id, first.artist_name, first.project_id, first.project_name) == (
        world.a1, "Lumen Vale", world.project, "Debut album")
    assert first.start == at(12, 10) and first.timezone == "Europe/Berlin" and first.blocking
    assert first.local_start() == dt.datetime(2025, 3, 12, 11)
    assert first.local_start("America/New_York") == dt.datetime(2025, 3, 12, 6)
    assert not hasattr(first, "amount")  # the calendar shows time, not money


def test_artist_and_project_filters(migrated, world):
    admin = world.actor("ORG_ADMIN")
    assert titles(calendar_entries(migrated, admin, WEEK_START, WEEK_END, artist_id=world.a2)) == ["Mix notes"]
    assert titles(calendar_entries(migrated, admin, WEEK_START, WEEK_END, project_id=world.project)) == ["Vocals day"]
    creator = world.actor("CREATOR")  # a filter never widens the scope
    assert calendar_entries(migrated, creator, WEEK_START, WEEK_END, artist_id=world.a2) == []


def test_a_forged_artist_of_another_tenant_matches_nothing(migrated, world):
    admin = world.actor("ORG_ADMIN")
    assert calendar_entries(migrated, admin, WEEK_START, WEEK_END, artist_id=world.b1) == []
    creator = world.actor("CREATOR", artist_ids=(world.a1, world.b1))  # even a forged link
    assert CANARY not in repr(calendar_entries(migrated, creator, WEEK_START, WEEK_END))


def test_bounds_must_be_aware_and_ordered(migrated, world):
    admin = world.actor("ORG_ADMIN")
    with pytest.raises(ValueError):
        calendar_entries(migrated, admin, WEEK_START.replace(tzinfo=None), WEEK_END)
    with pytest.raises(ValueError):
        calendar_entries(migrated, admin, WEEK_END, WEEK_START)


def test_list_bookings_keeps_its_behaviour(migrated, world):
    lines = list_bookings(migrated, world.actor("CLIENT"), start=WEEK_START)
    assert [line.title for line in lines] == ["Vocals day", "Mix notes"]
    assert lines[0].amount is None and lines[0].project_name == "Debut album" and lines[0].artist_id == world.a1
    with pytest.raises(ValueError):
        list_bookings(migrated, world.actor("ORG_ADMIN"), resource="users")


# the tenant's zone, filters, free slots

def test_tenant_time_zone_for_those_with_and_without_settings(migrated, world):
    assert tenant_time_zone(migrated, world.actor("ORG_ADMIN")) == "Europe/Berlin"
    assert tenant_time_zone(migrated, world.actor("CLIENT")) == "Europe/Berlin"  # no settings right
    assert tenant_time_zone(migrated, Actor.of(user_id=None, tenant_id=world.plain, role="CLIENT")) == "UTC"


def test_filters_offer_what_the_user_may_see(migrated, world):
    admin = calendar_filters(migrated, world.actor("ORG_ADMIN"))
    assert admin.artists == ((world.a1, "Lumen Vale"), (world.a2, "Marisol Keys"))
    assert admin.projects == ((world.project, "Debut album"),)
    assert calendar_filters(migrated, world.actor("CREATOR")).artists == ((world.a1, "Lumen Vale"),)
    client = calendar_filters(migrated, world.actor("CLIENT2"))  # no roster: their bookings' artists
    assert client.artists == ((world.a1, "Lumen Vale"),) and client.projects == ()
    assert CANARY not in repr(admin)


def test_next_free_slot_skips_blocking_bookings_only(migrated, world):
    admin = world.actor("ORG_ADMIN")
    assert next_free_slot(migrated, admin, world.a1, after=at(12, 9)) == at(12, 9)         # ends as one starts
    assert next_free_slot(migrated, admin, world.a1, after=at(12, 9, 20)) == at(12, 12)    # 09:30 + 1 h overlaps
    assert next_free_slot(migrated, admin, world.a1, after=at(14, 7, 50)) == at(14, 8)     # a draft blocks nothing
    assert next_free_slot(migrated, admin, world.a2, after=at(14, 9)) == at(14, 9)         # nor does a cancellation
    assert next_free_slot(migrated, world.actor("CLIENT"), world.a1, after=at(12, 10)) == at(12, 12)
    with pytest.raises(PermissionDenied):
        next_free_slot(migrated, world.actor("CREATOR"), world.a1, after=at(12, 9))
    with pytest.raises(NotFoundError):
        next_free_slot(migrated, admin, world.b1, after=at(12, 9))


def test_calendar_range_in_a_time_zone():
    week = calendar_range("week", dt.date(2025, 3, 13), "Europe/Berlin")
    assert (week.first_day, week.end_day) == (dt.date(2025, 3, 10), dt.date(2025, 3, 17))
    assert week.start_utc == dt.datetime(2025, 3, 9, 23, tzinfo=UTC)
    month = calendar_range("month", dt.date(2025, 3, 13), "Europe/Berlin")  # DST starts on 30 March
    assert (month.start_utc, month.end_utc) == (dt.datetime(2025, 2, 28, 23, tzinfo=UTC),
                                                dt.datetime(2025, 3, 31, 22, tzinfo=UTC))
    assert month.label == "March 2025" and week.label.startswith("Week of Mon 10 Mar 2025")
    assert calendar_range("month", dt.date(2025, 12, 5), "UTC").end_day == dt.date(2026, 1, 1)
    assert shift_day("week", dt.date(2025, 3, 13), -1) == dt.date(2025, 3, 6)
    assert shift_day("month", dt.date(2025, 1, 31), 1) == dt.date(2025, 2, 1)
    assert shift_day("month", dt.date(2025, 1, 31), -1) == dt.date(2024, 12, 1)
    with pytest.raises(ValueError):
        calendar_range("year", dt.date(2025, 3, 13), "UTC")
    with pytest.raises(ValueError):
        calendar_range("week", dt.date(2025, 3, 13), "Mars/Olympus")


# .ics

def events(data: bytes) -> dict[str, icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(data)
    assert str(calendar["version"]) == "2.0" and calendar["prodid"]
    return {str(e["uid"]): e for e in calendar.walk("VEVENT")}


def test_ics_parses_back_with_utc_times_statuses_and_zones(migrated, world):
    found = events(artist_calendar_ics(migrated, world.actor("ORG_ADMIN"), world.a1))
    ids = world.bookings
    assert set(found) == {f"{ids[name]}@auditoryx" for name in ("confirmed", "pending", "draft")}
    confirmed = found[f"{ids['confirmed']}@auditoryx"]
    start, end = confirmed.decoded("dtstart"), confirmed.decoded("dtend")
    assert (start, end) == (at(12, 10), at(12, 12)) and start.utcoffset() == dt.timedelta(0)
    assert "DTSTART:20250312T100000Z" in confirmed.to_ical().decode()
    assert str(confirmed["summary"]) == "Vocals day" and str(confirmed["location"]) == "Studio 1"
    assert str(confirmed["status"]) == "CONFIRMED"
    assert str(confirmed["X-AUDITORYX-TZ"]) == "Europe/Berlin"
    assert "Local time: 2025-03-12 11:00 – 13:00 (Europe/Berlin)" in str(confirmed["description"])
    assert "Project: Debut album" in str(confirmed["description"])
    pending = found[f"{ids['pending']}@auditoryx"]
    assert str(pending["status"]) == "TENTATIVE" and str(pending["X-AUDITORYX-TZ"]) == "America/New_York"
    assert "Local time: 2025-03-13 10:00 – 11:00 (America/New_York)" in str(pending["description"])
    assert str(found[f"{ids['draft']}@auditoryx"]["status"]) == "TENTATIVE"


def test_ics_statuses_of_cancelled_and_completed_and_a_remote_location(migrated, world):
    found = events(artist_calendar_ics(migrated, world.actor("ORG_ADMIN"), world.a2))
    cancelled, later = found[f"{world.bookings['cancelled']}@auditoryx"], found[f"{world.bookings['later']}@auditoryx"]
    assert str(cancelled["status"]) == "CANCELLED" and str(cancelled["location"]) == "Remote"
    assert str(later["status"]) == "CONFIRMED"


def test_ics_range(migrated, world):
    data = artist_calendar_ics(migrated, world.actor("ORG_ADMIN"), world.a2, start_utc=at(1, 0, month=4))
    assert set(events(data)) == {f"{world.bookings['later']}@auditoryx"}


def test_ics_holds_only_what_the_actor_may_see(migrated, world):
    client = events(artist_calendar_ics(migrated, world.actor("CLIENT"), world.a1))
    assert set(client) == {f"{world.bookings['confirmed']}@auditoryx"}
    creator = events(artist_calendar_ics(migrated, world.actor("CREATOR"), world.a1))
    assert len(creator) == 3
    with pytest.raises(PermissionDenied):  # a creator's calendar is their own artist's
        artist_calendar_ics(migrated, world.actor("CREATOR"), world.a2)
    for actor in (world.actor("VIEWER"), world.actor("SUPER_ADMIN"),
                  world.actor("ORG_ADMIN", permissions=["!calendar:export"])):
        with pytest.raises(PermissionDenied):
            artist_calendar_ics(migrated, actor, world.a1)


def test_ics_artist_of_another_tenant_is_not_found_like_a_missing_one(migrated, world):
    admin = world.actor("ORG_ADMIN")
    with pytest.raises(NotFoundError) as forged:
        artist_calendar_ics(migrated, admin, world.b1)
    with pytest.raises(NotFoundError) as missing:
        artist_calendar_ics(migrated, admin, "no-such-artist")
    assert str(forged.value).replace(world.b1, "ID") == str(missing.value).replace("no-such-artist", "ID")
    b_admin = Actor.of(user_id=world.b_admin, tenant_id=world.b, role="ORG_ADMIN")
    data = artist_calendar_ics(migrated, b_admin, world.b1)  # B's own admin gets it
    assert CANARY.encode() in data and len(events(data)) == 1
