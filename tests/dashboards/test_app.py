"""The Streamlit app through AppTest: login, tenant isolation, logout, friendly empty states."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from streamlit.testing.v1 import AppTest

from apptest_support import APP, new_app, rendered_text
from apptest_support import login as _login
from dashboards.formatting import format_money, format_money_compact
from label_data import expected_period, legal_name, published_mart
from operational.enums import UserRole
from tenant_data import AS_OF, CANARY_ARTIST, PASSWORD, World, role_email

LAST_30 = (dt.date(2025, 2, 14), AS_OF)
PRIOR_30 = (dt.date(2025, 1, 15), dt.date(2025, 2, 13))


def login(email: str, password: str = PASSWORD, query_params: dict | None = None):
    return _login(email, password, query_params)


def tenant_b_markers(world: World) -> list[str]:
    b = world.b
    daily = published_mart(world.published_dir, b.tenant_id, "fct_bookings_daily")
    canary_revenue = expected_period(daily, *LAST_30, artists=("art-b1",))["recognized_revenue"]
    assert canary_revenue > 0
    return [CANARY_ARTIST, legal_name(CANARY_ARTIST), "art-b1", b.name, b.tenant_id, b.email, b.user_name,
            format_money(canary_revenue, "EUR"), str(canary_revenue), "98,765.43", "98765.43", "77777.77", "77,777.77"]


def expected(world: World, tenant, start=LAST_30[0], end=LAST_30[1], types=(), artists=()) -> dict:
    daily = published_mart(world.published_dir, tenant.tenant_id, "fct_bookings_daily")
    return expected_period(daily, start, end, types, artists)


def assert_no_tenant_b(at: AppTest, world: World) -> None:
    text = rendered_text(at)
    leaked = [marker for marker in tenant_b_markers(world) if marker in text]
    assert not leaked, f"tenant B content rendered: {leaked}"


def test_anonymous_session_only_sees_login(world_env):
    at = new_app().run()
    assert not at.exception
    assert [t.value for t in at.title] == ["AuditoryX Analytics"]
    assert at.text_input(key="login_email") and at.text_input(key="login_password")
    assert not at.metric and not at.dataframe
    text = rendered_text(at)
    assert world_env.a.name not in text and CANARY_ARTIST not in text


@pytest.mark.parametrize("kind", ["wrong password", "unknown email", "empty"])
def test_login_failure_shows_a_generic_error(world_env, kind):
    email, password = {
        "wrong password": (world_env.a.email, "not-the-password"),
        "unknown email": ("nobody@nowhere.example", PASSWORD),
        "empty": ("", ""),
    }[kind]
    at = login(email, password)
    assert [e.value for e in at.error] == ["Invalid email or password."]
    assert not at.metric and not at.dataframe
    assert "auditoryx_user" not in at.session_state
    assert world_env.a.name not in rendered_text(at)


ALL_CARDS = ["Recognized revenue", "Bookings", "Cancellation rate", "Active artists", "Receivables due",
             "Active projects", "Overdue milestones"]


def test_tenant_a_sees_its_own_dashboard(world_env):
    a = world_env.a
    at = login(a.email)
    assert at.title[0].value == a.name
    assert at.caption[0].value == "As of 2025-03-15 · refreshed 2025-03-15 06:30 UTC"  # no version in the headline
    metrics = {m.label: m for m in at.metric}
    assert list(metrics) == ALL_CARDS
    now, prior = expected(world_env, a), expected(world_env, a, *PRIOR_30)
    revenue = metrics["Recognized revenue"]
    assert revenue.value == format_money_compact(now["recognized_revenue"], "USD") and revenue.value.endswith("K")
    assert format_money(now["recognized_revenue"], "USD") in revenue.proto.help  # the full value on hover
    assert format_money(prior["recognized_revenue"], "USD") in revenue.proto.help
    change = (now["recognized_revenue"] - prior["recognized_revenue"]) / prior["recognized_revenue"] * 100
    assert revenue.delta == f"{change.quantize(Decimal('0.1')):+.1f}% vs prior"
    assert metrics["Bookings"].value == str(now["bookings"])
    rate = Decimal(now["cancelled_bookings"]) / now["bookings"] * 100
    assert metrics["Cancellation rate"].value == f"{rate.quantize(Decimal('0.1'))}%"
    assert metrics["Active artists"].value == str(now["active_artists"]) == "3"
    receivables = metrics["Receivables due"]
    assert format_money(now["outstanding_receivables"], "USD") in receivables.proto.help
    assert receivables.value == format_money_compact(now["outstanding_receivables"], "USD")
    assert metrics["Active projects"].value == "1" and metrics["Overdue milestones"].value == "0"
    captions = [c.value for c in at.caption]
    assert any(c.endswith("vs last year") for c in captions)  # the second delta of each card
    assert any(c.startswith("Period 2025-02-14 – 2025-03-15 · compared with the prior period 2025-01-15 – "
                            "2025-02-13 and the same period last year 2024-02-14 – 2024-03-15") for c in captions)
    assert at.expander[-1].label == "Snapshot details"
    assert any("Version: `v" in m.value for m in at.expander[-1].markdown)
    top = at.dataframe[-1].value
    assert list(top.columns) == ["rank", "artist", "revenue", "completed_bookings", "link"]
    assert top.iloc[0]["artist"] == "Lumen Vale" and int(top.iloc[0]["rank"]) == 1  # stage name
    assert top.iloc[0]["link"] == "roster?artist=art-a1"
    lumen = expected(world_env, a, artists=("art-a1",))["recognized_revenue"]
    assert top.iloc[0]["revenue"] == format_money(lumen, "USD")  # the currency symbol in the cell
    text = rendered_text(at)
    assert legal_name("Lumen Vale") not in text  # stage names, never legal names
    assert len(at.get("plotly_chart")) == 8
    assert a.name in text and a.email in text


def test_filters_come_from_the_url_and_agree_with_the_mart(world_env):
    a = world_env.a
    query = {"period": "year_to_date", "type": "MIXING", "artist": "art-a2,art-a3"}
    at = login(a.email, query_params=query)
    assert not at.exception
    assert at.selectbox(key="lf_period").value == "year_to_date"
    assert at.multiselect(key="lf_types").value == ["MIXING"]
    assert at.multiselect(key="lf_artists").value == ["art-a2", "art-a3"]
    now = expected(world_env, a, dt.date(2025, 1, 1), AS_OF, ("MIXING",), ("art-a2", "art-a3"))
    last_year = expected(world_env, a, dt.date(2024, 1, 1), dt.date(2024, 3, 15), ("MIXING",), ("art-a2", "art-a3"))
    metrics = {m.label: m for m in at.metric}
    assert format_money(now["recognized_revenue"], "USD") in metrics["Recognized revenue"].proto.help
    assert format_money(last_year["recognized_revenue"], "USD") in metrics["Recognized revenue"].proto.help
    assert metrics["Bookings"].value == str(now["bookings"])
    assert metrics["Active artists"].value == "2"
    top = at.dataframe[-1].value
    assert top["artist"].tolist() == ["Marisol Keys", "The Quiet Harbor"]
    assert dict(at.query_params) == {k: [v] for k, v in query.items()} or {
        k: at.query_params[k] for k in query} == query


@pytest.mark.parametrize("query", [
    {"period": "forever"},
    {"period": "custom", "from": "2025-03-10", "to": "2025-01-01"},
    {"period": "custom", "from": "not-a-date"},
    {"type": "NOT_A_TYPE", "artist": "art-b1"},  # B's canary artist id: not an option for A
])
def test_invalid_url_filters_fall_back_to_the_defaults(world_env, query):
    at = login(world_env.a.email, query_params=query)
    assert not at.exception
    assert at.selectbox(key="lf_period").value == "last_30_days"
    assert at.multiselect(key="lf_types").value == [] and at.multiselect(key="lf_artists").value == []
    revenue = next(m for m in at.metric if m.label == "Recognized revenue")
    assert format_money(expected(world_env, world_env.a)["recognized_revenue"], "USD") in revenue.proto.help
    assert not any(key in at.query_params for key in ("period", "from", "to", "type", "artist"))  # URL cleaned


def test_changing_a_filter_writes_the_url(world_env):
    a = world_env.a
    at = login(a.email)
    at.selectbox(key="lf_period").select("last_month").run()
    assert not at.exception
    assert at.query_params["period"] == ["last_month"] or at.query_params["period"] == "last_month"
    now = expected(world_env, a, dt.date(2025, 2, 1), dt.date(2025, 2, 28))
    assert next(m for m in at.metric if m.label == "Bookings").value == str(now["bookings"])
    at.multiselect(key="lf_types").select("RECORDING_SESSION").run()
    assert "RECORDING_SESSION" in str(at.query_params["type"])
    now = expected(world_env, a, dt.date(2025, 2, 1), dt.date(2025, 2, 28), ("RECORDING_SESSION",))
    assert next(m for m in at.metric if m.label == "Bookings").value == str(now["bookings"])
    at.selectbox(key="lf_period").select("custom").run()
    at.date_input(key="lf_range").set_value((dt.date(2024, 7, 1), dt.date(2024, 9, 30))).run()
    assert not at.exception
    assert "2024-07-01" in str(at.query_params["from"]) and "2024-09-30" in str(at.query_params["to"])
    now = expected(world_env, a, dt.date(2024, 7, 1), dt.date(2024, 9, 30), ("RECORDING_SESSION",))
    revenue = next(m for m in at.metric if m.label == "Recognized revenue")
    assert format_money(now["recognized_revenue"], "USD") in revenue.proto.help


def test_stale_banner_only_when_the_snapshot_is_older_than_the_threshold(world_env, monkeypatch):
    at = login(world_env.a.email)  # refreshed 2025-03-15: long ago
    assert any(w.value.startswith("Stale data: the last refresh was") for w in at.warning)
    hours = (dt.datetime.now(dt.timezone.utc) - dt.datetime(2025, 3, 15, 6, 30, tzinfo=dt.timezone.utc)
             ).total_seconds() / 3600
    monkeypatch.setenv("AUDITORYX_FRESHNESS_HOURS", str(int(hours) + 48))
    at = login(world_env.a.email)
    assert not any(w.value.startswith("Stale data") for w in at.warning)


def test_locale_and_time_zone_of_the_organization(admin_world):
    """Money in the tenant's locale (de_DE), refresh time in its time zone."""
    from sqlalchemy import update
    from sqlalchemy.orm import Session

    from operational.db import make_engine
    from operational.models import Organization

    a = admin_world.a
    engine = make_engine(admin_world.operational_url)
    with Session(engine) as session, session.begin():
        session.execute(update(Organization).where(Organization.id == a.tenant_id).values(
            settings={"base_currency": "USD", "timezone": "Europe/Paris", "locale": "de_DE"}))
    engine.dispose()
    at = login(a.email)
    assert at.caption[0].value == "As of 2025-03-15 · refreshed 2025-03-15 07:30 CET (Europe/Paris)"
    revenue = next(m for m in at.metric if m.label == "Recognized revenue")
    amount = expected(admin_world, a)["recognized_revenue"]
    assert revenue.value == format_money_compact(amount, "USD", "de_DE") == format_money(amount, "USD", "de_DE")
    assert revenue.value.endswith("\xa0$") and revenue.value[-5] == ","  # German: 6.008,76 $
    assert format_money(amount, "USD", "de_DE") in revenue.proto.help


def test_tenant_b_canary_never_rendered_for_tenant_a(world_env):
    at = login(world_env.a.email)
    text = rendered_text(at)
    assert "Lumen Vale" in text and "Marisol Keys" in text  # the walk does see table cells, options and metrics
    assert_no_tenant_b(at, world_env)
    at.run()  # and not after a rerun either
    assert_no_tenant_b(at, world_env)


@pytest.mark.parametrize("query", [{}, {"period": "last_12_months"}, {"period": "custom", "from": "2024-01-01",
                                                                        "to": "2025-03-15"}])
def test_tenant_a_after_tenant_b_was_viewed_in_the_same_process(world_env, query):
    """Caches are keyed by tenant and version: B's page, then A's with the same filters, shows
    nothing of B (filter options, KPIs, charts, tables)."""
    b_view = login(world_env.b.email, query_params=query)
    assert CANARY_ARTIST in rendered_text(b_view)
    assert "art-b1" in b_view.multiselect(key="lf_artists").options or CANARY_ARTIST in str(
        b_view.multiselect(key="lf_artists").proto)
    at = login(world_env.a.email, query_params={**query, "artist": "art-b1"})
    assert not at.exception
    assert_no_tenant_b(at, world_env)
    assert CANARY_ARTIST not in str(at.multiselect(key="lf_artists").proto)
    assert at.multiselect(key="lf_artists").value == []


def test_walker_finds_the_canary_when_tenant_b_is_logged_in(world_env):
    """Positive control: the same walk reports the canary for B, so its absence for A means something."""
    at = login(world_env.b.email)
    text = rendered_text(at)
    assert CANARY_ARTIST in text
    canary = expected(world_env, world_env.b, artists=("art-b1",))["recognized_revenue"]
    assert format_money(canary, "EUR") in text  # in the top performers' table
    assert next(m for m in at.metric if m.label == "Recognized revenue").value.startswith("€")


def test_query_params_cannot_switch_tenant(world_env):
    a, b = world_env.a, world_env.b
    params = {"tenant": b.tenant_id, "tenant_id": b.tenant_id, "org_id": b.tenant_id, "tenant_slug": b.slug}
    at = login(a.email, query_params=params)
    assert at.title[0].value == a.name
    assert at.metric[0].value == format_money_compact(expected(world_env, a)["recognized_revenue"], "USD")
    assert_no_tenant_b(at, world_env)
    # set while logged in, then rerun: still A
    at.query_params.update(params)
    at.run()
    assert at.title[0].value == a.name
    assert_no_tenant_b(at, world_env)


def test_logout_returns_to_login_and_forgets_the_user(world_env):
    at = login(world_env.a.email)
    assert at.metric
    at.button(key="logout").click().run()
    assert not at.exception
    assert "auditoryx_user" not in at.session_state
    assert not at.metric and not at.dataframe
    assert at.text_input(key="login_email")
    assert world_env.a.name not in rendered_text(at)
    at.run()  # a rerun does not bring the dashboard back
    assert not at.metric


def test_tenant_without_snapshot_sees_friendly_message(world_env):
    at = login(world_env.unpublished.email)
    assert not at.exception
    assert at.title[0].value == world_env.unpublished.name
    assert any("No analytics have been published" in i.value for i in at.info)
    assert not at.metric and not at.dataframe


def test_tenant_without_bookings_sees_friendly_message(world_env):
    at = login(world_env.empty.email)
    assert not at.exception
    assert any("No bookings yet" in i.value for i in at.info)
    assert at.caption[0].value.startswith("As of 2025-03-15")
    assert not at.metric and not at.dataframe
    assert at.expander[-1].label == "Snapshot details"


def test_page_file_run_without_the_router_refuses(world_env):
    """A page file run on its own (without app.py's router) shows nothing but a login prompt."""
    at = AppTest.from_file(str(APP.parent / "views" / "01_label_dashboard.py"), default_timeout=30).run()
    assert not at.exception
    assert [w.value for w in at.warning] == ["Please log in."]
    assert not at.metric and not at.dataframe and not at.title


def test_logged_in_page_is_reachable_by_switch_page(world_env):
    at = login(world_env.a.email)
    at.switch_page("views/01_label_dashboard.py").run()
    assert not at.exception
    assert at.title[0].value == world_env.a.name


NO_MONEY = ["Bookings", "Cancellation rate", "Active artists"]
PROJECT_CARDS = ["Active projects", "Overdue milestones"]
WITH_LINK = ["rank", "artist", "revenue", "completed_bookings", "link"]
ROLE_VIEWS = {
    # role: (metric labels, top-performer columns or None, plotly charts, recent activity shown)
    "SUPER_ADMIN": (ALL_CARDS, WITH_LINK, 8, True),
    "ORG_ADMIN": (ALL_CARDS, WITH_LINK, 8, True),
    "LABEL_MANAGER": (ALL_CARDS, WITH_LINK, 8, False),
    "ACCOUNTANT": (ALL_CARDS, ["rank", "artist", "revenue", "completed_bookings"], 8, False),  # no roster: no link
    "ARTIST_MANAGER": (NO_MONEY + PROJECT_CARDS, WITH_LINK, 4, False),
    "VIEWER": (["Recognized revenue", *NO_MONEY, *PROJECT_CARDS], ["rank", "artist", "completed_bookings", "link"],
               7, False),
    "STUDIO_MANAGER": (NO_MONEY + PROJECT_CARDS, None, 3, False),
}


@pytest.mark.parametrize("role", [r.value for r in UserRole])
def test_every_role_of_tenant_a_sees_what_its_role_allows_and_only_tenant_a(world_env, role):
    a = world_env.a
    at = login(role_email(a, role))
    assert not at.exception
    assert_no_tenant_b(at, world_env)
    text = rendered_text(at)
    now = expected(world_env, a)
    revenue_text = format_money(now["recognized_revenue"], "USD")
    lumen = format_money(expected(world_env, a, artists=("art-a1",))["recognized_revenue"], "USD")
    if role not in ROLE_VIEWS:  # CREATOR, CLIENT: their own bookings, no analytics, no money
        assert at.title[0].value == "My bookings"
        assert not at.metric and revenue_text not in text and lumen not in text and "Lumen Vale" not in text
        return
    cards, performer_columns, charts, activity = ROLE_VIEWS[role]
    assert at.title[0].value == a.name
    assert [m.label for m in at.metric] == cards
    if "Recognized revenue" in cards:
        assert revenue_text in at.metric[0].proto.help
    else:
        assert revenue_text not in text
    if "Receivables due" not in cards:
        assert format_money(now["outstanding_receivables"], "USD") not in text and "Receivables aging" not in text
    if performer_columns is None:
        assert "Lumen Vale" not in text and not [d for d in at.dataframe if "artist" in d.value.columns]
        assert not [m for m in at.multiselect if m.key == "lf_artists"]  # no artist filter either
    else:
        assert list(at.dataframe[-1].value.columns) == performer_columns
    if "revenue" not in (performer_columns or []):
        assert lumen not in text  # no per-artist earnings anywhere
    assert len(at.get("plotly_chart")) == charts
    assert ("Recent activity" in [h.value for h in at.subheader]) is activity


def test_viewer_filtering_one_artist_sees_no_revenue(world_env):
    """VIEWER sees tenant revenue but not per-artist earnings: with an artist filter, no money."""
    a = world_env.a
    at = login(role_email(a, "VIEWER"), query_params={"artist": "art-a1"})
    assert at.multiselect(key="lf_artists").value == ["art-a1"]
    assert [m.label for m in at.metric] == [*NO_MONEY, *PROJECT_CARDS]
    lumen = expected(world_env, a, artists=("art-a1",))["recognized_revenue"]
    assert format_money(lumen, "USD") not in rendered_text(at)
    assert any("not available to your role" in i.value for i in at.info)


@pytest.mark.parametrize("role,pages", [
    ("ORG_ADMIN", ["dashboard", "bookings", "bulk-booking", "calendar", "roster", "projects", "reports",
                   "data-quality", "users", "organization"]),
    ("SUPER_ADMIN", ["dashboard", "bookings", "calendar", "roster", "projects", "reports", "data-quality", "users",
                     "organization", "platform"]),
    ("LABEL_MANAGER", ["dashboard", "bookings", "bulk-booking", "calendar", "roster", "projects", "reports",
                       "data-quality"]),
    ("ACCOUNTANT", ["dashboard", "bookings", "projects", "reports"]),
    ("VIEWER", ["dashboard", "roster", "projects"]),
    ("CREATOR", ["my-bookings", "calendar"]),
    ("CLIENT", ["my-bookings", "bookings", "calendar"]),
])
def test_navigation_lists_the_pages_a_role_may_open(role, pages):
    from dashboards.navigation import pages_for
    from operational.permissions import Actor

    actor = Actor.of(user_id="u", tenant_id="t", role=role)
    assert [page.url_path for page in pages_for(actor)] == pages


@pytest.mark.parametrize("page", ["views/02_users.py", "views/03_organization.py", "views/04_platform.py"])
def test_admin_pages_refuse_roles_without_the_permission_even_when_reached_directly(world_env, page):
    at = login(role_email(world_env.a, "VIEWER"))
    with pytest.raises(Exception):  # not in this user's navigation at all
        at.switch_page(page).run()


def test_yen_tenant_sees_no_decimals(admin_world):
    import dataclasses

    from tenant_data import publish_snapshot

    a = dataclasses.replace(admin_world.a, base_currency="JPY")
    publish_snapshot(admin_world.published_dir, a)
    at = login(a.email)
    assert not at.exception
    amount = expected(admin_world, a)["recognized_revenue"]
    revenue = next(m for m in at.metric if m.label == "Recognized revenue")
    assert revenue.value == format_money_compact(amount, "JPY") and revenue.value.startswith("¥")
    full = format_money(amount, "JPY")
    assert full in revenue.proto.help and "." not in full  # ¥6,009: whole yen
    cells = at.dataframe[-1].value["revenue"].tolist()
    assert cells and all(c.startswith("¥") and "." not in c for c in cells)


def test_every_kpi_has_its_delta_vs_the_prior_period_and_last_year(world_env):
    from dashboards import formatting as f

    a = world_env.a
    at = login(a.email, query_params={"period": "quarter_to_date", "type": "RECORDING_SESSION"})
    period = (dt.date(2025, 1, 1), AS_OF)
    now = expected(world_env, a, *period, types=("RECORDING_SESSION",))
    prior = expected(world_env, a, dt.date(2024, 10, 1), dt.date(2024, 12, 15), types=("RECORDING_SESSION",))
    year = expected(world_env, a, dt.date(2024, 1, 1), dt.date(2024, 3, 15), types=("RECORDING_SESSION",))

    def rate(values):
        return Decimal(values["cancelled_bookings"]) / values["bookings"]

    wanted = {  # label: (delta vs prior, delta vs last year), from the mart's rows
        "Recognized revenue": (f.format_delta_pct(f.change_fraction(now["recognized_revenue"], prior["recognized_revenue"]),
                                                  "vs prior"),
                               f.format_delta_pct(f.change_fraction(now["recognized_revenue"], year["recognized_revenue"]),
                                                  "vs last year")),
        "Bookings": (f.format_delta_pct(f.change_fraction(now["bookings"], prior["bookings"]), "vs prior"),
                     f.format_delta_pct(f.change_fraction(now["bookings"], year["bookings"]), "vs last year")),
        "Cancellation rate": (f.format_delta_points(rate(now), rate(prior), "vs prior"),
                              f.format_delta_points(rate(now), rate(year), "vs last year")),
        "Active artists": (f"{now['active_artists'] - prior['active_artists']:+d} vs prior".replace("+0 ", "0 "),
                           f"{now['active_artists'] - year['active_artists']:+d} vs last year".replace("+0 ", "0 ")),
        "Receivables due": (
            f.format_delta_pct(f.change_fraction(now["outstanding_receivables"], prior["outstanding_receivables"]),
                               "vs prior"),
            f.format_delta_pct(f.change_fraction(now["outstanding_receivables"], year["outstanding_receivables"]),
                               "vs last year") or "no value vs last year"),
    }
    assert now["recognized_revenue"] != prior["recognized_revenue"] != year["recognized_revenue"]  # real changes
    metrics = {m.label: m for m in at.metric}
    captions = [c.value for c in at.caption]
    for label, (vs_prior, vs_year) in wanted.items():
        assert metrics[label].delta == vs_prior, label
        assert vs_year in captions, (label, vs_year)
    order = [c for c in captions if c.endswith("vs last year") or c.startswith("as of")]
    assert order[:5] == [wanted[label][1] for label in list(wanted)]  # one per card, in card order


def test_receivables_over_90_days_are_called_out(world_env):
    import polars as pl

    a = world_env.a
    daily = published_mart(world_env.published_dir, a.tenant_id, "fct_bookings_daily")
    old = daily.filter((pl.col("outstanding_revenue") > 0) & ((pl.lit(AS_OF) - pl.col("day")).dt.total_days() > 90))
    amount = sum(old["outstanding_revenue"].to_list(), Decimal(0))
    assert amount > 0
    at = login(a.email)
    callout = [w.value for w in at.warning if w.value.startswith("Over 90 days:")]
    assert callout == [f"Over 90 days: \\{format_money(amount, 'USD')} outstanding on {old.height} completed bookings."]
    aging = next(c for c in at.get("plotly_chart") if "Receivables aging" in c.proto.spec)
    assert f"over 90 days: {format_money(amount, 'USD')}" in aging.proto.spec
