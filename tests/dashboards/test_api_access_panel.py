"""The organization settings page's API access section (AppTest): an admin creates a key, sees its
secret once, the key works against the API, and revoking it from the page stops it; a viewer of
the settings sees the list but no form; tenant B's keys never show in tenant A's page."""
from __future__ import annotations

from apptest_support import rendered_text
from apptest_support import login as _login
from tenant_data import PASSWORD, role_email


def _page(email: str):
    at = _login(email, PASSWORD)
    at.switch_page("views/03_organization.py").run()
    assert not at.exception, at.exception
    return at


def test_admin_creates_uses_and_revokes_a_key(admin_world):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from operational.api_keys import create_key
    from operational.db import make_engine
    from operational.permissions import command_line_operator

    world = admin_world
    engine = make_engine(world.operational_url)
    create_key(engine, command_line_operator(world.b.tenant_id), name="Zyxqv bravo key", scopes=["admin"])
    engine.dispose()

    at = _page(world.a.email)
    name_input = next(t for t in at.text_input if t.label == "Key name")
    name_input.input("ledger sync")
    next(b for b in at.button if b.label == "Create API key").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    secrets = [c.value for c in at.code if c.value.startswith("axk_")]
    assert len(secrets) == 1
    secret = secrets[0]
    client = TestClient(create_app())
    assert client.get("/api/v1/organization", headers={"Authorization": f"Bearer {secret}"}).status_code == 200

    at = _page(world.a.email)  # a fresh visit lists the key, never its secret, never B's keys
    text = rendered_text(at)
    assert secret not in text and "Zyxqv bravo key" not in text
    assert "ledger sync" in str([df.value for df in at.dataframe])
    next(b for b in at.button if b.label == "Revoke at once").click().run()
    assert not at.exception and not at.error
    assert client.get("/api/v1/organization", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_without_settings_update_the_keys_show_but_no_form(admin_world):
    """A SUPER_ADMIN only reads inside a tenant: the list, not the forms."""
    at = _page(role_email(admin_world.a, "SUPER_ADMIN"))
    assert "API access" in rendered_text(at)
    assert not any(b.label in ("Create API key", "Revoke at once") for b in at.button)
