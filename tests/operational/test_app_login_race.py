"""ensure_app_login when another database of the cluster creates the same login at the same time.

Roles are cluster-wide and advisory locks per database, so nothing serializes two set-ups on two
databases (parallel test workers, tenants migrated side by side): the second ``CREATE ROLE`` waits
for the first transaction, then fails with a unique violation. ensure_app_login must then find the
role in place and finish instead of failing.
"""
from __future__ import annotations

import threading
import time
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from operational.db import create_schema, ensure_app_login, make_engine

pytestmark = pytest.mark.postgres


def _wait_until_blocked(admin, application_name: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with admin.connect() as conn:
            waiting = conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name "
                                       "AND wait_event_type = 'Lock'"), {"name": application_name})
        if waiting:
            return
        time.sleep(0.05)
    pytest.fail("ensure_app_login never waited for the concurrent CREATE ROLE")


def test_login_created_meanwhile_by_another_database_is_reused(pg_url):
    owner = make_engine(pg_url)
    create_schema(owner)  # auditoryx_app exists from here on
    login = f"auditoryx_race_{uuid.uuid4().hex[:10]}"
    application_name = f"race-{login}"
    app_url = make_url(pg_url).set(username=login, password=None).render_as_string(hide_password=False)
    racer = make_engine(make_url(pg_url).update_query_dict({"application_name": application_name})
                        .render_as_string(hide_password=False))
    admin = make_engine(make_url(pg_url).set(database="postgres").render_as_string(hide_password=False))
    outcome: dict[str, object] = {}

    def set_up() -> None:
        try:
            outcome["login"] = ensure_app_login(racer, app_url)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            outcome["error"] = exc

    try:
        with admin.connect() as other:  # "another database's migration": the role, not yet committed
            other.execute(text(f'CREATE ROLE "{login}" LOGIN'))
            worker = threading.Thread(target=set_up)
            worker.start()
            _wait_until_blocked(admin, application_name)
            other.commit()
        worker.join(timeout=60)
        assert not worker.is_alive()
        assert outcome == {"login": login}, outcome
        with owner.connect() as conn:
            assert conn.scalar(text("SELECT pg_has_role(:login, 'auditoryx_app', 'MEMBER')"), {"login": login})
        assert ensure_app_login(owner, app_url) == login  # and again: idempotent
    finally:
        racer.dispose()
        owner.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP ROLE IF EXISTS "{login}"'))
            conn.commit()
        admin.dispose()
