"""Administration pages through AppTest, on a world of their own (they change it): users,
organization settings, the platform's read-only tenant view; each stays inside its tenant."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from apptest_support import APP, rendered_text
from apptest_support import login as _login
from tenant_data import CANARY_ARTIST, PASSWORD, role_email


def login(email: str):
    return _login(email, PASSWORD)


def _engine(world):
    from dashboards.session_engine import web_engine

    return web_engine()


def test_users_page_lists_only_this_tenant_and_adds_a_user_who_can_log_in(admin_world):
    from operational.auth import authenticate

    a, b = admin_world.a, admin_world.b
    at = login(a.email)
    at.switch_page("views/02_users.py").run()
    text = rendered_text(at)
    assert role_email(a, "VIEWER") in text and b.email not in text
    form_inputs = [t for t in at.text_input if t.label in ("Email", "Name")]
    form_inputs[0].input("New.Person@Aurora.example")
    form_inputs[1].input("New Person")
    next(b for b in at.button if b.label == "Add user").click().run()
    assert not at.exception and [s.value for s in at.success][0] == "Added new.person@aurora.example."
    generated = at.code[0].value
    assert authenticate(_engine(admin_world), "new.person@aurora.example", generated).user.tenant_id == a.tenant_id


@pytest.mark.parametrize("action", ["Change role", "Deactivate"])
def test_changing_a_user_ends_their_live_session(admin_world, action):
    a = admin_world.a
    victim = login(role_email(a, "LABEL_MANAGER"))
    assert victim.title[0].value == a.name
    admin = login(a.email)
    admin.switch_page("views/02_users.py").run()
    admin.selectbox(key="manage_user").select(role_email(a, "LABEL_MANAGER")).run()
    if action == "Change role":
        admin.selectbox(key="manage_role").select("VIEWER").run()
        admin.button(key="change_role").click().run()
    else:
        admin.button(key="deactivate_user").click().run()
    assert not admin.exception and not admin.error
    victim.run()  # their next interaction
    assert not victim.metric and victim.text_input(key="login_email")
    assert any("Your session has ended" in i.value for i in victim.info)


def test_admin_cannot_deactivate_themselves_and_says_why(admin_world):
    a = admin_world.a
    admin = login(a.email)
    admin.switch_page("views/02_users.py").run()
    admin.selectbox(key="manage_user").select(a.email).run()
    admin.button(key="deactivate_user").click().run()
    assert admin.error and not admin.exception


def test_organization_settings_change_the_colour_and_are_audited(admin_world):
    from operational.audit import entries

    a = admin_world.a
    at = login(a.email)
    at.switch_page("views/03_organization.py").run()
    assert not at.exception
    at.color_picker[0].pick("#ff5500")
    next(b for b in at.button if b.label == "Save settings").click().run()
    assert not at.exception and not at.error
    with Session(_engine(admin_world)) as session:
        changes = [e.after for e in entries(session, a.tenant_id, entity="organizations")]
    assert {"branding.primary_colour": "#ff5500"} in [{k: v for k, v in c.items() if k == "branding.primary_colour"}
                                                       for c in changes]
    viewer = login(role_email(a, "VIEWER"))
    assert "#ff5500" in rendered_text(viewer)  # the tenant's colour reaches every user's pages


def test_operator_opens_another_tenant_read_only_and_returns(admin_world):
    a, b = admin_world.a, admin_world.b
    at = login(role_email(a, "SUPER_ADMIN"))
    at.switch_page("views/04_platform.py").run()
    assert b.name in rendered_text(at)
    at.selectbox(key="platform_org").select(f"{b.name} ({b.slug})").run()
    at.button(key="open_tenant").click().run()
    assert not at.exception
    assert at.title[0].value == b.name and CANARY_ARTIST in rendered_text(at)
    assert any("Read-only view" in w.value for w in at.warning)
    at.switch_page("views/02_users.py").run()  # read-only: the list, no way to change anyone
    assert b.email in rendered_text(at)
    assert not [x for x in at.button if x.label in ("Add user", "Change role", "Deactivate", "Reset password")]
    at.button(key="leave_tenant").click().run()
    text = rendered_text(at)  # back home, on the same page: the operator's own organization again
    assert a.email in text and b.email not in text and CANARY_ARTIST not in text
    assert not any("Read-only view" in w.value for w in at.warning)


def test_a_page_reached_without_the_permission_refuses(admin_world):
    from operational.auth import authenticate, start_session

    engine = _engine(admin_world)
    viewer = authenticate(engine, role_email(admin_world.a, "VIEWER"), PASSWORD).user
    token = start_session(engine, viewer)
    for page in ("02_users.py", "03_organization.py", "04_platform.py"):
        at = AppTest.from_file(str(APP.parent / "views" / page), default_timeout=30)
        at.session_state["auditoryx_session_token"] = token
        at.run()
        assert not at.exception
        assert [e.value for e in at.error] == ["You do not have access to this page."]
        assert role_email(admin_world.a, "ORG_ADMIN") not in rendered_text(at)
