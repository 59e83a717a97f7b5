"""Webhooks: signatures (pure), URL and event rules, the endpoint service (permissions, audit,
tenants), and booking events delivered to a real local HTTP receiver on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from operational import bookings, bulk_bookings, outbox, webhooks
from operational.audit import entries
from operational.booking_rules import BookingDraft
from operational.db import make_engine
from operational.models import OutboxAttempt, OutboxMessage
from operational.permissions import Actor, PermissionDenied, api_key_actor
from operational.repository import NotFoundError
from operational.webhooks import WebhookError, sign, signature_header, verify_signature
from tests.operational.delivery_fixtures import db_url, delivery_template, migrated, tenants  # noqa: F401

UTC = dt.timezone.utc
SECRET = "whsec_test-secret"
BODY = b'{"id":"evt_1","type":"booking.created"}'


# signatures (pure)

def test_signature_round_trip_and_what_fails():
    t = 1_780_000_000
    header = signature_header([SECRET], BODY, t)
    assert header == f"t={t},v1={sign(SECRET, t, BODY)}"
    assert verify_signature(SECRET, header, BODY, now=t + 10)
    assert verify_signature(SECRET, header, BODY.decode(), now=t)  # str bodies too
    assert not verify_signature(SECRET, header, BODY.replace(b"created", b"updated"), now=t)  # tampered body
    assert not verify_signature("whsec_other", header, BODY, now=t)  # wrong secret
    assert not verify_signature(SECRET, header, BODY, now=t + 301)  # replayed too late
    assert not verify_signature(SECRET, header, BODY, now=t - 301)  # from the future
    assert verify_signature(SECRET, header, BODY, now=t + 3000, tolerance=3600)
    forged_t = header.replace(f"t={t}", f"t={t + 100}")  # a fresher timestamp breaks the signature
    assert not verify_signature(SECRET, forged_t, BODY, now=t + 100)
    for bad in (None, "", "v1=abc", f"t={t}", "t=soon,v1=abc", f"t={t},v0={sign(SECRET, t, BODY)}"):
        assert not verify_signature(SECRET, bad, BODY, now=t)
    import hashlib
    import hmac
    assert sign(SECRET, t, BODY) == hmac.new(SECRET.encode(), f"{t}.".encode() + BODY, hashlib.sha256).hexdigest()


def test_rotated_secret_signs_twice_and_either_secret_verifies():
    t = int(time.time())
    header = signature_header(["whsec_new", "whsec_old"], BODY, t)
    assert header.count("v1=") == 2
    assert verify_signature("whsec_new", header, BODY) and verify_signature("whsec_old", header, BODY)
    assert not verify_signature("whsec_third", header, BODY)


def test_body_bytes_are_canonical():
    assert webhooks.body_bytes({"b": 1, "a": "Señorita"}) == '{"a":"Señorita","b":1}'.encode()


@pytest.mark.parametrize("url, local, ok", [
    ("https://hooks.example.com/auditoryx", False, True),
    ("http://hooks.example.com/x", False, False),
    ("https://localhost/x", False, False),
    ("https://127.0.0.1:8443/x", False, False),
    ("https://10.0.0.5/x", False, False),
    ("https://169.254.169.254/latest", False, False),
    ("http://127.0.0.1:9000/hook", True, True),
    ("http://localhost:9000/hook", True, True),
    ("https://user:pw@hooks.example.com/x", False, False),
    ("ftp://hooks.example.com/x", True, False),
    ("https:///nohost", False, False),
    ("https://hooks.example.com:99999/x", False, False),
    ("", False, False),
])
def test_url_rules(url, local, ok):
    if ok:
        assert webhooks.validate_url(url, allow_local_http=local) == url
    else:
        with pytest.raises(WebhookError):
            webhooks.validate_url(url, allow_local_http=local)


def test_event_rules():
    assert webhooks.validate_events(["booking.updated", "booking.created", "booking.created"]) == [
        "booking.created", "booking.updated"]
    assert webhooks.validate_events(["*", "export.ready"]) == ["*"]
    for bad in ([], ["booking.deleted"], [" "]):
        with pytest.raises(WebhookError):
            webhooks.validate_events(bad)
    assert webhooks.status_event("CANCELLED") == "booking.cancelled"
    assert webhooks.status_event("CONFIRMED") == "booking.updated"


# a real receiver

class Receiver:
    """A tiny HTTP server on 127.0.0.1 (port 0) recording each POST; answers from ``statuses``
    (then 200)."""

    def __init__(self, statuses=()):
        self.requests: list[dict] = []
        self.statuses = list(statuses)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"headers": dict(self.headers), "body": body, "path": self.path})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers():
    made: list[Receiver] = []

    def make(statuses=()):
        made.append(Receiver(statuses))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


def admin(tenant) -> Actor:
    return Actor.of(user_id=tenant.user_id, tenant_id=tenant.id, role="ORG_ADMIN")


def draft(artist_id: str, day: int = 1, **overrides) -> BookingDraft:
    start = dt.datetime(2026, 7, day, 10)
    values = dict(artist_id=artist_id, title="Session", type="MIXING", start_local=start,
                  end_local=start + dt.timedelta(hours=2), timezone="Europe/Berlin", budget="300", location="Studio B",
                  currency="EUR", status="CONFIRMED")
    values.update(overrides)
    return BookingDraft(**values)


def deliver(engine, *, now=None):
    sender = webhooks.WebhookSender(engine, timeout=5, allow_local_http=True)
    try:
        return outbox.deliver_due(engine, {"webhook": sender}, now=now)
    finally:
        sender.close()


def _attempts(engine, message_id):
    with Session(engine) as session:
        return [(a.attempt, a.outcome, a.status_code) for a in session.scalars(
            select(OutboxAttempt).where(OutboxAttempt.message_id == message_id).order_by(OutboxAttempt.attempt))]


def test_booking_created_reaches_the_receiver_signed(migrated, tenants, receivers):
    a, _ = tenants
    receiver = receivers()
    endpoint, secret = webhooks.create_endpoint(migrated, admin(a), url=receiver.url, events=["booking.created"],
                                                allow_local_http=True)
    made = bookings.create_booking(migrated, admin(a), draft(a.artist_id))
    assert receiver.requests == []  # nothing is sent inside the business transaction
    report = deliver(migrated)
    assert (report.claimed, report.delivered) == (1, 1)
    [request] = receiver.requests
    headers, body = request["headers"], request["body"]
    assert verify_signature(secret, headers["AuditoryX-Signature"], body)
    assert not verify_signature(secret, headers["AuditoryX-Signature"], body + b" ")
    event = json.loads(body)
    assert headers["AuditoryX-Event"] == event["type"] == "booking.created"
    assert event["organization_id"] == a.id and event["data"]["id"] == made.id
    assert event["data"]["start_date"] == "2026-07-01T08:00:00+00:00" and event["data"]["budget"] == "300.00"
    with Session(migrated) as session:
        [message] = session.scalars(select(OutboxMessage)).all()
        assert headers["AuditoryX-Delivery"] == message.id and message.endpoint_id == endpoint.id
        assert message.status == "delivered"
    assert deliver(migrated).claimed == 0


def test_receiver_failing_twice_then_succeeding_records_three_attempts(migrated, tenants, receivers):
    a, _ = tenants
    receiver = receivers([500, 503])
    _endpoint, secret = webhooks.create_endpoint(migrated, admin(a), url=receiver.url, events=["*"],
                                                 allow_local_http=True)
    bookings.create_booking(migrated, admin(a), draft(a.artist_id))
    now = dt.datetime.now(UTC)
    assert deliver(migrated, now=now).retrying == 1
    assert deliver(migrated, now=now + dt.timedelta(seconds=10)).claimed == 0  # backing off
    assert deliver(migrated, now=now + dt.timedelta(minutes=5)).retrying == 1
    assert deliver(migrated, now=now + dt.timedelta(minutes=30)).delivered == 1
    assert len(receiver.requests) == 3
    assert len({r["headers"]["AuditoryX-Delivery"] for r in receiver.requests}) == 1  # same delivery id
    assert all(verify_signature(secret, r["headers"]["AuditoryX-Signature"], r["body"]) for r in receiver.requests)
    [log] = webhooks.deliveries(migrated, admin(a))
    assert log.status == "delivered" and [(x.attempt, x.outcome, x.status_code) for x in log.log] == [
        (1, "failed", 500), (2, "failed", 503), (3, "delivered", 200)]
    assert log.last_error is None


def test_a_restart_resumes_pending_webhooks(migrated, tenants, receivers, db_url):
    a, _ = tenants
    receiver = receivers([500])
    webhooks.create_endpoint(migrated, admin(a), url=receiver.url, events=["booking.created"], allow_local_http=True)
    made = bookings.create_booking(migrated, admin(a), draft(a.artist_id))
    now = dt.datetime.now(UTC)
    deliver(migrated, now=now)  # fails once, then the process stops
    migrated.dispose()
    engine = make_engine(db_url)  # a new process
    try:
        assert deliver(engine, now=now + dt.timedelta(hours=1)).delivered == 1
    finally:
        engine.dispose()
    assert [json.loads(r["body"])["data"]["id"] for r in receiver.requests] == [made.id, made.id]


def test_status_payment_and_bulk_events(migrated, tenants, receivers):
    a, _ = tenants
    receiver = receivers()
    webhooks.create_endpoint(migrated, admin(a), url=receiver.url, events=["*"], allow_local_http=True)
    made = bookings.create_booking(migrated, admin(a), draft(a.artist_id, status="PENDING_APPROVAL"))
    bookings.change_status(migrated, admin(a), made.id, "approve")
    bookings.set_payment_status(migrated, admin(a), made.id, "PAID")
    bookings.change_status(migrated, admin(a), made.id, "cancel")
    row = bulk_bookings.RawRow(2, {column: "" for column in bulk_bookings.COLUMNS} | dict(
        artist="Alpha Artist", title="Bulk", type="MIXING", start="2026-09-07 10:00", end="2026-09-07 12:00",
        timezone="UTC", location="Studio A", remote="no", budget="100", currency="EUR"))
    result = bulk_bookings.commit_bookings(migrated, admin(a), [row])
    assert result.booked == 1
    deliver(migrated)
    events = [(json.loads(r["body"])["type"], json.loads(r["body"])["data"]) for r in receiver.requests]
    assert [(t, d["status"], d["payment_status"]) for t, d in events[:4]] == [
        ("booking.created", "PENDING_APPROVAL", "PENDING"), ("booking.updated", "APPROVED", "PENDING"),
        ("booking.updated", "APPROVED", "PAID"), ("booking.cancelled", "CANCELLED", "PAID")]
    assert events[4][0] == "booking.created" and events[4][1]["id"] == result.created[0].booking_id


def test_a_failed_booking_emits_nothing_and_unsubscribed_or_inactive_endpoints_get_nothing(migrated, tenants,
                                                                                           receivers):
    a, _ = tenants
    created_only, inactive = receivers(), receivers()
    webhooks.create_endpoint(migrated, admin(a), url=created_only.url, events=["booking.created"],
                             allow_local_http=True)
    off, _ = webhooks.create_endpoint(migrated, admin(a), url=inactive.url, events=["*"], allow_local_http=True)
    webhooks.update_endpoint(migrated, admin(a), off.id, is_active=False)
    made = bookings.create_booking(migrated, admin(a), draft(a.artist_id))
    with pytest.raises(bookings.BookingConflict):  # rolled back: no event
        bookings.create_booking(migrated, admin(a), draft(a.artist_id, title="Clash"))
    bookings.change_status(migrated, admin(a), made.id, "cancel")  # not subscribed
    deliver(migrated)
    assert [json.loads(r["body"])["data"]["title"] for r in created_only.requests] == ["Session"]
    assert inactive.requests == []


def test_two_tenant_canary(migrated, tenants, receivers):
    a, b = tenants
    receiver_a, receiver_b = receivers(), receivers()
    endpoint_a, _ = webhooks.create_endpoint(migrated, admin(a), url=receiver_a.url, events=["*"], allow_local_http=True)
    endpoint_b, secret_b = webhooks.create_endpoint(migrated, admin(b), url=receiver_b.url, events=["*"],
                                                    allow_local_http=True)
    bookings.create_booking(migrated, admin(b), draft(b.artist_id, title="Canary Zyxwvut session"))
    deliver(migrated)
    assert receiver_a.requests == []
    [request] = receiver_b.requests
    assert verify_signature(secret_b, request["headers"]["AuditoryX-Signature"], request["body"])
    assert [e.id for e in webhooks.list_endpoints(migrated, admin(a))] == [endpoint_a.id]
    assert webhooks.deliveries(migrated, admin(a)) == []
    for call in (lambda: webhooks.get_endpoint(migrated, admin(a), endpoint_b.id),
                 lambda: webhooks.update_endpoint(migrated, admin(a), endpoint_b.id, is_active=False),
                 lambda: webhooks.rotate_secret(migrated, admin(a), endpoint_b.id),
                 lambda: webhooks.reveal_secret(migrated, admin(a), endpoint_b.id),
                 lambda: webhooks.delete_endpoint(migrated, admin(a), endpoint_b.id),
                 lambda: webhooks.deliveries(migrated, admin(a), endpoint_id=endpoint_b.id)):
        with pytest.raises(NotFoundError):
            call()
    message_b = webhooks.deliveries(migrated, admin(b))[0].id
    with pytest.raises(NotFoundError):
        webhooks.redeliver(migrated, admin(a), message_b)
    assert webhooks.get_endpoint(migrated, admin(b), endpoint_b.id).is_active


def test_endpoint_service_permissions_audit_rotation_and_delete(migrated, tenants, receivers):
    a, _ = tenants
    viewer = Actor.of(user_id=None, tenant_id=a.id, role="VIEWER")
    manager = Actor.of(user_id=None, tenant_id=a.id, role="LABEL_MANAGER")
    with pytest.raises(PermissionDenied):
        webhooks.create_endpoint(migrated, manager, url="https://hooks.example.com/x", events=["*"])
    with pytest.raises(PermissionDenied):
        webhooks.list_endpoints(migrated, viewer)
    key_reader = api_key_actor(a.id, "key-1", ["analytics:read"])
    with pytest.raises(PermissionDenied):
        webhooks.list_endpoints(migrated, key_reader)
    with pytest.raises(WebhookError, match="https"):
        webhooks.create_endpoint(migrated, admin(a), url="http://hooks.example.com/x", events=["*"],
                                 allow_local_http=False)
    receiver = receivers([500])
    endpoint, secret = webhooks.create_endpoint(migrated, admin(a), url=receiver.url, events=["booking.created"],
                                                description="CRM", allow_local_http=True)
    assert endpoint.secret_hint == "…" + secret[-4:] and secret.startswith("whsec_")
    assert webhooks.reveal_secret(migrated, admin(a), endpoint.id) == secret
    updated = webhooks.update_endpoint(migrated, admin(a), endpoint.id, events=["booking.created", "export.ready"])
    assert updated.events == ("booking.created", "export.ready")
    rotated, new_secret = webhooks.rotate_secret(migrated, admin(a), endpoint.id)
    assert new_secret != secret and rotated.rotating_until is not None
    bookings.create_booking(migrated, admin(a), draft(a.artist_id))
    deliver(migrated)  # 500: will be retried
    header = receiver.requests[0]["headers"]["AuditoryX-Signature"]
    assert verify_signature(new_secret, header, receiver.requests[0]["body"])
    assert verify_signature(secret, header, receiver.requests[0]["body"])  # the old one, during the grace
    webhooks.delete_endpoint(migrated, admin(a), endpoint.id)
    assert deliver(migrated, now=dt.datetime.now(UTC) + dt.timedelta(hours=1)).claimed == 0
    assert len(receiver.requests) == 1
    [log] = webhooks.deliveries(migrated, admin(a))  # kept, visible, dead
    assert (log.status, log.endpoint_id, log.last_error) == ("dead", None, "the webhook endpoint was deleted")
    with Session(migrated) as session:
        trail = entries(session, a.id, entity="webhook_endpoints", entity_id=endpoint.id)
        assert [e.action for e in trail] == ["create", "update", "rotate_secret", "delete"]
        logged = json.dumps([[e.before, e.after] for e in trail])
        assert secret not in logged and new_secret not in logged  # secrets never enter the log
        assert all({"secret", "previous_secret"}.isdisjoint({**(e.before or {}), **(e.after or {})}) for e in trail)
        assert trail[0].actor_id == a.user_id and trail[1].after == {"events": ["booking.created", "export.ready"]}


def test_rotation_without_grace_and_expired_grace_sign_once(migrated, tenants, receivers):
    a, _ = tenants
    receiver = receivers()
    endpoint, old = webhooks.create_endpoint(migrated, admin(a), url=receiver.url, events=["*"], allow_local_http=True)
    _, new = webhooks.rotate_secret(migrated, admin(a), endpoint.id,
                                    now=dt.datetime.now(UTC) - dt.timedelta(days=2))  # grace long over
    with Session(migrated) as session, session.begin():
        webhooks.emit(session, a.id, "export.ready", {"export_id": "x1"})
    deliver(migrated)
    header = receiver.requests[0]["headers"]["AuditoryX-Signature"]
    assert header.count("v1=") == 1 and verify_signature(new, header, receiver.requests[0]["body"])
    assert not verify_signature(old, header, receiver.requests[0]["body"])
    assert json.loads(receiver.requests[0]["body"])["data"] == {"export_id": "x1"}
    with pytest.raises(ValueError):
        with Session(migrated) as session:
            webhooks.emit(session, a.id, "booking.deleted", {})


def test_the_readme_receiver_verifies_our_signatures():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Webhooks and e-mail delivery", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {"__name__": "readme_receiver"}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own documentation
    verify = namespace["verify"]
    body = webhooks.body_bytes({"type": "booking.created", "data": {"id": "b1", "title": "Señorita"}})
    now = int(time.time())
    assert verify(SECRET, signature_header([SECRET], body, now), body)
    assert verify(SECRET, signature_header(["whsec_new", SECRET], body, now), body)  # during a rotation
    assert not verify(SECRET, signature_header([SECRET], body, now), body + b" ")
    assert not verify(SECRET, signature_header([SECRET], body, now - 301), body)
    assert not verify(SECRET, "", body)


def test_postgresql_the_web_tiers_rls_role_runs_the_whole_service(migrated, tenants, receivers, db_url):
    """Through an engine whose every connection is the row-level-security role auditoryx_app:
    each service call works in its tenant, and no other tenant's rows are reachable."""
    from sqlalchemy import event, text

    a, b = tenants
    app_engine = make_engine(db_url)

    @event.listens_for(app_engine, "connect")
    def _as_app_role(dbapi_connection, _record):
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET ROLE auditoryx_app")
        dbapi_connection.commit()

    try:
        receiver = receivers([500])
        endpoint, _ = webhooks.create_endpoint(app_engine, admin(a), url=receiver.url, events=["*"],
                                               allow_local_http=True)
        other, _ = webhooks.create_endpoint(app_engine, admin(b), url=receiver.url, events=["*"], allow_local_http=True)
        webhooks.update_endpoint(app_engine, admin(a), endpoint.id, description="CRM")
        webhooks.rotate_secret(app_engine, admin(a), endpoint.id)
        bookings.create_booking(app_engine, admin(a), draft(a.artist_id))
        assert [e.id for e in webhooks.list_endpoints(app_engine, admin(a))] == [endpoint.id]
        with pytest.raises(NotFoundError):
            webhooks.get_endpoint(app_engine, admin(a), other.id)
        deliver(migrated)  # the worker: the owner's connection, every tenant (one 500)
        [log] = webhooks.deliveries(app_engine, admin(a))
        assert [x.status_code for x in log.log] == [500]
        webhooks.delete_endpoint(app_engine, admin(a), endpoint.id)
        webhooks.redeliver(app_engine, admin(a), log.id)
        with app_engine.connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar() == "auditoryx_app"
            for table in ("webhook_endpoints", "outbox_messages", "outbox_attempts"):
                assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0, table  # no tenant set
    finally:
        app_engine.dispose()


def test_sender_refuses_a_public_name_resolving_inside_and_reads_little_of_an_error_page(monkeypatch):
    import socket

    import httpx

    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(502, content=b"x" * 100_000)

    class Endpoints(webhooks.WebhookSender):
        def _endpoint(self, message):
            return "https://hooks.example.com/in", [SECRET], True, ["*"]

    client = httpx.Client(transport=httpx.MockTransport(handler))
    sender = Endpoints(engine=None, client=client, allow_local_http=False)
    message = outbox.Message("m-1", "org-1", "webhook", "booking.created", "e-1", {"a": 1}, 1, 10,
                             dt.datetime.now(UTC))
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [(socket.AF_INET, 1, 6, "", ("10.1.2.3", 443))])
    refused = sender(message)
    assert not refused.ok and "10.1.2.3" in refused.error and calls == []
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [(socket.AF_INET, 1, 6, "", ("93.184.216.34", 443))])
    failed = sender(message)
    assert (failed.ok, failed.status_code) == (False, 502) and len(failed.error) < 300
    assert verify_signature(SECRET, calls[0].headers["AuditoryX-Signature"], calls[0].content)
    assert calls[0].headers["AuditoryX-Delivery"] == "m-1" and calls[0].headers["AuditoryX-Event"] == "booking.created"
    client.close()
