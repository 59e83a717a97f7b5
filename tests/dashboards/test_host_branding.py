"""Login page branding by Host header: custom domain or <slug>.<base domain> names a tenant for
display; the login still decides the tenant and refuses another tenant's user there."""
from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from apptest_support import login as _login
from apptest_support import new_app, rendered_text
from operational.host_branding import HostBranding, branding_for_host, host_candidates
from tenant_data import PASSWORD


@pytest.mark.parametrize("host,base,expected", [
    ("aurora-records.auditoryx.example", "auditoryx.example", ("aurora-records.auditoryx.example", "aurora-records")),
    ("AURORA-RECORDS.auditoryx.example:8501", "auditoryx.example", ("aurora-records.auditoryx.example", "aurora-records")),
    ("analytics.aurora.example", "auditoryx.example", ("analytics.aurora.example", None)),
    ("a.b.auditoryx.example", "auditoryx.example", ("a.b.auditoryx.example", None)),
    ("localhost:8501", "auditoryx.example", None),
    ("127.0.0.1:8501", None, None),
    ("evil.example/../x", None, None),
    ("", None, None),
])
def test_host_candidates(host, base, expected):
    assert host_candidates(host, base) == expected


def test_branding_for_host_by_slug_or_custom_domain(world):
    from operational.db import make_engine
    from operational.models import Organization

    engine = make_engine(world.operational_url)
    a, b = world.a, world.b
    assert branding_for_host(engine, f"{a.slug}.auditoryx.example", "auditoryx.example").tenant_id == a.tenant_id
    assert branding_for_host(engine, f"{a.slug}.elsewhere.example", "auditoryx.example") is None
    with Session(engine) as session, session.begin():
        session.execute(update(Organization).where(Organization.id == b.tenant_id)
                        .values(custom_domain="analytics.bravo.example"))
    try:
        found = branding_for_host(engine, "Analytics.Bravo.example", "auditoryx.example")
        assert (found.tenant_id, found.name) == (b.tenant_id, b.name)
    finally:
        with Session(engine) as session, session.begin():
            session.execute(update(Organization).where(Organization.id == b.tenant_id).values(custom_domain=None))
        engine.dispose()


@pytest.fixture
def branded_for_a(world_env, monkeypatch):
    """The login page as served at tenant A's address (the Host lookup itself is tested above)."""
    from dashboards import branding

    a = world_env.a
    monkeypatch.setattr(branding, "login_branding",
                        lambda: HostBranding(a.tenant_id, a.name, {"primary_colour": "#123456"}))
    return world_env


def test_branded_login_page_shows_the_tenant(branded_for_a):
    at = new_app().run()
    assert at.title[0].value == branded_for_a.a.name
    assert "#123456" in rendered_text(at)


def test_branded_login_page_refuses_another_tenants_user(branded_for_a):
    at = _login(branded_for_a.b.email, PASSWORD)
    assert [e.value for e in at.error] == ["Invalid email or password."]
    assert "auditoryx_user" not in at.session_state
    at = _login(branded_for_a.a.email, PASSWORD)
    assert not at.error and at.session_state["auditoryx_user"].tenant_id == branded_for_a.a.tenant_id
