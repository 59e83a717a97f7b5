"""The Roster page through AppTest on a world of its own: artists in the operational DB, their
lifetime totals (dim_artists) and monthly performance (fct_artist_performance_monthly) published in
the snapshot. Filters from the URL and back into it, the per-artist view with values equal to the
marts, what each role sees (money, bookings, the bulk action), bulk verification with its audit rows,
and tenant B's canary never reaching A (forged ``?artist=``, filter options, after B viewed it)."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from apptest_support import login as _login
from apptest_support import rendered_text
from dashboards.formatting import format_money, money_card
from operational.enums import UserRole
from tenant_data import CANARY_ARTIST, MONEY, PASSWORD, build_world, publish_snapshot, role_email

ROSTER = "views/09_roster.py"
NOT_FOUND = "This artist is not on your organization's roster."
CANARY_GENRE = "Zyxqv Canary Genre"
CANARY_SKILL = "Zyxqv Canary Skill"
CANARY_BOOKING = f"{CANARY_ARTIST} arena night"
CANARY_REVENUE = Decimal("77777.77")
BOOKING_PRICE = Decimal("1500.00")

# (id, name, stage name, genres, skills, rating, verification)
A_ARTISTS = [
    ("art-a1", "Lena Holm", "Lumen Vale", ["Jazz", "Soul"], ["vocals"], "4.80", "VERIFIED"),
    ("art-a2", "Marisol Keys", None, ["jazz", "Latin"], ["piano", "Vocals"], "4.20", "PENDING"),
    ("art-a3", "Tom Berg", "The Quiet Harbor", ["Folk"], ["guitar"], None, "PENDING"),
]
B_ARTISTS = [("art-b1", CANARY_ARTIST, None, [CANARY_GENRE], [CANARY_SKILL], "5.00", "VERIFIED")]
# art-a1's completed work per month: (month, completed bookings, recognized revenue, hours)
A1_MONTHS = [(dt.date(2024, 5, 1), 3, "8000.25", 7.5), (dt.date(2024, 11, 1), 6, "15000.00", 15.0),
             (dt.date(2025, 3, 1), 8, "25250.50", 20.0)]

EARNINGS_ROLES = {"SUPER_ADMIN", "ORG_ADMIN", "LABEL_MANAGER", "ARTIST_MANAGER"}
PERFORMANCE_ROLES = EARNINGS_ROLES | {"VIEWER"}
BOOKINGS_ROLES = {"SUPER_ADMIN", "ORG_ADMIN", "LABEL_MANAGER", "ARTIST_MANAGER", "STUDIO_MANAGER"}
VERIFY_ROLES = {"ORG_ADMIN", "LABEL_MANAGER", "ARTIST_MANAGER"}


def _marts(tenant_id: str, currency: str, artists, months_by_artist) -> dict[str, pl.DataFrame]:
    monthly = [{"tenant_id": tenant_id, "artist_id": aid, "month": month, "base_currency": currency,
                "completed_bookings": done, "recognized_revenue": Decimal(revenue), "hours_delivered": hours}
               for aid, months in months_by_artist.items() for month, done, revenue, hours in months]
    performance = pl.DataFrame(monthly, schema={
        "tenant_id": pl.String, "artist_id": pl.String, "month": pl.Date, "base_currency": pl.String,
        "completed_bookings": pl.Int64, "recognized_revenue": MONEY, "hours_delivered": pl.Float64})
    dims = []
    for aid, name, stage, genres, _skills, rating, verification in artists:
        months = months_by_artist.get(aid, [])
        dims.append({"tenant_id": tenant_id, "artist_id": aid, "artist_name": name, "stage_name": stage,
                     "genres": genres, "verification_status": verification,
                     "rating": None if rating is None else Decimal(rating), "is_active": True,
                     "base_currency": currency, "completed_bookings": sum(m[1] for m in months),
                     "recognized_revenue": sum((Decimal(m[2]) for m in months), Decimal("0.00")),
                     "hours_delivered": float(sum(m[3] for m in months)),
                     "first_service_date": months[0][0] + dt.timedelta(days=2) if months else None,
                     "last_service_date": months[-1][0] if months else None})
    dim = pl.DataFrame(dims, schema={
        "tenant_id": pl.String, "artist_id": pl.String, "artist_name": pl.String, "stage_name": pl.String,
        "genres": pl.List(pl.String), "verification_status": pl.String, "rating": pl.Decimal(3, 2),
        "is_active": pl.Boolean, "base_currency": pl.String, "completed_bookings": pl.Int64,
        "recognized_revenue": MONEY, "hours_delivered": pl.Float64, "first_service_date": pl.Date,
        "last_service_date": pl.Date})
    return {"fct_artist_performance_monthly": performance, "dim_artists": dim}


def make_world(root: Path):
    world = build_world(root)
    seed_roster(world.operational_url, world)
    publish_snapshot(world.published_dir, world.a, frames=_marts(world.a.tenant_id, "USD", A_ARTISTS,
                                                                 {"art-a1": A1_MONTHS}))
    publish_snapshot(world.published_dir, world.b, frames=_marts(
        world.b.tenant_id, "EUR", B_ARTISTS, {"art-b1": [(dt.date(2025, 1, 1), 31, str(CANARY_REVENUE), 70.0)]}))
    return world


def seed_roster(url: str, world) -> None:
    """A's and B's artists and a few completed bookings in the operational DB at ``url`` (as its owner)."""
    from operational.db import make_engine
    from operational.models import Artist, Booking

    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        for tenant, artists in ((world.a, A_ARTISTS), (world.b, B_ARTISTS)):
            for aid, name, stage, genres, skills, rating, verification in artists:
                session.add(Artist(id=aid, org_id=tenant.tenant_id, name=name, stage_name=stage, genres=genres,
                                   skills=skills, rating=None if rating is None else Decimal(rating),
                                   verification_status=verification))
        session.flush()
        for i, (tenant, aid, title, price, currency) in enumerate([
                (world.a, "art-a1", "Lumen session one", BOOKING_PRICE, "USD"),
                (world.a, "art-a1", "Lumen session two", BOOKING_PRICE, "USD"),
                (world.b, "art-b1", CANARY_BOOKING, CANARY_REVENUE, "EUR")]):
            start = dt.datetime(2025, 2, 3 + i, 10, tzinfo=dt.timezone.utc)
            session.add(Booking(org_id=tenant.tenant_id, artist_id=aid, title=title, type="RECORDING_SESSION",
                                status="COMPLETED", start_date=start, end_date=start + dt.timedelta(hours=2),
                                duration_minutes=120, timezone="UTC", final_price=price, currency=currency,
                                location="Studio 1"))
    engine.dispose()


def _point_at(world, monkeypatch):
    for key, value in world.env().items():
        monkeypatch.setenv(key, value)
    for key in ("AUDITORYX_AS_OF", "AUDITORYX_APP_DATABASE_URL", "AUDITORYX_FRESHNESS_HOURS"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AUDITORYX_REFRESH_ON_WRITE", "off")
    return world


@pytest.fixture(scope="module")
def roster_world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("roster-world"))


@pytest.fixture
def env(roster_world, monkeypatch):
    return _point_at(roster_world, monkeypatch)


@pytest.fixture
def own_env(tmp_path, monkeypatch):
    """A world of the test's own (for the test that writes)."""
    return _point_at(make_world(tmp_path / "world"), monkeypatch)


def open_roster(email: str, query_params: dict | None = None) -> AppTest:
    """Log in, then open the roster with ``query_params`` as its URL query (set after the login's
    landing page, which keeps only its own query keys)."""
    at = _login(email, PASSWORD)
    assert not at.error, [e.value for e in at.error]
    at.query_params.clear()
    at.query_params.update(query_params or {})
    at.switch_page(ROSTER).run()
    assert not at.exception, at.exception
    return at


def roster_table(at: AppTest):
    return next(df.value for df in at.dataframe if "Verification" in df.value.columns)


def query_value(at: AppTest, key: str):
    value = at.query_params.get(key)
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def b_markers(world) -> list[str]:
    return [CANARY_ARTIST, CANARY_GENRE, CANARY_SKILL, CANARY_BOOKING, "77777.77", "77,777.77", "art-b1",
            world.b.name, world.b.tenant_id, world.b.email]


def assert_no_b(at: AppTest, world) -> None:
    text = rendered_text(at)
    leaked = [marker for marker in b_markers(world) if marker in text]
    assert not leaked, f"tenant B content rendered: {leaked}"


def current_mart(world, tenant, mart: str) -> pl.DataFrame:
    tenant_dir = world.published_dir / tenant.tenant_id
    version = (tenant_dir / "CURRENT").read_text().strip()
    return pl.read_parquet(tenant_dir / version / f"{mart}.parquet")


# ----------------------------------------------------------------------------------- filters


def test_filters_come_from_the_url_and_the_url_follows_the_filters(env):
    at = open_roster(env.a.email, {"genre": "jazz", "min_rating": "4.5"})
    assert at.multiselect(key="roster_f_genre").value == ["Jazz"]  # spelled as the roster spells it
    assert at.number_input(key="roster_f_rating").value == 4.5
    assert list(roster_table(at)["Artist"]) == ["Lumen Vale"]
    assert "1 of 3 artists match the filters." in [c.value for c in at.caption]

    at.number_input(key="roster_f_rating").set_value(0.0).run()
    assert list(roster_table(at)["Artist"]) == ["Lumen Vale", "Marisol Keys"]
    assert "min_rating" not in at.query_params and query_value(at, "genre") == "Jazz"
    at.text_input(key="roster_f_q").input("KEYS").run()
    assert list(roster_table(at)["Artist"]) == ["Marisol Keys"] and query_value(at, "q") == "KEYS"

    at = open_roster(env.a.email, {"verification": "PENDING", "q": "harbor"})
    table = roster_table(at)
    assert list(table["Artist"]) == ["The Quiet Harbor"] and list(table["Name"]) == ["Tom Berg"]
    assert list(table["Verification"]) == ["Pending"]
    at.multiselect(key="roster_f_verification").set_value([]).run()
    at.text_input(key="roster_f_q").input("").run()
    at.multiselect(key="roster_f_skill").set_value(["piano", "guitar"]).run()
    assert list(roster_table(at)["Artist"]) == ["Marisol Keys", "The Quiet Harbor"]
    assert at.query_params.get("skill") in (["piano", "guitar"], ["guitar", "piano"])
    assert not any(key in at.query_params for key in ("genre", "verification", "min_rating", "q"))
    assert_no_b(at, env)


def test_choosing_an_artist_opens_the_view_and_back_returns(env):
    at = open_roster(env.a.email)
    assert len(roster_table(at)) == 3 and "3 of 3 artists." in [c.value for c in at.caption]
    assert not any(key in at.query_params for key in ("genre", "skill", "verification", "min_rating", "q"))
    at.selectbox(key="roster_open").select("art-a2").run()
    assert not at.exception and query_value(at, "artist") == "art-a2"
    assert [h.value for h in at.header] == ["Marisol Keys"]
    metrics = {m.label: m.value for m in at.metric}  # in dim_artists, without completed work: zeros
    assert (metrics["Completed bookings"], metrics["Last service"]) == ("0", "—")
    assert metrics["Recognized revenue"] == money_card(Decimal("0"), "USD")[0]
    assert any(i.value == "No bookings for this artist yet." for i in at.info)
    next(b for b in at.button if b.key == "roster_back").click().run()
    assert "artist" not in at.query_params and len(roster_table(at)) == 3


# ------------------------------------------------------------------------------- artist view


def test_artist_view_shows_the_marts_values_and_the_bookings(env):
    at = open_roster(env.a.email, {"artist": "art-a1"})
    assert [h.value for h in at.header] == ["Lumen Vale"]
    assert "**Name:** Lena Holm · **Verification:** Verified · **Rating:** 4.80 · **Active**" in [
        m.value for m in at.markdown]
    dim = current_mart(env, env.a, "dim_artists").filter(pl.col("artist_id") == "art-a1").row(0, named=True)
    metrics = {m.label: m.value for m in at.metric}
    compact, full = money_card(dim["recognized_revenue"], "USD")
    assert next(m.help for m in at.metric if m.label == "Recognized revenue").startswith(f"{full}: lifetime")
    assert metrics == {
        "Completed bookings": f"{dim['completed_bookings']:,}",
        "Recognized revenue": compact,
        "Hours delivered": f"{dim['hours_delivered']:,.1f}",
        "Last service": dim["last_service_date"].isoformat(),
    }
    assert (metrics["Completed bookings"], metrics["Hours delivered"]) == ("17", "42.5")  # 3 + 6 + 8 months

    monthly = current_mart(env, env.a, "fct_artist_performance_monthly").filter(pl.col("artist_id") == "art-a1")
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    bars, line = spec["data"]
    assert (bars["name"], line["name"]) == ("Completed bookings", "Recognized revenue")
    assert len(bars["x"]) == 11 and sum(bars["y"]) == monthly["completed_bookings"].sum()  # May 2024 – Mar 2025
    drawn = {x[:7]: (b, r) for x, b, r in zip(bars["x"], bars["y"], line["y"]) if b}
    assert drawn == {f"{row['month']:%Y-%m}": (row["completed_bookings"], float(row["recognized_revenue"]))
                     for row in monthly.iter_rows(named=True)}
    assert "USD" in spec["layout"]["title"]["text"]
    version = (env.published_dir / env.a.tenant_id / "CURRENT").read_text().strip()
    details = next(e for e in at.expander if e.label == "Snapshot details")
    assert any(version in m.value for m in details.markdown)  # the version in the details, not the headline
    assert version not in "\n".join([h.value for h in at.header] + [c.value for c in at.caption])
    assert any(c.value.startswith("As of 2025-03-15 · refreshed 2025-03-15 06:30 UTC") for c in at.caption)
    assert any(w.value.startswith("Stale data: the last refresh was ") for w in at.warning)

    bookings = next(df.value for df in at.dataframe if "Title" in df.value.columns)
    assert list(bookings["Title"]) == ["Lumen session two", "Lumen session one"]  # latest first
    assert list(bookings["Start"]) == ["2025-02-04 10:00 UTC", "2025-02-03 10:00 UTC"]
    assert set(bookings["Amount"]) == {format_money(BOOKING_PRICE, "USD")} and set(bookings["Status"]) == {"Completed"}
    assert_no_b(at, env)


@pytest.mark.parametrize("role", [r.value for r in UserRole])
def test_each_role_sees_what_it_may(env, role):
    from dashboards.navigation import pages_for
    from operational.permissions import Actor

    if "roster" not in [p.url_path for p in pages_for(Actor.of(user_id="u", tenant_id=env.a.tenant_id, role=role))]:
        assert role in ("ACCOUNTANT", "CLIENT", "CREATOR")  # no roster page in their menu (nor a route to it)
        return
    at = open_roster(role_email(env.a, role), {"artist": "art-a1"})
    assert not at.error, [e.value for e in at.error]
    text = rendered_text(at)
    metrics = {m.label: m.value for m in at.metric}
    money = [format_money(Decimal("48250.75"), "USD"), money_card(Decimal("48250.75"), "USD")[0], "48250.75",
             "48,250.75", "25250.5", "1,500.00"]
    if role in EARNINGS_ROLES:
        assert "Recognized revenue" in metrics and all(m in text for m in money[:1])
    else:
        assert "Recognized revenue" not in metrics
        assert not [m for m in money if m in text], role
        assert "Recognized revenue" not in text and "Amount" not in text
    if role in PERFORMANCE_ROLES:
        assert metrics["Completed bookings"] == "17" and len(at.get("plotly_chart")) == 1
    else:
        assert not metrics and not at.get("plotly_chart")
    has_bookings = any("Title" in df.value.columns for df in at.dataframe)
    assert has_bookings == (role in BOOKINGS_ROLES), role

    next(b for b in at.button if b.key == "roster_back").click().run()  # to the list: the bulk action
    assert not at.exception and len(roster_table(at)) == 3
    table = roster_table(at)  # completed bookings from the snapshot's dim_artists, for the same roles
    if role in PERFORMANCE_ROLES:
        assert dict(zip(table["Artist"], table["Completed bookings"])) == {
            "Lumen Vale": 17, "Marisol Keys": 0, "The Quiet Harbor": 0}
    else:
        assert "Completed bookings" not in table.columns
    assert ("Update verification" in [e.label for e in at.expander]) == (role in VERIFY_ROLES), role
    assert_no_b(at, env)


# ------------------------------------------------------------------------------ verification


def test_bulk_verification_writes_one_audit_row_per_artist_changed(own_env):
    from sqlalchemy import select

    from operational import audit
    from operational.db import make_engine
    from operational.models import Artist

    at = open_roster(own_env.a.email, {"verification": "PENDING"})
    assert list(roster_table(at)["Artist"]) == ["Marisol Keys", "The Quiet Harbor"]
    assert at.multiselect(key="verify_artists").options == ["Marisol Keys", "The Quiet Harbor"]  # what is shown
    at.multiselect(key="verify_artists").set_value(["art-a2", "art-a3"])
    at.selectbox(key="verify_status").set_value("VERIFIED")
    next(b for b in at.button if b.label == "Update verification").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert [s.value for s in at.success] == ["Verified: 2 artist(s) updated."]
    assert any(i.value == "No artist matches these filters." for i in at.info)  # no PENDING artist left

    engine = make_engine(own_env.operational_url)
    with Session(engine) as session:
        statuses = dict(session.execute(select(Artist.id, Artist.verification_status)).all())
        entries = audit.entries(session, own_env.a.tenant_id, entity="artists")
    engine.dispose()
    assert {k: str(v) for k, v in statuses.items()} == {"art-a1": "VERIFIED", "art-a2": "VERIFIED",
                                                        "art-a3": "VERIFIED", "art-b1": "VERIFIED"}
    assert sorted((e.entity_id, e.before["verification_status"], e.after["verification_status"]) for e in entries) == [
        ("art-a2", "PENDING", "VERIFIED"), ("art-a3", "PENDING", "VERIFIED")]


def test_a_version_published_mid_session_is_shown_on_the_next_rerun(own_env):
    at = open_roster(own_env.a.email, {"artist": "art-a1"})
    assert {m.label: m.value for m in at.metric}["Completed bookings"] == "17"
    months = A1_MONTHS + [(dt.date(2025, 4, 1), 5, "1000.00", 4.0)]
    version = publish_snapshot(own_env.published_dir, own_env.a, frames=_marts(own_env.a.tenant_id, "USD", A_ARTISTS,
                                                                               {"art-a1": months}))
    at.run()
    assert not at.exception and not at.error
    assert {m.label: m.value for m in at.metric}["Completed bookings"] == "22"
    assert any(version in m.value for e in at.expander if e.label == "Snapshot details" for m in e.markdown)
    assert sum(json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]["y"]) == 22


# ---------------------------------------------------------------------------------- isolation


def test_tenant_b_canary_never_reaches_a(env):
    at_b = open_roster(env.b.email, {"artist": "art-b1"})  # B views its canary first, in this process
    assert [h.value for h in at_b.header] == [CANARY_ARTIST.replace(" ", " ")]
    assert {m.label: m.value for m in at_b.metric}["Recognized revenue"] == money_card(CANARY_REVENUE, "EUR")[0]

    at = open_roster(env.a.email, {"artist": "art-b1"})
    for artist_id in ("art-b1", "no-such-artist"):  # forged, then unknown: the same words for both
        at.query_params["artist"] = artist_id
        at.run()
        assert [w.value for w in at.warning] == [NOT_FOUND] and query_value(at, "artist") == artist_id
        assert not at.header and not at.metric and not at.get("plotly_chart")
        assert_no_b(at, env)

    at = open_roster(env.a.email, {"genre": CANARY_GENRE, "skill": CANARY_SKILL})
    assert CANARY_GENRE not in at.multiselect(key="roster_f_genre").options
    assert CANARY_SKILL not in at.multiselect(key="roster_f_skill").options
    assert at.multiselect(key="roster_f_genre").value == [] and "genre" not in at.query_params
    assert len(roster_table(at)) == 3
    assert_no_b(at, env)
