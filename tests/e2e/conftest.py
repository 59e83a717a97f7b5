"""A real refresh over two generated tenants; tenant B holds a canary artist that A must never see."""
from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlalchemy.orm import Session

from auditoryx.pipeline import refresh
from auditoryx.settings import Settings, get_settings
from operational.db import create_schema, make_engine
from operational.generator import generate
from operational.models import Artist, Booking
from tests.conftest import AS_OF

CANARY = "Canary Zyxwvut"


def add_canary(engine, tenant_id: str, as_of: dt.date) -> None:
    """An artist only tenant B has, with a large completed booking: B's top performer."""
    end = dt.datetime(as_of.year, as_of.month, as_of.day, 9, tzinfo=dt.timezone.utc) - dt.timedelta(days=3)
    with Session(engine) as session, session.begin():
        session.execute(insert(Artist), [{"id": "canary-artist", "org_id": tenant_id, "name": CANARY}])
        session.execute(insert(Booking), [{
            "id": "canary-booking", "org_id": tenant_id, "artist_id": "canary-artist", "title": "Canary session",
            "type": "PERFORMANCE", "status": "COMPLETED", "start_date": end - dt.timedelta(hours=2), "end_date": end,
            "duration_minutes": 120, "timezone": "Europe/Berlin", "final_price": decimal.Decimal("987654.32"),
            "currency": "EUR", "payment_status": "PAID",
        }])


def populate(url: str, as_of: dt.date, tenants: int = 2):
    """The generator's first ``tenants`` presets (northwind-records USD, studio-aurora EUR, kanto-talent
    JPY) at 0.3 of their size; the second one (B) gets the canary."""
    engine = make_engine(url)
    create_schema(engine)
    tenants = generate(engine, tenants=tenants, seed=21, as_of=as_of, password="test-password", scale=0.3)
    add_canary(engine, tenants[1].id, as_of)
    engine.dispose()
    return tenants


@pytest.fixture(scope="session")
def refreshed_template(tmp_path_factory):
    """One generated + refreshed var folder per worker (the settings ``app_env`` gives, under a folder
    of its own): ``refreshed`` copies it, instead of generating and running dbt for every test."""
    root = tmp_path_factory.mktemp("refreshed-template")
    env = {"AUDITORYX_VAR_DIR": str(root / "var"), "AUDITORYX_AS_OF": AS_OF.isoformat(),
           "AUDITORYX_DEMO_PASSWORD": "test-password"}
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        for name in ("AUDITORYX_OPERATIONAL_URL", "AUDITORYX_WAREHOUSE_DIR"):
            mp.delenv(name, raising=False)
        settings = get_settings()
        tenants = populate(settings.operational_database_url, settings.as_of)
        refresh(settings)
    return root / "var", tuple(tenants)


@pytest.fixture
def refreshed(app_env, refreshed_template):
    """(settings, [tenant A, tenant B]) after a full refresh on SQLite: a copy of the worker's
    template (every path of it is under the var folder, the settings derive them from it)."""
    template_var, tenants = refreshed_template
    shutil.copytree(template_var, app_env.resolved_var_dir)
    return app_env, list(tenants)


@pytest.fixture(scope="session")
def kill_prepared(tmp_path_factory, refreshed_template):
    """test_kill*.py: the refreshed template and the marts a clean run gives after the change (once
    per worker, whichever of the two files it runs)."""
    from tests.e2e.kill_scenarios import prepare

    return prepare(tmp_path_factory, refreshed_template)


def world_env(root: Path, as_of: dt.date, password: str) -> dict[str, str]:
    """The AUDITORYX_* variables of a world kept under ``root`` (SQLite operational database)."""
    return {
        "AUDITORYX_VAR_DIR": str(root / "var"),
        "AUDITORYX_OPERATIONAL_URL": f"sqlite:///{root / 'operational.sqlite'}",
        "AUDITORYX_WAREHOUSE_DIR": str(root / "warehouse"),
        "AUDITORYX_AS_OF": as_of.isoformat(),
        "AUDITORYX_DEMO_PASSWORD": password,
    }


@contextlib.contextmanager
def only_these_settings(env: dict[str, str]):
    """Exactly ``env``'s AUDITORYX_* variables while building a module's world; yields its Settings."""
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith("AUDITORYX_")]:
            mp.delenv(name)
        for name, value in env.items():
            mp.setenv(name, value)
        settings: Settings = get_settings()
        yield settings
