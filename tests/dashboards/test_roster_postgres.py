"""The Roster page on PostgreSQL as the web tier's own login under row-level security (FORCE): the
list, filters, an artist's view with its bookings and a bulk verification with its audit rows work
through the tenant repository as that login; tenant B's canary artist stays out of reach."""
from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from apptest_support import rendered_text
from tenant_data import create_operational_db
from test_roster_page import (
    CANARY_ARTIST,
    CANARY_BOOKING,
    NOT_FOUND,
    _point_at,
    make_world,
    open_roster,
    query_value,
    roster_table,
    seed_roster,
)

APP_LOGIN = "auditoryx_web_roster_test"


@pytest.fixture
def pg_env(pg_url, tmp_path, monkeypatch):
    from operational.db import ensure_app_login, make_engine

    world = make_world(tmp_path / "world")  # snapshots (and a SQLite copy the app does not use)
    create_operational_db(pg_url, [world.a, world.b, world.empty, world.unpublished], all_roles_for=world.a)
    seed_roster(pg_url, world)
    app_url = make_url(pg_url).set(username=APP_LOGIN, password=None).render_as_string(hide_password=False)
    owner = make_engine(pg_url)
    assert ensure_app_login(owner, app_url) == APP_LOGIN
    owner.dispose()
    _point_at(world, monkeypatch)
    monkeypatch.setenv("AUDITORYX_OPERATIONAL_URL", pg_url)
    monkeypatch.setenv("AUDITORYX_APP_DATABASE_URL", app_url)
    return world, pg_url


@pytest.mark.postgres
def test_roster_works_as_the_rls_login_and_stays_in_the_tenant(pg_env):
    from dashboards.session_engine import web_engine
    from operational import audit
    from operational.db import make_engine
    from operational.models import Artist

    world, pg_url = pg_env
    with web_engine().connect() as conn:  # the page really runs as the plain login role
        assert conn.execute(text("SELECT current_user")).scalar() == APP_LOGIN
        assert conn.scalar(text("SELECT count(*) FROM artists")) == 0  # RLS: no tenant, no rows

    at = open_roster(world.a.email, {"genre": "jazz"})
    assert list(roster_table(at)["Artist"]) == ["Lumen Vale", "Marisol Keys"]
    at.multiselect(key="roster_f_genre").set_value([]).run()
    at.multiselect(key="verify_artists").set_value(["art-a2", "art-a3"])
    at.selectbox(key="verify_status").set_value("SUSPENDED")
    next(b for b in at.button if b.label == "Update verification").click().run()
    assert [s.value for s in at.success] == ["Suspended: 2 artist(s) updated."]
    assert list(roster_table(at)["Verification"]) == ["Verified", "Suspended", "Suspended"]

    at.selectbox(key="roster_open").select("art-a1").run()
    assert query_value(at, "artist") == "art-a1" and [h.value for h in at.header] == ["Lumen Vale"]
    assert {m.label: m.value for m in at.metric}["Completed bookings"] == "17"
    bookings = next(df.value for df in at.dataframe if "Title" in df.value.columns)
    assert list(bookings["Title"]) == ["Lumen session two", "Lumen session one"]
    at.query_params["artist"] = "art-b1"  # B's artist, forged into A's URL
    at.run()
    assert [w.value for w in at.warning] == [NOT_FOUND] and not at.header
    text_seen = rendered_text(at)
    assert CANARY_ARTIST not in text_seen and CANARY_BOOKING not in text_seen

    owner = make_engine(pg_url)
    with Session(owner) as session:
        statuses = {aid: str(status) for aid, status in session.execute(select(Artist.id, Artist.verification_status))}
        entries = audit.entries(session, world.a.tenant_id, entity="artists")
        b_entries = audit.entries(session, world.b.tenant_id, entity="artists")
    owner.dispose()
    assert statuses == {"art-a1": "VERIFIED", "art-a2": "SUSPENDED", "art-a3": "SUSPENDED", "art-b1": "VERIFIED"}
    assert sorted((e.entity_id, e.after["verification_status"]) for e in entries) == [
        ("art-a2", "SUSPENDED"), ("art-a3", "SUSPENDED")]
    assert b_entries == []
