"""E-mail through the outbox against a real in-process SMTP server (aiosmtpd): message contents and
attachments, a server that is down or answers 4xx (retried, every attempt recorded), permanent
failures, a restart, tenants apart; on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
import email
import socket
from email import policy

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from operational import outbox
from operational.email_delivery import EmailError, SmtpSender, build_message, email_log, enqueue_email
from operational.permissions import Actor, PermissionDenied

from tests.operational.delivery_fixtures import db_url, delivery_template, migrated, tenants  # noqa: F401

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")
UTC = dt.timezone.utc


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """aiosmtpd handler: keeps every message; answers ``replies`` first (e.g. a 451), then 250."""

    def __init__(self, replies=()):
        self.messages: list[tuple[str, list[str], email.message.EmailMessage]] = []
        self.replies = list(replies)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        if self.replies:
            return self.replies.pop(0)
        parsed = email.message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"


class SmtpServer:
    def __init__(self, port: int, replies=()):
        self.inbox = Inbox(replies)
        self.port = port
        self.controller = aiosmtpd_controller.Controller(self.inbox, hostname="127.0.0.1", port=port)
        self.controller.start()

    def stop(self):
        self.controller.stop()


@pytest.fixture
def smtp():
    servers: list[SmtpServer] = []

    def start(port: int | None = None, replies=()):
        servers.append(SmtpServer(port or free_port(), replies))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def sender(port: int) -> SmtpSender:
    return SmtpSender("127.0.0.1", port, sender="AuditoryX Reports <reports@auditoryx.test>", starttls=False, timeout=5)


def queue(engine, tenant_id, **overrides) -> str:
    values = dict(tenant_id=tenant_id, to=["Ana@Label.example", "ana@label.example", "ops@label.example"],
                  subject="Weekly report", text="Hello, the report is attached.")
    values.update(overrides)
    with Session(engine) as session, session.begin():
        return enqueue_email(session, **values)


def test_report_email_with_attachments_is_delivered(migrated, tenants, smtp, tmp_path):
    a, _ = tenants
    report = tmp_path / "Revenue by month.csv"
    report.write_bytes("\ufeffMonth,Revenue\n2026-06,1200.00\nSeñorita,1\n".encode())
    message_id = queue(migrated, a.id, html="<p>Hello, <b>the report</b> is attached.</p>",
                       attachments=[str(report), ("summary.json", b'{"rows": 2}')])
    server = smtp()
    result = outbox.deliver_due(migrated, {"email": sender(server.port)})
    assert (result.claimed, result.delivered) == (1, 1)
    [(mail_from, rcpt, message)] = server.inbox.messages
    assert mail_from == "reports@auditoryx.test" and rcpt == ["ana@label.example", "ops@label.example"]
    assert message["Subject"] == "Weekly report" and message["X-AuditoryX-Delivery"] == message_id
    assert message.get_body(("plain",)).get_content().strip() == "Hello, the report is attached."
    assert "<b>the report</b>" in message.get_body(("html",)).get_content()
    files = {part.get_filename(): part for part in message.iter_attachments()}
    assert files["Revenue by month.csv"].get_payload(decode=True) == report.read_bytes()  # byte for byte
    assert files["Revenue by month.csv"].get_content() == "\ufeffMonth,Revenue\n2026-06,1200.00\nSeñorita,1\n"
    assert files["Revenue by month.csv"].get_content_type() == "text/csv"
    assert files["summary.json"].get_payload(decode=True) == b'{"rows": 2}'
    [log] = email_log(migrated, Actor.of(user_id=None, tenant_id=a.id, role="ACCOUNTANT"))
    assert (log.status, [x.outcome for x in log.log]) == ("delivered", ["delivered"])


def test_server_down_then_4xx_then_up_is_retried_and_every_attempt_recorded(migrated, tenants, smtp, db_url):
    a, _ = tenants
    port = free_port()
    message_id = queue(migrated, a.id)
    now = dt.datetime.now(UTC)
    down = outbox.deliver_due(migrated, {"email": sender(port)}, now=now)  # nobody listens
    assert (down.retrying, down.delivered) == (1, 0)
    server = smtp(port, replies=["451 4.3.0 try again later"])
    outbox.deliver_due(migrated, {"email": sender(port)}, now=now + dt.timedelta(minutes=5))
    migrated.dispose()  # a restart between attempts
    from operational.db import make_engine

    engine = make_engine(db_url)
    try:
        assert outbox.deliver_due(engine, {"email": sender(port)}, now=now + dt.timedelta(hours=1)).delivered == 1
        with Session(engine) as session:
            [view] = outbox.delivery_log(session, a.id, channel="email")
    finally:
        engine.dispose()
    assert view.id == message_id and view.status == "delivered" and view.attempts == 3
    first, second, third = view.log
    assert first.outcome == "failed" and "ConnectionRefused" in first.error
    assert (second.outcome, second.status_code) == ("failed", 451) and "try again later" in second.error
    assert (third.outcome, third.status_code, third.error) == ("delivered", 250, None)
    assert len(server.inbox.messages) == 1


def test_permanent_failures_are_dead_at_once(migrated, tenants, smtp, tmp_path):
    a, _ = tenants
    attachment = tmp_path / "gone.pdf"
    attachment.write_bytes(b"%PDF-1.7")
    gone = queue(migrated, a.id, attachments=[attachment])
    attachment.unlink()  # removed before the worker ran
    server = smtp()
    result = outbox.deliver_due(migrated, {"email": sender(server.port)})
    assert result.dead == 1 and server.inbox.messages == []
    with Session(migrated) as session:
        [view] = outbox.delivery_log(session, a.id, message_id=gone)
    assert view.status == "dead" and "gone.pdf" in view.last_error


def test_email_rules_and_tenants_apart(migrated, tenants, tmp_path):
    a, b = tenants
    for bad in (dict(to=[]), dict(to=["not an address"]), dict(subject="two\nlines"), dict(subject=" "),
                dict(attachments=[str(tmp_path / "missing.xlsx")]), dict(attachments=[("", b"x")])):
        with pytest.raises(EmailError):
            queue(migrated, a.id, **bad)
    queue(migrated, b.id, subject="Canary Zyxwvut report")
    accountant = Actor.of(user_id=None, tenant_id=a.id, role="ACCOUNTANT")
    assert email_log(migrated, accountant) == []
    with pytest.raises(PermissionDenied):
        email_log(migrated, Actor.of(user_id=None, tenant_id=a.id, role="CLIENT"))
    [only_b] = email_log(migrated, Actor.of(user_id=None, tenant_id=b.id, role="ORG_ADMIN"))
    assert only_b.payload["subject"] == "Canary Zyxwvut report"


def test_postgresql_an_unscoped_app_role_transaction_is_scoped_to_the_tenant(migrated, tenants):
    a, b = tenants
    with migrated.connect() as conn:
        with conn.begin():
            conn.execute(text("SET LOCAL ROLE auditoryx_app"))
            with Session(bind=conn) as session:
                enqueue_email(session, tenant_id=a.id, to=["x@a.example"], subject="s", text="t")
                session.flush()
                with pytest.raises(EmailError, match="another tenant"):
                    enqueue_email(session, tenant_id=b.id, to=["x@b.example"], subject="s", text="t")
    with Session(migrated) as session:
        assert [v.payload["to"] for v in outbox.delivery_log(session, a.id)] == [["x@a.example"]]


def test_build_message_and_settings(monkeypatch):
    message = build_message({"to": ["a@b.example"], "subject": "S", "text": "T", "html": None, "attachments": []},
                            sender="Reports <r@x.example>", delivery_id="m-1")
    assert message["X-AuditoryX-Delivery"] == "m-1" and message["Message-ID"].endswith("@x.example>")
    assert not message.is_multipart()
    from auditoryx.settings import get_settings

    monkeypatch.setenv("AUDITORYX_SMTP_HOST", "smtp.example.com")
    monkeypatch.setenv("AUDITORYX_SMTP_PORT", "2525")
    monkeypatch.setenv("AUDITORYX_SMTP_STARTTLS", "false")
    monkeypatch.setenv("AUDITORYX_SMTP_USERNAME", "reports")
    monkeypatch.setenv("AUDITORYX_SMTP_FROM", "Label Reports <reports@label.example>")
    built = SmtpSender.from_settings(get_settings())
    assert (built.host, built.port, built.starttls, built.username, built.sender) == (
        "smtp.example.com", 2525, False, "reports", "Label Reports <reports@label.example>")
    monkeypatch.delenv("AUDITORYX_SMTP_HOST")
    with pytest.raises(EmailError, match="AUDITORYX_SMTP_HOST"):
        SmtpSender.from_settings(get_settings())
