"""Shared fixtures: isolated settings in tmp_path, and a throwaway PostgreSQL database."""
from __future__ import annotations

import datetime as dt
import os
import uuid

import pytest
from hypothesis import settings as hypothesis_settings

AS_OF = dt.date(2026, 6, 30)

# Property tests keep no example database: it would be written into the repository (.hypothesis/)
hypothesis_settings.register_profile("auditoryx", database=None)
hypothesis_settings.load_profile("auditoryx")
PG_ADMIN_URL = os.environ.get("AUDITORYX_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def skip_or_fail(reason: str) -> None:
    """Missing dependency: a skip locally, a failure under CI=true."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing dependency is a failure, not a skip)")
    pytest.skip(reason)


@pytest.fixture
def app_env(tmp_path, monkeypatch):
    """AUDITORYX_* variables pointing every path into tmp_path, with a fixed as-of date."""
    var_dir = tmp_path / "var"
    monkeypatch.setenv("AUDITORYX_VAR_DIR", str(var_dir))
    monkeypatch.setenv("AUDITORYX_AS_OF", AS_OF.isoformat())
    monkeypatch.setenv("AUDITORYX_DEMO_PASSWORD", "test-password")
    for name in ("AUDITORYX_OPERATIONAL_URL", "AUDITORYX_WAREHOUSE_DIR"):
        monkeypatch.delenv(name, raising=False)
    from auditoryx.settings import get_settings

    return get_settings()


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL database on the local server, dropped afterwards."""
    from sqlalchemy import create_engine, text

    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any connection problem means "no server"
        skip_or_fail(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc.__class__.__name__}")
    name = f"auditoryx_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(autouse=True)
def _no_refresh_on_write(monkeypatch):
    """Booking pages ask for a refresh after a write; tests that want one set it themselves."""
    monkeypatch.setenv("AUDITORYX_REFRESH_ON_WRITE", "off")
