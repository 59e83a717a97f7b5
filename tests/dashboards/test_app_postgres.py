"""The web tier on PostgreSQL as its own login role under row-level security (FORCE): every role
logs in and every page it may open works, showing only its tenant; login and sessions go through
the SECURITY DEFINER functions, since RLS hides users and sessions before a tenant is known."""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from apptest_support import rendered_text
from apptest_support import login as _login
from operational.enums import UserRole
from tenant_data import CANARY_ARTIST, PASSWORD, build_world, create_operational_db, role_email

APP_LOGIN = "auditoryx_web_test"


@pytest.fixture
def pg_world(pg_url, tmp_path, monkeypatch):
    from operational.db import ensure_app_login, make_engine

    world = build_world(tmp_path / "world")  # published snapshots (and a SQLite copy we ignore)
    create_operational_db(pg_url, [world.a, world.b, world.empty, world.unpublished], all_roles_for=world.a)
    app_url = make_url(pg_url).set(username=APP_LOGIN, password=None).render_as_string(hide_password=False)
    owner = make_engine(pg_url)
    assert ensure_app_login(owner, app_url) == APP_LOGIN
    owner.dispose()
    for key, value in world.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AUDITORYX_OPERATIONAL_URL", pg_url)
    monkeypatch.setenv("AUDITORYX_APP_DATABASE_URL", app_url)
    monkeypatch.delenv("AUDITORYX_AS_OF", raising=False)
    return world, app_url


@pytest.mark.postgres
def test_every_role_and_page_works_as_the_rls_login(pg_world):
    from dashboards.navigation import pages_for
    from dashboards.session_engine import web_engine

    world, app_url = pg_world
    with web_engine().connect() as conn:  # the web tier really is the plain login role
        who, superuser, bypass = conn.execute(text(
            "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")).one()
        assert (who, superuser, bypass) == (APP_LOGIN, False, False)
        assert conn.scalar(text("SELECT count(*) FROM users")) == 0  # RLS: no tenant, no rows
    from operational.host_branding import branding_for_host

    branded = branding_for_host(web_engine(), f"{world.a.slug}.auditoryx.example", "auditoryx.example")
    assert (branded.tenant_id, branded.name) == (world.a.tenant_id, world.a.name)  # SECURITY DEFINER lookup
    for role in UserRole:
        at = _login(role_email(world.a, role.value), PASSWORD)
        assert not at.error, (role, [e.value for e in at.error])
        user = at.session_state["auditoryx_user"]
        assert user.tenant_id == world.a.tenant_id
        for page in pages_for(user.actor()):
            at.switch_page(page.script).run()
            assert not at.exception, (role, page.url_path, at.exception)
            assert not at.error, (role, page.url_path, [e.value for e in at.error])
            text_seen = rendered_text(at)
            assert CANARY_ARTIST not in text_seen and world.b.email not in text_seen, (role, page.url_path)
            if page.url_path == "users":
                assert role_email(world.a, "VIEWER") in text_seen
            if page.url_path == "platform":  # operators list every organization
                assert world.b.name in text_seen


@pytest.mark.postgres
def test_wrong_password_and_unknown_email_fail_alike_under_rls(pg_world):
    world, _ = pg_world
    for email, password in ((world.a.email, "not the password"), ("nobody@nowhere.example", PASSWORD)):
        at = _login(email, password)
        assert [e.value for e in at.error] == ["Invalid email or password."]
