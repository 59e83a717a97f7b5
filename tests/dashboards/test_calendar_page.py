"""The calendar page through AppTest, on a world of its own with bookings in the operational DB:
week and month views, navigation, filters, details, "Book this slot", the .ics download, and
every role seeing only what its scope allows, never tenant B."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from apptest_support import APP, rendered_text
from apptest_support import login as _login
from tenant_data import CANARY_ARTIST, PASSWORD, build_world, role_email

UTC = dt.timezone.utc
CALENDAR = "views/06_calendar.py"
DAY = dt.date(2025, 3, 12)  # a Wednesday; the week runs 10–16 March 2025


def at(day: int, hour: int, month: int = 3) -> dt.datetime:
    return dt.datetime(2025, month, day, hour, tzinfo=UTC)


@pytest.fixture
def calendar_world(tmp_path, monkeypatch):
    """build_world + artists, a project and bookings for A (two clients, a creator) and B (canary);
    A's organization works in Europe/Berlin; the calendar page is in the navigation."""
    from dashboards import navigation
    from operational.db import make_engine
    from operational.enums import UserRole
    from operational.models import Artist, Booking, Organization, Project, User
    from operational.permissions import Resource

    world = build_world(tmp_path / "world")
    for key, value in world.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AUDITORYX_AS_OF", raising=False)
    monkeypatch.delenv("AUDITORYX_APP_DATABASE_URL", raising=False)
    if not any(page.script == CALENDAR for page in navigation.PAGES):  # until navigation lists it
        spec = navigation.PageSpec(CALENDAR, "Calendar", ":material/calendar_month:", "calendar", Resource.CALENDAR)
        monkeypatch.setattr(navigation, "PAGES", (*navigation.PAGES, spec))

    a, b = world.a, world.b
    engine = make_engine(world.operational_url)
    with Session(engine) as session, session.begin():
        session.execute(update(Organization).where(Organization.id == a.tenant_id)
                        .values(settings={"base_currency": "USD", "timezone": "Europe/Berlin"}))
        users = {u.email: u.id for u in session.query(User).filter(User.org_id == a.tenant_id)}
        client = users[role_email(a, "CLIENT")]
        creator = users[role_email(a, "CREATOR")]
        other_client = User(org_id=a.tenant_id, email="other.client@aurora.example", name="Other Client",
                            role=UserRole.CLIENT, password_hash="x")
        session.add(other_client)
        session.add_all([
            Artist(id="cal-a1", org_id=a.tenant_id, name="Lumen Vale", user_id=creator),
            Artist(id="cal-a2", org_id=a.tenant_id, name="Marisol Keys"),
            Artist(id="cal-b1", org_id=b.tenant_id, name=CANARY_ARTIST),
            Project(id="cal-p1", org_id=a.tenant_id, name="Debut album", type="ALBUM", status="IN_PROGRESS",
                    currency="USD"),
        ])
        session.flush()

        def booking(org, artist, title, status, start, hours, zone, **extra):
            return Booking(org_id=org, artist_id=artist, title=title, type="RECORDING_SESSION", status=status,
                           start_date=start, end_date=start + dt.timedelta(hours=hours),
                           duration_minutes=int(hours * 60), timezone=zone, currency="USD", **extra)

        session.add_all([
            booking(a.tenant_id, "cal-a1", "Vocals day", "CONFIRMED", at(12, 10), 2, "Europe/Berlin",
                    client_id=client, project_id="cal-p1", location="Studio 1"),
            booking(a.tenant_id, "cal-a1", "Overdubs", "PENDING_APPROVAL", at(13, 14), 1, "America/New_York",
                    client_id=other_client.id, location="Brooklyn"),
            booking(a.tenant_id, "cal-a2", "Mix notes", "CANCELLED", at(14, 9), 1, "Europe/London",
                    client_id=client, is_remote=True),
            booking(a.tenant_id, "cal-a2", "String session", "APPROVED", at(25, 15), 2, "Europe/Berlin",
                    location="Hall B"),
            booking(a.tenant_id, "cal-a2", "Mastering", "COMPLETED", at(8, 9, month=4), 3, "Europe/Berlin",
                    location="Studio 1"),
            booking(b.tenant_id, "cal-b1", f"{CANARY_ARTIST} session", "CONFIRMED", at(12, 10), 2,
                    "Europe/Berlin", location="Bravo room"),
        ])
    engine.dispose()
    return world


def open_calendar(email: str, day: dt.date = DAY) -> AppTest:
    at_ = _login(email, PASSWORD)
    at_.switch_page(CALENDAR).run()
    assert not at_.exception, at_.exception
    at_.date_input(key="cal_date").set_value(day).run()
    assert not at_.exception, at_.exception
    return at_


def table_titles(at_: AppTest) -> list[str]:
    return list(at_.dataframe[0].value["Title"]) if at_.dataframe else []


def test_admin_sees_the_week_by_artist_in_the_tenant_time_zone(calendar_world):
    at_ = open_calendar(calendar_world.a.email)
    assert at_.title[0].value == "Calendar"
    assert table_titles(at_) == ["Vocals day", "Overdubs", "Mix notes"]
    table = at_.dataframe[0].value
    assert table["When"][0] == "Wed 12 Mar 2025 11:00"  # 10:00 UTC in Berlin
    assert list(table["Booking time zone"]) == ["Europe/Berlin", "America/New_York", "Europe/London"]
    assert len(at_.get("plotly_chart")) == 1
    text = rendered_text(at_)
    assert "Europe/Berlin" in text and "Lumen Vale" in text and "Marisol Keys" in text
    assert "Week of Mon 10 Mar 2025" in text
    assert CANARY_ARTIST not in text


def test_week_month_switch_and_previous_next(calendar_world):
    at_ = open_calendar(calendar_world.a.email)
    at_.radio(key="cal_view").set_value("Month").run()
    assert table_titles(at_) == ["Vocals day", "Overdubs", "Mix notes", "String session"]
    assert "March 2025" in rendered_text(at_)
    at_.button(key="cal_next").click().run()
    assert not at_.exception and table_titles(at_) == ["Mastering"] and "April 2025" in rendered_text(at_)
    at_.button(key="cal_prev").click().run()
    at_.button(key="cal_prev").click().run()  # February: nothing
    assert not at_.exception and not at_.dataframe
    assert any("No bookings in this month" in i.value for i in at_.info)
    at_.radio(key="cal_view").set_value("Week").run()
    at_.date_input(key="cal_date").set_value(DAY).run()
    at_.button(key="cal_next").click().run()  # 17–23 March: empty
    assert not at_.dataframe and any("No bookings in this week" in i.value for i in at_.info)
    at_.button(key="cal_next").click().run()  # 24–30 March
    assert table_titles(at_) == ["String session"]
    assert CANARY_ARTIST not in rendered_text(at_)


def test_artist_and_project_filters(calendar_world):
    at_ = open_calendar(calendar_world.a.email)
    assert at_.selectbox(key="cal_artist").options == ["Lumen Vale", "Marisol Keys"]  # never B's artists
    at_.selectbox(key="cal_artist").select("cal-a2").run()
    assert table_titles(at_) == ["Mix notes"]
    at_.selectbox(key="cal_artist").select(None).run()
    at_.selectbox(key="cal_project").select("cal-p1").run()
    assert table_titles(at_) == ["Vocals day"]
    at_.selectbox(key="cal_artist").select("cal-a2").run()
    assert not at_.dataframe and any("No bookings in this week for this artist in this project" in i.value
                                     for i in at_.info)


def test_selecting_a_booking_shows_its_details_in_its_own_zone(calendar_world):
    at_ = open_calendar(calendar_world.a.email)
    details = at_.selectbox(key="cal_booking")
    assert details.options[1].startswith("Thu 13 Mar 2025 15:00 · Overdubs")
    details.select_index(1).run()
    text = "\n".join(m.value for m in at_.markdown).replace("\\_", "_")  # markdown-escaped names
    assert "Overdubs" in text and "Local time: Thu 13 Mar 2025 10:00 – Thu 13 Mar 2025 11:00 (America/New_York)" in text
    assert "In Europe/Berlin: Thu 13 Mar 2025 15:00" in text and "Brooklyn" in text


def test_book_this_slot_keeps_the_artist_and_the_next_free_start(calendar_world):
    at_ = open_calendar(calendar_world.a.email, dt.date(2030, 1, 7))  # a future week: the slot is its start
    at_.selectbox(key="cal_artist").select("cal-a1").run()
    assert any("No bookings in this week for this artist" in i.value for i in at_.info)
    at_.button(key="book_slot").click().run()
    assert not at_.exception
    expected = {"artist_id": "cal-a1", "start_local": dt.datetime(2030, 1, 7, 0, 0), "timezone": "Europe/Berlin"}
    if "booking_prefill" in at_.session_state:  # the booking page is not there: the slot waits for it
        assert at_.session_state["booking_prefill"] == expected
        assert any("kept for the booking form" in i.value for i in at_.info)
    else:  # the booking page opened and took the slot into its form
        assert at_.title[0].value == "Bookings"
        assert (at_.session_state["book_artist"], at_.session_state["book_date"], at_.session_state["book_start"],
                at_.session_state["book_zone"]) == ("cal-a1", dt.date(2030, 1, 7), dt.time(0, 0), "Europe/Berlin")


def test_choosing_a_booking_offers_its_artist_to_book_and_export(calendar_world):
    at_ = open_calendar(calendar_world.a.email)
    assert not [b for b in at_.button if b.key == "book_slot"]  # no artist chosen yet
    at_.selectbox(key="cal_booking").select_index(2).run()  # Mix notes: Marisol Keys
    assert "Marisol Keys" in [s.value for s in at_.subheader]
    assert at_.button(key="book_slot") and len(at_.get("download_button")) == 1
    assert any("Next free hour" in c.value for c in at_.caption)


def test_download_ics_for_the_chosen_artist(calendar_world):
    at_ = open_calendar(calendar_world.a.email)
    assert not at_.get("download_button")  # no artist chosen yet
    at_.selectbox(key="cal_artist").select("cal-a1").run()
    buttons = at_.get("download_button")
    assert len(buttons) == 1 and "Download .ics" in str(buttons[0].proto)


def test_client_sees_only_their_bookings_and_may_book_and_export(calendar_world):
    at_ = open_calendar(role_email(calendar_world.a, "CLIENT"))
    assert table_titles(at_) == ["Vocals day", "Mix notes"]  # not the other client's "Overdubs"
    assert at_.selectbox(key="cal_artist").options == ["Lumen Vale", "Marisol Keys"]  # from their bookings
    assert at_.selectbox(key="cal_project").options == ["Debut album"]
    at_.radio(key="cal_view").set_value("Month").run()
    assert table_titles(at_) == ["Vocals day", "Mix notes"]  # "String session" has no client
    at_.selectbox(key="cal_artist").select("cal-a1").run()
    assert table_titles(at_) == ["Vocals day"]
    assert at_.button(key="book_slot") and len(at_.get("download_button")) == 1
    text = rendered_text(at_)
    assert "Overdubs" not in text and "String session" not in text and CANARY_ARTIST not in text


def test_creator_sees_their_own_artist_only(calendar_world):
    at_ = open_calendar(role_email(calendar_world.a, "CREATOR"))
    assert table_titles(at_) == ["Vocals day", "Overdubs"]
    assert at_.selectbox(key="cal_artist").options == ["Lumen Vale"]
    at_.selectbox(key="cal_artist").select("cal-a1").run()
    assert not [b for b in at_.button if b.key == "book_slot"]  # creators do not create bookings
    assert len(at_.get("download_button")) == 1
    assert "Marisol Keys" not in rendered_text(at_) and CANARY_ARTIST not in rendered_text(at_)


@pytest.mark.parametrize("role", ["ORG_ADMIN", "LABEL_MANAGER", "ARTIST_MANAGER", "STUDIO_MANAGER", "SUPER_ADMIN",
                                  "CREATOR", "CLIENT"])
def test_no_tenant_b_canary_for_any_role_of_a_in_either_view(calendar_world, role):
    at_ = open_calendar(role_email(calendar_world.a, role))
    for view in ("Week", "Month"):
        at_.radio(key="cal_view").set_value(view).run()
        assert not at_.exception
        assert CANARY_ARTIST not in rendered_text(at_)


def test_tenant_b_sees_its_own_canary(calendar_world):
    at_ = open_calendar(calendar_world.b.email)
    assert table_titles(at_) == [f"{CANARY_ARTIST} session"]
    assert CANARY_ARTIST in rendered_text(at_) and "Lumen Vale" not in rendered_text(at_)


def _token(world, email: str) -> str:
    from dashboards.session_engine import web_engine
    from operational.auth import authenticate, start_session

    return start_session(web_engine(), authenticate(web_engine(), email, PASSWORD).user)


def test_page_file_run_directly(calendar_world):
    """Reached without the router: a role without the calendar is refused; an admin gets the page,
    and "Book this slot" keeps the slot even where the booking page cannot be opened."""
    viewer = AppTest.from_file(str(APP.parent / "views" / "06_calendar.py"), default_timeout=30)
    viewer.session_state["auditoryx_session_token"] = _token(calendar_world, role_email(calendar_world.a, "VIEWER"))
    viewer.run()
    assert not viewer.exception and [e.value for e in viewer.error] == ["You do not have access to this page."]

    admin = AppTest.from_file(str(APP.parent / "views" / "06_calendar.py"), default_timeout=30)
    admin.session_state["auditoryx_session_token"] = _token(calendar_world, calendar_world.a.email)
    admin.run()
    admin.date_input(key="cal_date").set_value(dt.date(2030, 1, 7)).run()
    admin.selectbox(key="cal_artist").select("cal-a2").run()
    admin.button(key="book_slot").click().run()
    assert not admin.exception
    assert admin.session_state["booking_prefill"]["artist_id"] == "cal-a2"
    assert any("kept for the booking form" in i.value for i in admin.info)


def test_calendar_figure_draws_bars_by_artist_and_status_in_the_given_zone():
    import polars as pl

    from dashboards.charts import BOOKING_STATUS_COLORS, calendar_figure

    start, end = dt.datetime(2025, 3, 10), dt.datetime(2025, 3, 17)
    empty = calendar_figure(pl.DataFrame(schema={"artist": pl.String}), start, end, "UTC")
    assert empty.layout.annotations[0].text == "No bookings in this period"
    frame = pl.DataFrame({
        "artist": ["Lumen Vale", "Marisol Keys", "Lumen Vale"],
        "title": ["Vocals <b>day</b>", "Mix notes", "Overdubs"],
        "status": ["CONFIRMED", "CANCELLED", "CONFIRMED"],
        "start": [at(12, 10), at(14, 9), at(13, 14)],
        "end": [at(12, 12), at(14, 10), at(13, 15)],
    })
    fig = calendar_figure(frame, start, end, "Europe/Berlin")
    assert [t.name for t in fig.data] == ["Confirmed", "Cancelled"]
    assert fig.data[0].marker.color == BOOKING_STATUS_COLORS["CONFIRMED"]
    assert list(fig.data[0].y) == ["Lumen Vale", "Lumen Vale"]
    assert fig.data[0].base[0] == "2025-03-12T11:00:00"  # aware UTC shown in Berlin time
    assert fig.data[0].x[0] == 2 * 3600 * 1000
    assert fig.data[0].customdata[0][0] == "Vocals &lt;b&gt;day&lt;/b&gt;"
    assert "Europe/Berlin" in fig.layout.title.text and fig.layout.xaxis.range[0] == "2025-03-10T00:00:00"
