"""The Projects and Data-and-quality pages through AppTest, on a world of their own: project health
from the published mart (one project at risk for every reason, one on track), milestones from the
operational DB, the project in the URL query, refresh time in the organization's time zone, row
counts, the stale-data banner, every role, deep links, and tenant B's canary never shown to A."""
from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from apptest_support import new_app, rendered_text, submit_login
from dashboards.formatting import md_escape
from apptest_support import login as _login
from operational.enums import UserRole
from tenant_data import (
    CANARY_ARTIST,
    PASSWORD,
    build_world,
    project_health_frame,
    publish_snapshot,
    role_email,
    seed_projects,
)

PROJECTS = "views/11_projects.py"
DATA_QUALITY = "views/12_data_quality.py"
CANARY_PROJECT = f"{CANARY_ARTIST} world tour"
CANARY_MILESTONE = f"{CANARY_ARTIST} rehearsal"
CANARY_BUDGET = "77,777.77"
PROJECT_ROLES = {"SUPER_ADMIN", "ORG_ADMIN", "LABEL_MANAGER", "ARTIST_MANAGER", "STUDIO_MANAGER", "ACCOUNTANT",
                 "VIEWER"}
QUALITY_ROLES = {"SUPER_ADMIN", "ORG_ADMIN", "LABEL_MANAGER"}

# (id, name, status, budget, spent, deadline, milestones: (title, status, due))
A_PROJECTS = [
    ("prj-a-album", "Lumen Vale debut album", "IN_PROGRESS", "10000.00", "2500.00", dt.date(2025, 9, 30), [
        ("Demos", "COMPLETED", dt.date(2025, 2, 1)), ("Recording", "IN_PROGRESS", dt.date(2025, 4, 1)),
        ("Mixing", "PENDING", dt.date(2025, 5, 15)), ("Mastering", "PENDING", dt.date(2025, 6, 30))]),
    ("prj-a-film", "Harbor <b>tour</b> film", "IN_PROGRESS", "5000.00", "6200.50", dt.date(2025, 3, 1), [
        ("Shoot", "PENDING", dt.date(2025, 2, 10)), ("Edit", "IN_PROGRESS", dt.date(2025, 3, 1)),
        ("Premiere", "PENDING", None)]),
]
B_PROJECTS = [
    ("prj-b-tour", CANARY_PROJECT, "IN_PROGRESS", "77777.77", "100.00", dt.date(2025, 12, 1), [
        (CANARY_MILESTONE, "PENDING", dt.date(2025, 1, 5))]),
]


@pytest.fixture(scope="module")
def pq_world(tmp_path_factory):
    """build_world + projects and milestones for A and B (B's carry the canary) in the operational
    DB, snapshots republished with their health; A's organization works in Europe/Paris."""
    from sqlalchemy import update
    from sqlalchemy.orm import Session

    from operational.db import make_engine
    from operational.models import Organization

    world = build_world(tmp_path_factory.mktemp("projects-quality-world"))
    seed_projects(world.operational_url, world.a, A_PROJECTS)
    seed_projects(world.operational_url, world.b, B_PROJECTS)
    engine = make_engine(world.operational_url)
    with Session(engine) as session, session.begin():
        session.execute(update(Organization).where(Organization.id == world.a.tenant_id)
                        .values(settings={"base_currency": "USD", "timezone": "Europe/Paris"}))
    engine.dispose()
    publish_snapshot(world.published_dir, world.a, frames={"fct_project_health": project_health_frame(world.a, A_PROJECTS)})
    publish_snapshot(world.published_dir, world.b, frames={"fct_project_health": project_health_frame(world.b, B_PROJECTS)})
    return world


@pytest.fixture
def env(pq_world, monkeypatch):
    for key, value in pq_world.env().items():
        monkeypatch.setenv(key, value)
    for key in ("AUDITORYX_AS_OF", "AUDITORYX_APP_DATABASE_URL", "AUDITORYX_FRESHNESS_HOURS"):
        monkeypatch.delenv(key, raising=False)
    return pq_world


def login(email: str, query_params: dict | None = None) -> AppTest:
    return _login(email, PASSWORD, query_params)


def open_page(at: AppTest, page: str) -> AppTest:
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def b_markers(world) -> list[str]:
    b = world.b
    return [CANARY_ARTIST, CANARY_PROJECT, CANARY_MILESTONE, CANARY_BUDGET, "77777.77", "prj-b-tour", b.name,
            b.tenant_id, b.email, b.user_name]


def assert_no_b(at: AppTest, world) -> None:
    text = rendered_text(at)
    leaked = [marker for marker in b_markers(world) if marker in text]
    assert not leaked, f"tenant B content rendered: {leaked}"


def cell_text(cell: str) -> str:
    """A health-table cell as text: its Markdown lines ("  \\n" breaks) joined by newlines, the
    bold project name and the escapes removed."""
    lines = cell.split("  \n")
    if lines[0].startswith("**") and lines[0].endswith("**"):
        lines[0] = lines[0][2:-2]
    return "\n".join(re.sub(r"\\(.)", r"\1", line) for line in lines)


def health_table(at: AppTest, raw: bool = False):
    """The health table (st.table reads cells as Markdown: the page escapes them; as text here
    unless ``raw``)."""
    table = next(t.value for t in at.table if "At risk" in t.value.columns)
    return table if raw else table.map(lambda v: cell_text(v) if isinstance(v, str) else v)


def project_names(at: AppTest) -> list[str]:
    """The projects of the health table in its order (the first line of each Project cell)."""
    return [cell.split("\n")[0] for cell in health_table(at)["Project"]]


# ----------------------------------------------------------------------------------- projects


def test_projects_page_shows_health_from_the_mart_with_risk_reasons(env):
    at = open_page(login(env.a.email), PROJECTS)
    assert at.title[0].value == "Projects"
    assert {m.label: m.value for m in at.metric} == {"Projects": "2", "At risk": "1", "Overdue milestones": "2"}
    table = health_table(at)
    assert list(table.columns) == ["Project", "At risk", "Budget"]  # three columns: fits a 390 px phone
    assert project_names(at) == ["Harbor <b>tour</b> film", "Lumen Vale debut album"]  # at risk first
    film, album = table.iloc[0], table.iloc[1]
    assert film["Project"] == "Harbor <b>tour</b> film\nDue 2025-03-01 · In progress\nMilestones: 0 / 3 done, 2 overdue"
    assert film["Budget"] == "$5,000.00\n124% used"
    assert film["At risk"] == "Yes: over budget, past deadline, 2 overdue milestones"
    assert album["Project"] == "Lumen Vale debut album\nDue 2025-09-30 · In progress\nMilestones: 1 / 4 done"
    assert album["Budget"] == "$10,000.00\n25% used" and album["At risk"] == "No"
    assert health_table(at, raw=True).iloc[0]["Project"].startswith("**Harbor \\<b\\>tour\\</b\\> film**  \n")  # as text
    timeline = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = {trace["name"] for trace in timeline["data"]}
    assert names == {"Completed", "In progress", "Pending", "Overdue"}
    ys = {y for trace in timeline["data"] for y in trace["y"]}
    assert ys == {"Harbor &lt;b&gt;tour&lt;/b&gt; film", "Lumen Vale debut album"}  # user text is not markup
    assert "1 without a due date" in timeline["layout"]["title"]["subtitle"]["text"]
    assert "project" not in at.query_params
    assert_no_b(at, env)


def test_selecting_a_project_drills_down_and_puts_it_in_the_url(env):
    at = open_page(login(env.a.email), PROJECTS)
    at.selectbox(key="project_pick").select("prj-a-film").run()
    assert not at.exception
    assert at.query_params["project"] == ["prj-a-film"] or at.query_params["project"] == "prj-a-film"
    assert any(w.value.startswith("At risk: over budget, past deadline, 2 overdue milestones") for w in at.warning)
    details = {m.label: m.value for m in at.metric}
    assert details["Budget used"] == "124%" and details["Milestones done"] == "0 / 3"
    assert "Status **In progress** · budget **\\$5,000.00** · spent **\\$6,200.50** · deadline **2025-03-01**" in [
        m.value for m in at.markdown]
    milestones = next(df.value for df in at.dataframe if "Milestone" in df.value.columns)
    assert list(milestones["Milestone"]) == ["Shoot", "Edit", "Premiere"]
    assert list(milestones["Status"]) == ["Overdue", "Overdue", "Pending"]
    assert list(milestones["Due"]) == ["2025-02-10", "2025-03-01", "—"]
    assert len(at.get("plotly_chart")) == 2  # overview + this project's timeline
    assert "#### Harbor \\<b\\>tour\\</b\\> film" in [m.value for m in at.markdown]  # escaped heading
    assert_no_b(at, env)


def test_project_in_the_url_opens_its_details_and_a_foreign_id_does_not(env):
    at = login(env.a.email, query_params={"project": "prj-a-album"})
    open_page(at, PROJECTS)
    assert at.selectbox(key="project_pick").value == "prj-a-album"
    assert any(s.value.startswith("On track") for s in at.success)
    milestones = next(df.value for df in at.dataframe if "Milestone" in df.value.columns)
    assert list(milestones["Milestone"]) == ["Demos", "Recording", "Mixing", "Mastering"]

    at = login(env.a.email, query_params={"project": "prj-b-tour"})  # B's project id in A's session
    open_page(at, PROJECTS)
    assert at.selectbox(key="project_pick").value is None
    assert any("not one of your organization's projects" in w.value for w in at.warning)
    assert not any("Milestone" in df.value.columns for df in at.dataframe)
    assert_no_b(at, env)


def test_projects_page_formats_money_in_the_organizations_locale(tmp_path, monkeypatch):
    """A German organization working in euros (settings: locale de_DE) sees every amount of the
    page as the label dashboard shows it: the mart's value formatted by Babel in its locale."""
    import polars as pl
    from babel.numbers import format_currency
    from sqlalchemy import update
    from sqlalchemy.orm import Session

    from operational.db import make_engine
    from operational.models import Organization

    world = build_world(tmp_path / "world")
    for key, value in world.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AUDITORYX_AS_OF", raising=False)
    tenant = world.b  # base currency EUR
    seed_projects(world.operational_url, tenant, A_PROJECTS)
    engine = make_engine(world.operational_url)
    with Session(engine) as session, session.begin():
        session.execute(update(Organization).where(Organization.id == tenant.tenant_id)
                        .values(settings={"base_currency": "EUR", "locale": "de_DE"}))
    engine.dispose()
    version = publish_snapshot(world.published_dir, tenant,
                               frames={"fct_project_health": project_health_frame(tenant, A_PROJECTS)})
    mart = pl.read_parquet(world.published_dir / tenant.tenant_id / version / "fct_project_health.parquet")
    by_id = {row["project_id"]: row for row in mart.iter_rows(named=True)}

    def german(amount, currency) -> str:
        return format_currency(amount, currency, locale="de_DE", currency_digits=True)

    at = open_page(login(tenant.email), PROJECTS)
    budgets = dict(zip(project_names(at), (cell.split("\n")[0] for cell in health_table(at)["Budget"])))
    assert budgets == {row["name"]: german(row["budget"], row["base_currency"]) for row in by_id.values()}
    film = by_id["prj-a-film"]
    assert film["base_currency"] == "EUR"
    english = format_currency(film["budget"], "EUR", locale="en_US", currency_digits=True)
    assert budgets[film["name"]] != english and budgets[film["name"]].endswith("\xa0€")  # not "€5,000.00"
    assert english not in rendered_text(at)

    at.selectbox(key="project_pick").select("prj-a-film").run()
    assert not at.exception
    line = next(m.value for m in at.markdown if m.value.startswith("Status **"))
    assert f"budget **{md_escape(german(film['budget'], 'EUR'))}**" in line
    assert f"spent **{md_escape(german(film['spent'], 'EUR'))}**" in line
    budget_used = next(m for m in at.metric if m.label == "Budget used")
    assert german(film["spent"], "EUR") in budget_used.proto.help and german(film["budget"], "EUR") in budget_used.proto.help


# ---------------------------------------------------------------------------- data and quality


def test_data_quality_page_shows_refresh_in_the_tenant_zone_counts_and_stale_banner(env):
    at = open_page(login(env.a.email), DATA_QUALITY)
    assert at.title[0].value == "Data and quality"
    # REFRESHED_AT = 2025-03-15 06:30 UTC: 07:30 in Paris; that is long ago, so the data is stale
    assert "**Last refresh:** 2025-03-15 07:30 CET (Europe/Paris)" in [m.value for m in at.markdown]
    stale = [w.value for w in at.warning]
    assert len(stale) == 1 and stale[0].startswith("Stale data: the last refresh was ")
    assert "more than the 26 hours" in stale[0]
    assert {m.label: m.value for m in at.metric}["Data as of"] == "2025-03-15"
    counts = at.dataframe[0].value
    version = open(env.published_dir / env.a.tenant_id / "CURRENT").read().strip()
    import polars as pl

    from dashboards.formatting import source_label

    published = json.loads(pl.read_parquet(env.published_dir / env.a.tenant_id / version / "meta.parquet")
                           ["row_counts"][0])
    shown = dict(zip(counts["Source"], counts["Rows"]))
    assert shown == {source_label(table): rows for table, rows in published.items()}  # what the snapshot says
    assert shown["Fct revenue monthly"] == 30 and shown["Top performers"] == 3 and shown["Kpi summary"] == 1
    version = open(env.published_dir / env.a.tenant_id / "CURRENT").read().strip()
    headline = "\n".join([t.value for t in at.title] + [c.value for c in at.caption] + [w.value for w in at.warning]
                         + [m.value for m in at.metric])
    assert version not in headline  # the version id is in the details, not the headline
    assert at.expander[0].label == "Snapshot details"
    assert any(version in m.value for m in at.expander[0].markdown)
    assert any("does not record quarantined rows yet" in i.value for i in at.info)  # published before they existed
    assert_no_b(at, env)


def test_no_stale_banner_within_the_freshness_threshold(env, monkeypatch):
    monkeypatch.setenv("AUDITORYX_FRESHNESS_HOURS", str(24 * 365 * 100))
    at = open_page(login(env.a.email), DATA_QUALITY)
    assert not at.warning
    assert "**Last refresh:** 2025-03-15 07:30 CET (Europe/Paris)" in [m.value for m in at.markdown]


def test_tenant_b_sees_its_own_data_in_its_zone(env):
    """Positive control for the canary checks: B sees its canary project, in UTC (no zone set)."""
    at = open_page(login(env.b.email), PROJECTS)
    assert CANARY_PROJECT in rendered_text(at)
    assert health_table(at).iloc[0]["Budget"].split("\n")[0] == "€77,777.77"
    at = open_page(at, DATA_QUALITY)
    assert "**Last refresh:** 2025-03-15 06:30 UTC" in [m.value for m in at.markdown]


# ------------------------------------------------------------------------- roles and isolation


@pytest.mark.parametrize("role", [r.value for r in UserRole])
def test_every_role_gets_the_pages_its_permissions_allow(env, role):
    at = login(role_email(env.a, role))
    for page, allowed_roles in ((PROJECTS, PROJECT_ROLES), (DATA_QUALITY, QUALITY_ROLES)):
        if role not in allowed_roles:
            with pytest.raises(ValueError):  # not in this user's navigation at all
                at.switch_page(page)
            continue
        open_page(at, page)
        assert not at.error, [e.value for e in at.error]
        if page == PROJECTS:
            assert project_names(at) == ["Harbor <b>tour</b> film", "Lumen Vale debut album"]
            assert health_table(at).iloc[0]["Budget"].split("\n")[0] == "$5,000.00"
        else:
            assert "**Last refresh:** 2025-03-15 07:30 CET (Europe/Paris)" in [m.value for m in at.markdown]
            assert at.dataframe[0].value["Rows"].sum() > 0
        assert_no_b(at, env)
    from dashboards.navigation import pages_for
    from operational.permissions import Actor

    paths = [p.url_path for p in pages_for(Actor.of(user_id="u", tenant_id="t", role=role))]
    assert ("projects" in paths) is (role in PROJECT_ROLES)
    assert ("data-quality" in paths) is (role in QUALITY_ROLES)


def test_tenant_a_never_sees_b_even_after_b_viewed_both_pages_in_this_process(env):
    b = open_page(login(env.b.email), PROJECTS)
    b.selectbox(key="project_pick").select("prj-b-tour").run()
    assert CANARY_MILESTONE in rendered_text(b)  # B's pages (and caches) hold the canary now
    open_page(b, DATA_QUALITY)
    a = open_page(login(env.a.email, query_params={"project": "prj-b-tour"}), PROJECTS)
    assert_no_b(a, env)
    a.selectbox(key="project_pick").select("prj-a-film").run()
    assert_no_b(a, env)
    open_page(a, DATA_QUALITY)
    assert_no_b(a, env)
    a.run()
    assert_no_b(a, env)


# ---------------------------------------------------------------------------------- deep links


def _open_url_path(url_path: str) -> AppTest:
    """A fresh tab opened at ``/<url_path>`` (what the browser asks for: the page of that URL)."""
    from streamlit.util import calc_hash

    at = new_app()
    at._page_hash = calc_hash(url_path)
    return at.run()


@pytest.mark.parametrize("url_path,title", [("projects", "Projects"), ("data-quality", "Data and quality"),
                                            ("dashboard", None)])
def test_deep_link_shows_login_then_the_page(env, url_path, title):
    at = _open_url_path(url_path)
    assert not at.exception
    assert at.text_input(key="login_email")  # the login form, not "Page not found"
    assert not at.metric and not at.dataframe
    submit_login(at, env.a.email, PASSWORD)
    assert not at.exception
    assert at.title[0].value == (title or env.a.name)
    if url_path == "projects":
        assert project_names(at)[0] == "Harbor <b>tour</b> film"
    assert_no_b(at, env)


def test_deep_link_to_a_page_the_role_may_not_open_lands_on_its_first_page(env):
    at = _open_url_path("data-quality")
    submit_login(at, role_email(env.a, "VIEWER"), PASSWORD)
    assert not at.exception
    assert at.title[0].value == env.a.name  # the label dashboard, not data quality
    assert "Last refresh" not in rendered_text(at)


# ------------------------------------------------------------------- other snapshot situations


def test_a_newly_published_version_is_picked_up_mid_session(tmp_path, monkeypatch):
    world = build_world(tmp_path / "world")
    for key, value in world.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AUDITORYX_AS_OF", raising=False)
    seed_projects(world.operational_url, world.a, A_PROJECTS)
    first = A_PROJECTS[:1]
    publish_snapshot(world.published_dir, world.a, frames={"fct_project_health": project_health_frame(world.a, first)})
    at = open_page(login(world.a.email), PROJECTS)
    assert project_names(at) == ["Lumen Vale debut album"]
    version = publish_snapshot(world.published_dir, world.a,
                               frames={"fct_project_health": project_health_frame(world.a, A_PROJECTS)})
    at.run()
    assert not at.exception
    assert project_names(at) == ["Harbor <b>tour</b> film", "Lumen Vale debut album"]
    open_page(at, DATA_QUALITY)
    assert any(version in m.value for m in at.expander[0].markdown)


def test_damaged_unpublished_and_empty_snapshots_say_so(tmp_path, monkeypatch):
    world = build_world(tmp_path / "world")
    for key, value in world.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AUDITORYX_AS_OF", raising=False)
    (world.published_dir / world.a.tenant_id / "CURRENT").write_text("garbage-not-a-version\n")
    for page in (PROJECTS, DATA_QUALITY):
        at = open_page(login(world.a.email), page)
        assert [e.value for e in at.error] and "damaged" in at.error[0].value
        assert not at.table and not at.dataframe and not at.metric
    for page in (PROJECTS, DATA_QUALITY):
        at = open_page(login(world.unpublished.email), page)
        assert any("No " in i.value and "published" in i.value for i in at.info), page
        assert not at.error and not at.table and not at.dataframe
    at = open_page(login(world.empty.email), PROJECTS)  # its mart holds one project row (test world)
    assert not at.error
    at = open_page(at, DATA_QUALITY)
    assert at.dataframe and not at.error
    publish_snapshot(world.published_dir, world.empty,
                     frames={"fct_project_health": project_health_frame(world.empty, [])})
    at = open_page(at, PROJECTS)
    assert any(i.value.startswith("No projects yet") for i in at.info)
    assert not at.table and not at.get("plotly_chart")
