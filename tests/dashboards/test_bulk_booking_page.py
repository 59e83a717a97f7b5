"""The bulk booking page through AppTest, on a world of its own (it writes bookings): the grid
path from preview to commit as an ORG_ADMIN, refusal for a VIEWER. AppTest can neither type into
st.data_editor nor upload a file, so the grid's starting rows are set in the session (as the
page does itself when a file is loaded into the grid); the upload path is tested at service
level (tests/operational/test_bulk_bookings.py)."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from apptest_support import APP, rendered_text
from tenant_data import CANARY_ARTIST, PASSWORD, build_world, role_email

PAGE = APP.parent / "views" / "08_bulk_booking.py"
COLUMNS = ("artist", "title", "type", "start", "end", "timezone", "location", "remote", "budget", "currency",
           "priority", "project", "notes")


@dataclass
class BookingWorld:
    world: object
    engine: object
    album_id: str


@pytest.fixture
def booking_world(tmp_path, monkeypatch) -> BookingWorld:
    world = build_world(tmp_path / "world")
    for key, value in world.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AUDITORYX_AS_OF", raising=False)
    monkeypatch.delenv("AUDITORYX_APP_DATABASE_URL", raising=False)
    from dashboards.session_engine import web_engine
    from operational.models import Artist, Project

    engine = web_engine()
    with Session(engine) as session, session.begin():
        session.add_all([Artist(org_id=world.a.tenant_id, name="Lumen Vale"),
                         Artist(org_id=world.a.tenant_id, name="Marisol Keys", stage_name="Mari K"),
                         Artist(org_id=world.b.tenant_id, name=CANARY_ARTIST)])
        album = Project(org_id=world.a.tenant_id, name="Aurora debut album", type="ALBUM", status="IN_PROGRESS",
                        currency="USD", budget=Decimal("1000.00"))
        session.add(album)
        session.flush()
        album_id = album.id
    return BookingWorld(world, engine, album_id)


def page_as(engine, email: str, grid_rows: list[dict] | None = None) -> AppTest:
    from operational.auth import authenticate, start_session

    token = start_session(engine, authenticate(engine, email, PASSWORD).user)
    at = AppTest.from_file(str(PAGE), default_timeout=30)
    at.session_state["auditoryx_session_token"] = token
    if grid_rows is not None:
        at.session_state["bulk_grid_rows"] = [{c: r.get(c) for c in COLUMNS} for r in grid_rows]
    return at.run()


def grid_row(**values) -> dict:
    base = dict(artist="Lumen Vale", title="Drums", type="RECORDING_SESSION", start="2026-09-07 10:00",
                end="2026-09-07 18:00", location="Studio A", budget="600", project="Aurora debut album")
    base.update(values)
    return base


def preview_table(at: AppTest):
    return next(frame.value for frame in at.dataframe if "Status" in frame.value.columns)


def tenant_bookings(engine, tenant_id: str):
    from operational.models import Booking

    with Session(engine) as session:
        return list(session.scalars(select(Booking).where(Booking.org_id == tenant_id).order_by(Booking.start_date)))


def test_grid_preview_then_book_only_the_valid_rows(booking_world):
    world, engine = booking_world.world, booking_world.engine
    rows = [grid_row(),
            grid_row(artist="Mari K", title="Bass", start="2026-09-07 10:00", end="2026-09-07 14:00"),
            grid_row(artist="Marisol Keys", title="Keys", type="KARAOKE", start="2026-09-08 10:00",
                     end="2026-09-08 12:00", budget="100"),
            grid_row(artist=CANARY_ARTIST, title="Forged", start="2026-09-09 10:00", end="2026-09-09 12:00")]
    at = page_as(engine, world.a.email, rows)
    assert not at.exception and not at.error
    assert at.title[0].value == "Bulk booking" and at.data_editor
    assert any(b.label == "Download the CSV template" for b in at.get("download_button"))
    at.button(key="preview_grid").click().run()
    assert not at.exception
    table = preview_table(at)
    assert list(table["Status"]) == ["ready", "ready", "invalid", "invalid"]
    assert "type: 'KARAOKE' is not a valid BookingType" in table["Reasons"][2]
    assert "no such artist in your organization" in table["Reasons"][3]
    assert list(table["Project total"])[:2] == ["600.00 USD", "1,200.00 USD"] and list(table["Over budget"])[:2] == [
        False, True]
    assert any("Project 'Aurora debut album' would be over budget" in w.value for w in at.warning)
    assert at.button(key="bulk_commit").disabled  # all or nothing, with two bad rows
    at.radio(key="bulk_mode").set_value("Only the valid rows").run()
    commit = at.button(key="bulk_commit")
    assert commit.label == "Book 2 sessions" and not commit.disabled
    commit.click().run()
    assert not at.exception
    message = at.success[0].value
    assert message.startswith("Booked 2 sessions; 2 rows not booked")
    assert "The dashboard shows the change after the next scheduled data refresh." in message
    booked = tenant_bookings(engine, world.a.tenant_id)
    assert sorted(b.title for b in booked) == ["Bass", "Drums"]
    assert {str(b.status) for b in booked} == {"PENDING_APPROVAL"}
    assert all(b.project_id == booking_world.album_id for b in booked)
    assert tenant_bookings(engine, world.b.tenant_id) == []
    assert [r["title"] for r in at.session_state["bulk_grid_rows"]] == ["Keys", "Forged"]  # left to fix
    assert CANARY_ARTIST not in str(booked)


def test_all_or_nothing_books_every_row_or_none(booking_world):
    world, engine = booking_world.world, booking_world.engine
    rows = [grid_row(budget="100"), grid_row(artist="Marisol Keys", title="Bass", remote="yes", location=None,
                                             timezone="Europe/Berlin", budget="100")]
    at = page_as(engine, role_email(world.a, "LABEL_MANAGER"), rows)
    at.button(key="preview_grid").click().run()
    assert list(preview_table(at)["Status"]) == ["ready", "ready"] and not at.warning
    commit = at.button(key="bulk_commit")
    assert commit.label == "Book 2 sessions" and not commit.disabled
    commit.click().run()
    assert not at.exception and at.success[0].value == (
        "Booked 2 sessions. The dashboard shows the change after the next scheduled data refresh.")
    assert len(tenant_bookings(engine, world.a.tenant_id)) == 2
    # the same rows again: they now conflict with what was just booked, so nothing is written
    at = page_as(engine, world.a.email, rows)
    at.button(key="preview_grid").click().run()
    table = preview_table(at)
    assert list(table["Status"]) == ["conflict", "conflict"] and "overlaps 'Drums'" in table["Conflicts"][0]
    assert at.button(key="bulk_commit").disabled
    assert len(tenant_bookings(engine, world.a.tenant_id)) == 2


def test_changed_rows_need_a_new_preview(booking_world):
    world, engine = booking_world.world, booking_world.engine
    at = page_as(engine, world.a.email, [grid_row()])
    at.button(key="preview_grid").click().run()
    assert preview_table(at) is not None
    at.session_state["bulk_previewed"] = ("grid", "something else")
    at.run()
    assert any("changed since the preview" in i.value for i in at.info)
    assert not [b for b in at.button if b.key == "bulk_commit"]


@pytest.mark.parametrize("role", ["VIEWER", "ACCOUNTANT", "CREATOR"])
def test_those_who_cannot_create_bookings_are_refused(booking_world, role):
    world, engine = booking_world.world, booking_world.engine
    at = page_as(engine, role_email(world.a, role), [grid_row()])
    assert not at.exception
    assert [e.value for e in at.error] == ["You do not have access to this page."]
    assert not at.data_editor and "Lumen Vale" not in rendered_text(at)
