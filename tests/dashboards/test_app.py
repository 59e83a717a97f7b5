"""The Streamlit app through AppTest: login, tenant isolation, logout, friendly empty states."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from apptest_support import APP, new_app, rendered_text
from apptest_support import login as _login
from operational.enums import UserRole
from tenant_data import CANARY_ARTIST, PASSWORD, World, role_email


def login(email: str, password: str = PASSWORD, query_params: dict | None = None):
    return _login(email, password, query_params)


def tenant_b_markers(world: World) -> list[str]:
    b = world.b
    return [CANARY_ARTIST, b.name, b.tenant_id, b.email, b.user_name, "98,765.43", "98765.43", "77777.77", "77,777.77"]


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


def test_tenant_a_sees_its_own_dashboard(world_env):
    a = world_env.a
    at = login(a.email)
    assert at.title[0].value == a.name
    assert at.caption[0].value.startswith("As of 2025-03-15 · refreshed 2025-03-15 06:30 UTC · version v")
    metrics = {m.label: m for m in at.metric}
    assert list(metrics) == [
        "Recognized revenue (30d)", "Completed bookings (MTD)", "Active artists (30d)", "Outstanding revenue"
    ]
    revenue = metrics["Recognized revenue (30d)"]
    assert revenue.value == "$12,345.67"
    assert revenue.delta == "+23.5% vs prior 30d"
    assert "$10,000.00" in revenue.proto.help  # the previous window's amount
    assert metrics["Outstanding revenue"].value == "$2,222.22"
    assert metrics["Active artists (30d)"].value == "7"
    assert metrics["Completed bookings (MTD)"].value == "8"
    assert "March 2025" in metrics["Completed bookings (MTD)"].proto.help
    assert "started in the last 30 days (any status but draft): 23" in metrics["Completed bookings (MTD)"].proto.help
    assert any(
        c.value.startswith("30d = 2025-02-14 – 2025-03-15 (prior 30d = 2025-01-15 – 2025-02-13) · MTD = 2025-03-01")
        for c in at.caption
    )
    top = at.dataframe[0].value
    assert list(top.columns) == ["rank", "artist_name", "recognized_revenue", "completed_bookings"]
    assert top.iloc[0]["artist_name"] == "Lumen Vale" and int(top.iloc[0]["rank"]) == 1
    assert len(at.get("plotly_chart")) == 2
    sidebar = rendered_text(at)
    assert a.name in sidebar and a.email in sidebar


def test_tenant_b_canary_never_rendered_for_tenant_a(world_env):
    at = login(world_env.a.email)
    text = rendered_text(at)
    assert "Lumen Vale" in text and "12,345.67" in text  # the walk does see table cells and metrics
    assert_no_tenant_b(at, world_env)
    at.run()  # and not after a rerun either
    assert_no_tenant_b(at, world_env)


def test_walker_finds_the_canary_when_tenant_b_is_logged_in(world_env):
    """Positive control: the same walk reports the canary for B, so its absence for A means something."""
    at = login(world_env.b.email)
    text = rendered_text(at)
    assert CANARY_ARTIST in text
    assert "€98,765.43" in [m.value for m in at.metric]


def test_query_params_cannot_switch_tenant(world_env):
    a, b = world_env.a, world_env.b
    params = {"tenant": b.tenant_id, "tenant_id": b.tenant_id, "org_id": b.tenant_id, "tenant_slug": b.slug}
    at = login(a.email, query_params=params)
    assert at.title[0].value == a.name
    assert at.metric[0].value == "$12,345.67"
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


REVENUE_CARDS = ["Recognized revenue (30d)", "Completed bookings (MTD)", "Active artists (30d)", "Outstanding revenue"]
NO_MONEY_CARDS = ["Completed bookings (MTD)", "Active artists (30d)"]
ROLE_VIEWS = {
    # role: (metric labels, top-performer columns or None, revenue charts)
    "SUPER_ADMIN": (REVENUE_CARDS, ["rank", "artist_name", "recognized_revenue", "completed_bookings"], True),
    "ORG_ADMIN": (REVENUE_CARDS, ["rank", "artist_name", "recognized_revenue", "completed_bookings"], True),
    "LABEL_MANAGER": (REVENUE_CARDS, ["rank", "artist_name", "recognized_revenue", "completed_bookings"], True),
    "ACCOUNTANT": (REVENUE_CARDS, ["rank", "artist_name", "recognized_revenue", "completed_bookings"], True),
    "ARTIST_MANAGER": (NO_MONEY_CARDS, ["rank", "artist_name", "recognized_revenue", "completed_bookings"], False),
    "VIEWER": (["Recognized revenue (30d)", *NO_MONEY_CARDS], ["rank", "artist_name", "completed_bookings"], True),
    "STUDIO_MANAGER": (NO_MONEY_CARDS, None, False),
}


@pytest.mark.parametrize("role", [r.value for r in UserRole])
def test_every_role_of_tenant_a_sees_what_its_role_allows_and_only_tenant_a(world_env, role):
    at = login(role_email(world_env.a, role))
    assert not at.exception
    assert_no_tenant_b(at, world_env)
    text = rendered_text(at)
    if role not in ROLE_VIEWS:  # CREATOR, CLIENT: their own bookings, no analytics, no money
        assert at.title[0].value == "My bookings"
        assert not at.metric and "12,345.67" not in text and "48250.75" not in text and "Lumen Vale" not in text
        return
    cards, performer_columns, charts = ROLE_VIEWS[role]
    assert at.title[0].value == world_env.a.name
    assert [m.label for m in at.metric] == cards
    if "Recognized revenue (30d)" in cards:
        assert at.metric[0].value == "$12,345.67"
    else:
        assert "12,345.67" not in text and "2,222.22" not in text
    if performer_columns is None:
        assert not at.dataframe and "Lumen Vale" not in text
    else:
        assert list(at.dataframe[0].value.columns) == performer_columns
    if "recognized_revenue" not in (performer_columns or []):
        assert "48250.75" not in text and "48,250.75" not in text  # no per-artist earnings anywhere
    assert (len(at.get("plotly_chart")) == 2) is charts


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
