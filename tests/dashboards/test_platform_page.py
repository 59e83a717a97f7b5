"""The Platform page (SUPER_ADMIN only) through AppTest: tenants by plan and type, activity and
revenue per tenant in USD from the published platform snapshot (a tenant whose build failed shows
its last good numbers and its failure), freshness per tenant, and opening a tenant's details
writes one audit row in that tenant's log. No other role reaches the page or its data."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from apptest_support import APP, rendered_text
from apptest_support import login as _login
from tenant_data import PASSWORD, build_world, role_email

PLATFORM = "views/04_platform.py"
ROOT = Path(__file__).resolve().parents[2]
OVERVIEW_MODEL = ROOT / "dbt_project" / "models" / "marts" / "platform" / "platform_overview.sql"
SUMMARY_DDL = """
CREATE OR REPLACE TABLE marts.platform_tenant_summary (
    tenant_id VARCHAR NOT NULL, slug VARCHAR, organization_name VARCHAR, organization_type VARCHAR,
    plan VARCHAR, is_active BOOLEAN NOT NULL, base_currency VARCHAR NOT NULL, total_bookings BIGINT NOT NULL,
    completed_bookings BIGINT NOT NULL, recognized_revenue_usd DECIMAL(18,2) NOT NULL,
    recognized_revenue DECIMAL(18,2) NOT NULL)
"""
FAILED_NUMBERS = "98765.43"  # what B's failed build computed: never shown
REASON = "dbt test relationships_within_tenant: 1 failing row (booking <b>x</b>)"


def _marts(conn, world, b_numbers: tuple[int, int, str]) -> None:
    conn.execute(SUMMARY_DDL)
    rows = [(world.a, "RECORD_LABEL", "PRO", 40, 31, "12345.67"), (world.b, "RECORD_LABEL", "PRO", *b_numbers),
            (world.empty, "PRODUCTION_STUDIO", "FREE", 0, 0, "0.00")]
    conn.executemany("INSERT INTO marts.platform_tenant_summary VALUES (?, ?, ?, ?, ?, true, ?, ?, ?, ?, ?)",
                     [(t.tenant_id, t.slug, t.name, kind, plan, t.base_currency, n, done, Decimal(usd), Decimal(usd))
                      for t, kind, plan, n, done, usd in rows])
    sql = re.sub(r"\{#.*?#\}", "", OVERVIEW_MODEL.read_text(encoding="utf-8"), flags=re.S)
    conn.execute("CREATE OR REPLACE TABLE marts.platform_overview AS "
                 + sql.replace("{{ ref('platform_tenant_summary') }}", "marts.platform_tenant_summary"))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """build_world, then two platform versions published by warehouse.publish: B passes the first
    build and fails the second (its CURRENT and its platform numbers stay the first's)."""
    from warehouse.build_db import connect_build, ensure_raw_tables
    from warehouse.publish import publish_platform
    from warehouse.tenant_status import write_failed

    root = tmp_path_factory.mktemp("platform-world")
    world = build_world(root)
    conn = connect_build(root / "build.duckdb")
    try:
        ensure_raw_tables(conn)
        conn.execute("CREATE SCHEMA marts")
        _marts(conn, world, (12, 9, "300.50"))
        publish_platform(conn, world.published_dir, as_of=dt.date(2025, 3, 15))
        _marts(conn, world, (99, 98, FAILED_NUMBERS))
        write_failed(world.published_dir, world.b.tenant_id, [REASON])
        publish_platform(conn, world.published_dir, as_of=dt.date(2025, 3, 15))
    finally:
        conn.close()
    return world


@pytest.fixture
def env(world, monkeypatch):
    for key, value in world.env().items():
        monkeypatch.setenv(key, value)
    for key in ("AUDITORYX_AS_OF", "AUDITORYX_APP_DATABASE_URL", "AUDITORYX_FRESHNESS_HOURS"):
        monkeypatch.delenv(key, raising=False)
    return world


def open_platform(email: str) -> AppTest:
    at = _login(email, PASSWORD)
    at.switch_page(PLATFORM).run()
    assert not at.exception, at.exception
    return at


def frame(at: AppTest, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def detail_entries(world, tenant_id: str) -> list:
    from dashboards.session_engine import web_engine
    from operational.audit import entries
    from operational.platform_audit import OPENED_ACTION

    with Session(web_engine()) as session:
        return [e for e in entries(session, tenant_id, entity="organizations") if e.action == OPENED_ACTION]


def test_plan_and_type_overview_and_per_tenant_usd_with_last_good_numbers(env):
    a, b = env.a, env.b
    at = open_platform(role_email(a, "SUPER_ADMIN"))
    assert at.title[0].value == "Platform"
    overview = frame(at, "Tenants")
    assert overview.to_dict("records") == [
        {"Plan": "Free", "Type": "Production Studio", "Tenants": 1, "Active": 1, "Bookings": 0, "Completed": 0,
         "Revenue (USD)": "$0.00"},
        {"Plan": "Pro", "Type": "Record Label", "Tenants": 2, "Active": 2, "Bookings": 52, "Completed": 40,
         "Revenue (USD)": "$12,646.17"}]  # A's 12,345.67 + B's last good 300.50
    tenants = frame(at, "Last failure").set_index("Organization")
    row_a, row_b = tenants.loc[f"{a.name} ({a.slug})"], tenants.loc[f"{b.name} ({b.slug})"]
    assert (row_a["Bookings"], row_a["Completed"], row_a["Revenue (USD)"]) == (40, 31, "$12,345.67")
    assert (row_b["Bookings"], row_b["Completed"], row_b["Revenue (USD)"]) == (12, 9, "$300.50")
    assert row_a["Last failure"] == "none" and row_b["Last failure"].endswith(REASON)  # as text
    assert row_a["Fresh"] == "fresh" and row_a["Published"].endswith("minutes ago")  # published by this test run
    assert sorted(tenants.index) == sorted(f"{t.name} ({t.slug})" for t in (a, b, env.empty))
    assert FAILED_NUMBERS not in rendered_text(at) and "98,765.43" not in rendered_text(at)


def test_opening_a_tenants_details_is_audited_once_in_its_log(env):
    a, b = env.a, env.b
    at = open_platform(role_email(a, "SUPER_ADMIN"))
    before = len(detail_entries(env, b.tenant_id))
    assert not at.metric  # nothing opened until the operator chooses
    at.selectbox(key="platform_detail").select(f"{b.name} ({b.slug})").run()
    assert not at.exception
    assert [e.value.split(";")[0] for e in at.error] == [f"Build failing since {_since(env, b.tenant_id)}"]
    assert {m.label: m.value for m in at.metric} == {"Bookings": "12", "Completed": "9", "Revenue (USD)": "$300.50",
                                                      "Published": at.metric[3].value}
    assert REASON in [t.value for t in at.text]
    at.run()  # a rerun on the same tenant is not another opening
    entries = detail_entries(env, b.tenant_id)
    assert len(entries) == before + 1
    entry = entries[-1]
    operator = next(u for u in _users(env) if u.email == role_email(a, "SUPER_ADMIN"))
    assert entry.actor_id == operator.id and entry.org_id == b.tenant_id and entry.entity_id == b.tenant_id
    assert entry.after["operator"] == role_email(a, "SUPER_ADMIN") and entry.after["page"] == "platform"
    at.selectbox(key="platform_detail").select(f"{a.name} ({a.slug})").run()
    assert len(detail_entries(env, a.tenant_id)) >= 1 and len(detail_entries(env, b.tenant_id)) == before + 1


def _since(world, tenant_id: str) -> str:
    from warehouse.tenant_status import read_status

    return read_status(world.published_dir, tenant_id).since


def _users(world):
    from sqlalchemy import select

    from dashboards.session_engine import web_engine
    from operational.models import User

    with Session(web_engine()) as session:
        return list(session.scalars(select(User)))


@pytest.mark.parametrize("role", ["ORG_ADMIN", "LABEL_MANAGER", "ACCOUNTANT", "VIEWER"])
def test_only_super_admins_reach_the_page_or_its_data(env, role):
    from dashboards.navigation import pages_for
    from dashboards.quality_queries import platform_data
    from operational.auth import authenticate, start_session
    from operational.permissions import Actor, PermissionDenied

    assert "platform" not in [p.url_path for p in pages_for(Actor.of(user_id="u", tenant_id="t", role=role))]
    with pytest.raises(PermissionDenied):
        platform_data(Actor.of(user_id="u", tenant_id=env.a.tenant_id, role=role))
    from dashboards.session_engine import web_engine

    user = authenticate(web_engine(), role_email(env.a, role), PASSWORD).user
    at = AppTest.from_file(str(APP.parent / "views" / "04_platform.py"), default_timeout=30)
    at.session_state["auditoryx_session_token"] = start_session(web_engine(), user)
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == ["You do not have access to this page."]
    text = rendered_text(at)
    assert env.b.name not in text and "300.50" not in text and REASON not in text


def test_the_operator_audit_service_refuses_other_roles(env):
    from dashboards.session_engine import web_engine
    from operational.permissions import Actor, PermissionDenied
    from operational.platform_audit import record_tenant_opened
    from operational.repository import NotFoundError

    with pytest.raises(PermissionDenied):
        record_tenant_opened(web_engine(), Actor.of(user_id=None, tenant_id=env.a.tenant_id, role="ORG_ADMIN"),
                             env.b.tenant_id)
    with pytest.raises(NotFoundError):
        record_tenant_opened(web_engine(), Actor.of(user_id=None, tenant_id=env.a.tenant_id, role="SUPER_ADMIN"),
                             "no-such-tenant")


@pytest.mark.postgres
def test_the_audit_row_is_written_as_the_rls_login_on_postgresql(pg_url, tmp_path, monkeypatch):
    """On PostgreSQL the web tier is a plain login under row-level security: the opening is still
    recorded, in the opened tenant's log only."""
    from sqlalchemy.engine import make_url

    from dashboards.session_engine import web_engine
    from operational.audit import entries
    from operational.auth import authenticate
    from operational.db import ensure_app_login, make_engine
    from operational.platform_audit import OPENED_ACTION, record_tenant_opened
    from tenant_data import create_operational_db

    world = build_world(tmp_path / "world")
    create_operational_db(pg_url, [world.a, world.b], all_roles_for=world.a)
    app_url = make_url(pg_url).set(username="auditoryx_web_test", password=None).render_as_string(hide_password=False)
    owner = make_engine(pg_url)
    try:
        assert ensure_app_login(owner, app_url) == "auditoryx_web_test"
        for key, value in world.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("AUDITORYX_OPERATIONAL_URL", pg_url)
        monkeypatch.setenv("AUDITORYX_APP_DATABASE_URL", app_url)
        operator = authenticate(web_engine(), role_email(world.a, "SUPER_ADMIN"), PASSWORD).user
        record_tenant_opened(web_engine(), operator.actor(), world.b.tenant_id, operator_email=operator.email)
        with Session(owner) as session:
            opened = [e for e in entries(session, world.b.tenant_id) if e.action == OPENED_ACTION]
            at_home = [e for e in entries(session, world.a.tenant_id) if e.action == OPENED_ACTION]
        assert [(e.actor_id, e.entity_id) for e in opened] == [(operator.user_id, world.b.tenant_id)]
        assert at_home == []
    finally:
        owner.dispose()
