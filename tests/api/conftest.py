"""The real API app (FastAPI TestClient) over a real operational database — SQLite, or the local
PostgreSQL as the row-level-security login — and published snapshots of two tenants, B holding
the canary artist and amounts that A must never see."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_TESTS = ROOT / "tests" / "dashboards"
if str(DASHBOARD_TESTS) not in sys.path:
    sys.path.insert(0, str(DASHBOARD_TESTS))

from tenant_data import CANARY_ARTIST, PASSWORD, World, build_world, create_operational_db  # noqa: E402

APP_LOGIN = "auditoryx_api_test"
CANARY_AMOUNT = "77777.77"


@dataclass
class ApiWorld:
    world: World
    url: str          # the owner's URL (tests set data up with it)
    client: object    # fastapi.testclient.TestClient
    backend: str

    @property
    def a(self):
        return self.world.a

    @property
    def b(self):
        return self.world.b

    def engine(self):
        from operational.db import make_engine

        return make_engine(self.url)

    def admin(self, tenant):
        """The tenant's ORG_ADMIN as an Actor (for setting data up through the services)."""
        from sqlalchemy import select
        from sqlalchemy.orm import Session

        from operational.models import User
        from operational.permissions import Actor

        engine = self.engine()
        try:
            with Session(engine) as session:
                user = session.scalar(select(User).where(User.email == tenant.email))
                return Actor.of(user_id=user.id, tenant_id=tenant.tenant_id, role=str(user.role))
        finally:
            engine.dispose()

    def key(self, tenant, *scopes: str) -> str:
        """A new API key of ``tenant`` with ``scopes`` (all when none are given)."""
        from operational.api_keys import create_key
        from operational.permissions import API_SCOPES

        engine = self.engine()
        try:
            _summary, secret = create_key(engine, self.admin(tenant), name="test key", scopes=scopes or API_SCOPES)
            return secret
        finally:
            engine.dispose()

    def artist(self, tenant, name: str) -> str:
        from operational.roster import add_artist

        engine = self.engine()
        try:
            return add_artist(engine, self.admin(tenant), name=name).id
        finally:
            engine.dispose()


def _client(monkeypatch, world: World, url: str, app_url: str | None):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from auditoryx.settings import get_settings

    for key, value in world.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AUDITORYX_OPERATIONAL_URL", url)
    if app_url:
        monkeypatch.setenv("AUDITORYX_APP_DATABASE_URL", app_url)
    else:
        monkeypatch.delenv("AUDITORYX_APP_DATABASE_URL", raising=False)
    monkeypatch.delenv("AUDITORYX_AS_OF", raising=False)
    return TestClient(create_app(get_settings()), raise_server_exceptions=False)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def api(request, tmp_path, monkeypatch) -> ApiWorld:
    world = build_world(tmp_path / "world")
    if request.param == "sqlite":
        url, app_url = world.operational_url, None
    else:
        from operational.db import ensure_app_login, make_engine

        url = request.getfixturevalue("pg_url")
        create_operational_db(url, [world.a, world.b])
        app_url = make_url(url).set(username=APP_LOGIN, password=None).render_as_string(hide_password=False)
        owner = make_engine(url)
        assert ensure_app_login(owner, app_url) == APP_LOGIN
        owner.dispose()
    client = _client(monkeypatch, world, url, app_url)
    with client:
        yield ApiWorld(world=world, url=url, client=client, backend=request.param)


@pytest.fixture
def api_sqlite(tmp_path, monkeypatch) -> ApiWorld:
    """SQLite only: for checks that do not depend on the backend."""
    world = build_world(tmp_path / "world")
    client = _client(monkeypatch, world, world.operational_url, None)
    with client:
        yield ApiWorld(world=world, url=world.operational_url, client=client, backend="sqlite")


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


__all__ = ["ApiWorld", "CANARY_AMOUNT", "CANARY_ARTIST", "PASSWORD", "bearer"]
