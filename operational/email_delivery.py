"""E-mail through the outbox: scheduled reports and other messages, sent by SMTP, retried with
back-off, every attempt recorded (operational.outbox, channel ``email``).

- :func:`enqueue_email` adds one e-mail to the caller's transaction (e.g. the export run that
  produced the attachments). Attachments are file paths, kept as paths and read when the message
  is sent (export folders are durable), or ``(filename, bytes)`` pairs stored in the message.
- :func:`build_message` turns a stored message into an :class:`email.message.EmailMessage`
  (plain text, optional HTML alternative, attachments): pure but for reading attachment files.
- :class:`SmtpSender` sends it with the ``AUDITORYX_SMTP_*`` settings (STARTTLS, login when a
  user name is set). A refused recipient list or a missing attachment is permanent (dead at once);
  anything else (server down, time-out, 4xx) is retried.
"""
from __future__ import annotations

import base64
import mimetypes
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any, Mapping, Sequence

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from auditoryx.errors import AuditoryxError
from operational import outbox, rls
from operational.models import normalize_email, validate_email
from operational.permissions import Action, Actor, Resource, require_permission
from operational.repository import TenantRepository

MAX_RECIPIENTS = 50
MAX_INLINE_ATTACHMENT_BYTES = 10 * 1024 * 1024
DELIVERY_HEADER = "X-AuditoryX-Delivery"

Attachment = str | Path | tuple[str, bytes]


class EmailError(AuditoryxError):
    """An e-mail that cannot be queued (recipients, subject, attachments)."""


def _recipients(to: Sequence[str]) -> list[str]:
    if isinstance(to, str):
        to = [to]
    addresses = []
    for address in to or ():
        try:
            addresses.append(validate_email(normalize_email(str(address))))
        except ValueError as exc:
            raise EmailError(str(exc)) from None
    addresses = list(dict.fromkeys(addresses))
    if not addresses:
        raise EmailError("an e-mail needs at least one recipient")
    if len(addresses) > MAX_RECIPIENTS:
        raise EmailError(f"at most {MAX_RECIPIENTS} recipients per e-mail")
    return addresses


def _attachment_entries(attachments: Sequence[Attachment] | None) -> list[dict[str, str]]:
    entries: list[dict[str, str]] = []
    inline = 0
    for item in attachments or ():
        if isinstance(item, tuple):
            name, data = item
            name = Path(str(name)).name
            if not name:
                raise EmailError("an attachment given as bytes needs a file name")
            inline += len(data)
            if inline > MAX_INLINE_ATTACHMENT_BYTES:
                raise EmailError("attachments given as bytes are limited to 10 MiB per e-mail: pass file paths")
            entries.append({"filename": name, "content_b64": base64.b64encode(bytes(data)).decode("ascii")})
        else:
            path = Path(item).resolve()
            if not path.is_file():
                raise EmailError(f"attachment {str(item)!r} is not a file")
            entries.append({"filename": path.name, "path": str(path)})
    return entries


def enqueue_email(session: Session, *, tenant_id: str, to: list[str], subject: str, text: str,
                  html: str | None = None, attachments: list[Attachment] | None = None,
                  max_attempts: int = outbox.DEFAULT_MAX_ATTEMPTS) -> str:
    """Queue one e-mail in the caller's transaction (sent by `auditoryx deliver` / `auditoryx
    worker`); returns the outbox message id. ``attachments``: file paths (read when sending) or
    ``(filename, bytes)`` pairs."""
    if not isinstance(subject, str) or not subject.strip():
        raise EmailError("an e-mail needs a subject")
    if "\r" in subject or "\n" in subject or len(subject) > 250:
        raise EmailError("a subject is one line of at most 250 characters")
    if not isinstance(text, str):
        raise EmailError("an e-mail needs a plain-text body")
    payload = {"to": _recipients(to), "subject": subject.strip(), "text": text, "html": html,
               "attachments": _attachment_entries(attachments)}
    _scope(session, tenant_id)
    return outbox.enqueue(session, tenant_id=tenant_id, channel="email", payload=payload, max_attempts=max_attempts)


def _scope(session: Session, tenant_id: str) -> None:
    """PostgreSQL: a transaction not yet scoped to a tenant is scoped to this one (row-level
    security lets the row in); one scoped to another tenant is refused."""
    if session.get_bind().dialect.name != "postgresql":
        return
    current = session.execute(text("SELECT current_setting('app.tenant_id', true)")).scalar()
    if not current:
        rls.set_tenant(session.connection(), tenant_id)
    elif current != tenant_id:
        raise EmailError("this transaction is scoped to another tenant")


def email_log(engine: Engine, actor: Actor, *, status: str | None = None, limit: int = 50) -> list[outbox.MessageView]:
    """The tenant's e-mail deliveries, newest first, each with its attempts (reports READ)."""
    require_permission(actor, Resource.REPORTS, Action.READ)
    with Session(engine) as session:
        TenantRepository(session, actor.tenant_id, actor_id=actor.user_id, actor_key_id=actor.api_key_id)
        return outbox.delivery_log(session, actor.tenant_id, channel="email", status=status,
                                   limit=max(1, min(limit, 500)))


class MissingAttachment(EmailError):
    """An attachment file disappeared between queueing and sending."""


def build_message(payload: Mapping[str, Any], *, sender: str, delivery_id: str | None = None) -> EmailMessage:
    """The e-mail of a stored payload (reads attachment files; :class:`MissingAttachment`)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(payload["to"])
    message["Subject"] = payload["subject"]
    domain = sender.rpartition("@")[2].strip("> ") or None
    message["Message-ID"] = make_msgid(domain=domain)
    if delivery_id:
        message[DELIVERY_HEADER] = delivery_id
    message.set_content(payload.get("text") or "")
    if payload.get("html"):
        message.add_alternative(payload["html"], subtype="html")
    for entry in payload.get("attachments") or ():
        if "path" in entry:
            path = Path(entry["path"])
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise MissingAttachment(f"attachment {entry['filename']!r} cannot be read: {exc.strerror}") from None
        else:
            data = base64.b64decode(entry["content_b64"])
        kind, encoding = mimetypes.guess_type(entry["filename"])
        if kind is None or encoding is not None:
            kind = "application/octet-stream"
        maintype, _, subtype = kind.partition("/")
        params = {"charset": "utf-8"} if maintype == "text" and _is_utf8(data) else None
        # bytes as they are (base64): a CSV keeps its BOM and line ends, so manifest checksums hold
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=entry["filename"], params=params)
    return message


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class SmtpSender:
    """The outbox's ``email`` channel: one SMTP connection per message."""

    def __init__(self, host: str, port: int = 587, *, sender: str, username: str | None = None,
                 password: str | None = None, starttls: bool = True, timeout: float = 30.0):
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password = username, password
        self.starttls, self.timeout = starttls, timeout

    @classmethod
    def from_settings(cls, settings) -> SmtpSender:
        if not settings.smtp_host:
            raise EmailError("AUDITORYX_SMTP_HOST is not set: e-mails cannot be sent")
        return cls(settings.smtp_host, settings.smtp_port, sender=settings.smtp_from,
                   username=settings.smtp_username, password=settings.smtp_password,
                   starttls=settings.smtp_starttls, timeout=settings.smtp_timeout_seconds)

    def send(self, email: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(email)

    def __call__(self, message: outbox.Message) -> outbox.Outcome:
        try:
            email = build_message(message.payload, sender=self.sender, delivery_id=message.id)
        except (MissingAttachment, KeyError, ValueError) as exc:
            return outbox.Outcome.failed(f"cannot build the e-mail: {exc}", permanent=True)
        try:
            self.send(email)
        except smtplib.SMTPRecipientsRefused as exc:
            refused = ", ".join(f"{address} ({code})" for address, (code, _text) in exc.recipients.items())
            return outbox.Outcome.failed(f"recipients refused: {refused}", permanent=True)
        except smtplib.SMTPResponseException as exc:
            detail = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
            return outbox.Outcome.failed(f"SMTP {exc.smtp_code}: {detail}"[:500], status_code=exc.smtp_code)
        except (OSError, smtplib.SMTPException) as exc:
            return outbox.Outcome.failed(f"{type(exc).__name__}: {exc}"[:500])
        return outbox.Outcome.delivered(250)
