"""Running delivery: `auditoryx deliver` (one round) and the `auditoryx worker` thread deliver a
booking's webhook end to end on the configured operational database; before `init` nothing is created."""
from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

from typer.testing import CliRunner

from auditoryx import refresh_worker
from auditoryx.cli import app
from auditoryx.errors import NotInitialized
from operational import bookings, webhooks
from operational.booking_rules import BookingDraft
from operational.db import create_schema, make_engine
from operational.permissions import Actor
from sqlalchemy.orm import Session

from tests.operational.conftest import seed_tenant
from tests.operational.test_webhooks import Receiver


def _tenant_with_endpoint(settings, receiver):
    engine = make_engine(settings.operational_database_url)
    create_schema(engine)
    with Session(engine) as session, session.begin():
        tenant = seed_tenant(session, "tenant-a", 0, "Alpha Artist")
    actor = Actor.of(user_id=tenant.user_id, tenant_id=tenant.id, role="ORG_ADMIN")
    _endpoint, secret = webhooks.create_endpoint(engine, actor, url=receiver.url, events=["booking.created"])
    start = dt.datetime(2026, 7, 1, 10)
    made = bookings.create_booking(engine, actor, BookingDraft(
        artist_id=tenant.artist_id, title="Session", type="MIXING", start_local=start,
        end_local=start + dt.timedelta(hours=1), timezone="UTC", location="Studio", status="CONFIRMED"))
    return engine, secret, made


def test_deliver_command_sends_pending_webhooks(app_env, monkeypatch):
    monkeypatch.setenv("AUDITORYX_WEBHOOK_ALLOW_LOCAL_HTTP", "true")
    from auditoryx.settings import get_settings

    settings = get_settings()
    receiver = Receiver()
    try:
        before = CliRunner().invoke(app, ["deliver"])
        assert isinstance(before.exception, NotInitialized) and "auditoryx init" in str(before.exception)
        assert not Path(settings.operational_database_url.removeprefix("sqlite:///")).exists()  # nothing created
        engine, secret, made = _tenant_with_endpoint(settings, receiver)
        engine.dispose()
        result = CliRunner().invoke(app, ["deliver"])
        assert result.exit_code == 0, result.output
        assert "1 delivered" in result.stdout and "0 pending" in result.stdout
        assert "AUDITORYX_SMTP_HOST is not set" in result.stderr
        [request] = receiver.requests
        assert webhooks.verify_signature(secret, request["headers"]["AuditoryX-Signature"], request["body"])
        assert json.loads(request["body"])["data"]["id"] == made.id
    finally:
        receiver.close()


def test_worker_delivers_beside_refreshes(app_env, monkeypatch):
    monkeypatch.setenv("AUDITORYX_WEBHOOK_ALLOW_LOCAL_HTTP", "true")
    from auditoryx.settings import get_settings

    settings = get_settings()
    receiver = Receiver()
    try:
        engine, _secret, made = _tenant_with_endpoint(settings, receiver)
        engine.dispose()
        deadline = time.monotonic() + 20
        refresh_worker.run(settings, poll_seconds=0.02, refresh=lambda s, ids: None,
                           should_stop=lambda: bool(receiver.requests) or time.monotonic() > deadline,
                           known_tenants=lambda s: set(), deliver_seconds=0.05)
        assert [json.loads(r["body"])["data"]["id"] for r in receiver.requests] == [made.id]
    finally:
        receiver.close()


def test_worker_survives_a_failing_delivery_round(app_env):
    calls = []

    def deliver():
        calls.append(1)
        raise RuntimeError("database unreachable")

    deadline = time.monotonic() + 10
    refresh_worker.run(app_env, poll_seconds=0.01, refresh=lambda s, ids: None,
                       should_stop=lambda: len(calls) >= 3 or time.monotonic() > deadline,
                       known_tenants=lambda s: set(), deliver=deliver, deliver_seconds=0.01)
    assert len(calls) >= 3
