"""The Bookings page through AppTest: book, see the conflict with the next free slot, use it,
change a booking's status; and a user of tenant A never books or sees tenant B's artist."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from apptest_support import login as _login
from apptest_support import rendered_text
from tenant_data import CANARY_ARTIST, PASSWORD, build_world, role_email


@pytest.fixture
def booking_world(tmp_path, monkeypatch):
    from operational.db import make_engine
    from operational.models import Artist

    world = build_world(tmp_path / "world")
    engine = make_engine(world.operational_url)
    with Session(engine) as session, session.begin():
        session.add_all([
            Artist(id="op-artist-a1", org_id=world.a.tenant_id, name="Lumen Vale"),
            Artist(id="op-artist-a2", org_id=world.a.tenant_id, name="Marisol Keys"),
            Artist(id="op-artist-b1", org_id=world.b.tenant_id, name=CANARY_ARTIST),
        ])
    engine.dispose()
    for key, value in world.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AUDITORYX_REFRESH_ON_WRITE", "off")
    monkeypatch.delenv("AUDITORYX_AS_OF", raising=False)
    monkeypatch.delenv("AUDITORYX_APP_DATABASE_URL", raising=False)
    return world


def open_bookings(email: str):
    at = _login(email, PASSWORD)
    at.switch_page("views/07_book.py").run()
    assert not at.exception, at.exception
    return at


def fill(at, *, title: str, day: dt.date, start: dt.time, end: dt.time, artist: str = "op-artist-a1"):
    at.selectbox(key="book_artist").select(artist)
    at.selectbox(key="book_zone").select("Europe/Berlin")
    at.text_input(key="book_title").input(title)
    at.text_input(key="book_location").input("Studio A")
    at.text_input(key="book_budget").input("450")
    at.date_input(key="book_date").set_value(day)
    at.time_input(key="book_start").set_value(start)
    at.time_input(key="book_end").set_value(end)
    next(b for b in at.button if b.label == "Book").click()
    return at.run()


def test_book_then_conflict_then_next_free_slot(booking_world):
    a = booking_world.a
    at = open_bookings(a.email)
    assert CANARY_ARTIST not in rendered_text(at)  # B's artist is not offered
    day = dt.date.today() + dt.timedelta(days=3)
    fill(at, title="Vocals day 1", day=day, start=dt.time(10), end=dt.time(12))
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Booked **Vocals day 1** with Lumen Vale" in at.success[0].value
    fill(at, title="Overdub", day=day, start=dt.time(11), end=dt.time(12))
    assert at.warning and "already booked for 'Vocals day 1'" in at.warning[0].value
    free = next(b for b in at.button if b.label.startswith("Use the next free slot"))
    assert "12:00 (Europe/Berlin)" in free.label
    free.click().run()
    assert at.time_input(key="book_start").value == dt.time(12)
    assert at.time_input(key="book_end").value == dt.time(13)  # the same length as asked


def test_invalid_fields_are_listed(booking_world):
    at = open_bookings(booking_world.a.email)
    day = dt.date.today() + dt.timedelta(days=3)
    at.text_input(key="book_budget").input("twelve")
    next(b for b in at.button if b.label == "Book").click().run()
    message = at.error[0].value
    assert "**Title**: a title is required" in message and "**Budget**" in message and "**Location**" in message
    assert day  # nothing booked
    assert not at.success


def test_status_changes_by_permission(booking_world):
    a = booking_world.a
    manager = open_bookings(role_email(a, "ARTIST_MANAGER"))
    statuses = {r.label: r for r in manager.radio}["Status"]
    assert "CONFIRMED" not in statuses.options  # artist managers request; they cannot approve
    day = dt.date.today() + dt.timedelta(days=4)
    fill(manager, title="Mixing", day=day, start=dt.time(14), end=dt.time(16))
    assert manager.success
    manager.run()
    assert not [b for b in manager.button if b.label == "Approve"]
    admin = open_bookings(a.email)
    next(b for b in admin.button if b.label == "Approve").click().run()
    assert not admin.exception and not admin.error
    assert "(Approved)" in admin.selectbox(key="manage_booking").format_func(admin.selectbox(key="manage_booking").value)


def test_forged_artist_of_another_tenant_is_refused_by_the_service(booking_world):
    """The form only offers A's artists; a forged id reaching the service is not found."""
    from operational.booking_rules import BookingDraft, BookingError
    from operational.bookings import create_booking
    from operational.db import make_engine
    from operational.permissions import Actor

    engine = make_engine(booking_world.operational_url)
    actor = Actor.of(user_id=None, tenant_id=booking_world.a.tenant_id, role="ORG_ADMIN")
    start = dt.datetime.combine(dt.date.today() + dt.timedelta(days=5), dt.time(10))
    with pytest.raises(BookingError, match="no such active artist"):
        create_booking(engine, actor, BookingDraft(artist_id="op-artist-b1", title="x", type="MIXING",
                                                   start_local=start, end_local=start + dt.timedelta(hours=1),
                                                   timezone="UTC", is_remote=True))
    engine.dispose()


def test_matching_ranks_free_artists_first_with_reasons(booking_world):
    a = booking_world.a
    at = open_bookings(a.email)
    day = dt.date.today() + dt.timedelta(days=6)
    fill(at, title="Busy", day=day, start=dt.time(10), end=dt.time(12), artist="op-artist-a1")
    at.date_input(key="match_day").set_value(day)
    at.selectbox(key="match_zone").select("Europe/Berlin")
    next(b for b in at.button if b.label == "Rank artists").click().run()
    assert not at.exception and not at.error
    ranked = at.dataframe[-1].value
    assert list(ranked["Artist"]) == ["Marisol Keys", "Lumen Vale"]  # the busy one last
    assert list(ranked["Free then"]) == ["yes", "no"] and CANARY_ARTIST not in rendered_text(at)


def test_viewer_has_no_bookings_page(booking_world):
    from dashboards.navigation import pages_for
    from operational.permissions import Actor

    assert "bookings" not in [p.url_path for p in pages_for(Actor.of(user_id="u", tenant_id="t", role="VIEWER"))]


def test_roster_page_adds_artists_until_the_plan_limit(booking_world, monkeypatch):
    from sqlalchemy import update

    from operational.db import make_engine
    from operational.models import Organization

    engine = make_engine(booking_world.operational_url)
    with Session(engine) as session, session.begin():  # FREE: 5 active artists; A has 2
        session.execute(update(Organization).where(Organization.id == booking_world.a.tenant_id).values(plan="FREE"))
    engine.dispose()
    at = _login(booking_world.a.email, PASSWORD)
    at.switch_page("views/09_roster.py").run()
    assert "2 of 5 active artists" in at.caption[0].value and CANARY_ARTIST not in rendered_text(at)
    for i in range(4):
        inputs = {t.label: t for t in at.text_input}
        inputs["Name"].input(f"New Artist {i}")
        next(b for b in at.button if b.label == "Add artist").click().run()
    assert "5 of 5 active artists" in at.caption[0].value
    assert "the FREE plan allows 5 active artists" in at.error[0].value
    assert "STUDIO_PRO plan allows 25" in at.error[0].value
