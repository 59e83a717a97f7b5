"""Fast fixtures for the delivery tests: one migrated and seeded database per backend and module,
copied for each test (SQLite: the file; PostgreSQL: ``CREATE DATABASE … TEMPLATE``), instead of
migrating a fresh database every time. Same names as tests/operational/conftest.py's fixtures
(``db_url``, ``migrated``, ``tenants``), imported by the modules that use them."""
from __future__ import annotations

import shutil
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from operational.db import create_schema, make_engine
from tests.conftest import PG_ADMIN_URL, skip_or_fail
from tests.operational.conftest import CANARY, seed_tenant


def _seed(engine):
    create_schema(engine)
    with Session(engine) as session, session.begin():
        return seed_tenant(session, "tenant-a", 3, "Alpha Artist"), seed_tenant(session, "tenant-b", 2, CANARY)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def delivery_template(request, tmp_path_factory):
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("template") / "op.sqlite"
        engine = make_engine(f"sqlite:///{path}")
        seeded = _seed(engine)
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        yield "sqlite", str(path), seeded
        return
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any connection problem means "no server"
        skip_or_fail(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc.__class__.__name__}")
    name = f"auditoryx_tpl_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        engine = make_engine(admin.url.set(database=name).render_as_string(hide_password=False))
        seeded = _seed(engine)
        engine.dispose()
        yield "postgresql", name, seeded
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def db_url(delivery_template, tmp_path):
    backend, source, _seeded = delivery_template
    if backend == "sqlite":
        target = tmp_path / "op.sqlite"
        shutil.copyfile(source, target)
        yield f"sqlite:///{target}"
        return
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"auditoryx_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def migrated(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def tenants(delivery_template, migrated):
    return delivery_template[2]
