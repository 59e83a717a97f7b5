"""Sending an export by e-mail: through the durable outbox of ``operational/email_delivery.py``.

:func:`send_export` writes one outbox message (recipients, subject, text, HTML, the export's
files as attachments) with ``enqueue_email`` and records the delivery in the tenant's delivery
log ``<exports>/<tenant id>/deliveries.jsonl`` (what the Reports page lists). The outbox itself
retries with back-off and records every attempt. Where the outbox module is not installed yet,
the delivery is recorded as ``not sent`` with the reason and :class:`DeliveryUnavailable` is
raised: nothing pretends to have been sent.

Sending needs ``reports:update`` in that tenant (ORG_ADMIN, ACCOUNTANT; the schedule acts as the
command-line operator).
"""
from __future__ import annotations

import datetime as dt
import html
import importlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from auditoryx.errors import AuditoryxError
from operational.permissions import Action, Actor, PermissionDenied, Resource, require_permission
from reports.export import ExportResult, tenant_exports_dir

DELIVERY_LOG = "deliveries.jsonl"
OUTBOX_MODULE = "operational.email_delivery"
ATTACHED_FORMATS = ("xlsx", "pdf", "html", "csv", "parquet")


class DeliveryUnavailable(AuditoryxError):
    """E-mail delivery is not available (no outbox yet, or no recipients)."""


@dataclass(frozen=True)
class Delivery:
    export: str              # <period>/<stamp> of the export
    recipients: tuple[str, ...]
    subject: str
    status: str              # "queued" or "not sent"
    detail: str
    at: str                  # ISO time (UTC)
    trigger: str             # "schedule" or "send now"
    message_id: str | None = None  # the outbox message (its attempts: email_log)


def _outbox():
    """``enqueue_email`` of the e-mail outbox, or None while that module is not there."""
    try:
        module = importlib.import_module(OUTBOX_MODULE)
    except ModuleNotFoundError as error:
        if error.name in (OUTBOX_MODULE, "operational.email_delivery"):
            return None
        raise
    return getattr(module, "enqueue_email", None)


def outbox_available() -> bool:
    return _outbox() is not None


def _message(export: ExportResult) -> tuple[str, str, str]:
    m = export.manifest
    period = m.get("period", {})
    name = m.get("tenant_name") or "Your organization"
    subject = f"{name} report: {period.get('first')} to {period.get('last')}"
    lines = [f"{name} report for {period.get('first')} to {period.get('last')} (data as of {m.get('as_of')}).", "",
             "Attached:"] + [f"- {f['file']} ({f['rows']} rows)" for f in m.get("files", [])]
    lines += ["", f"Generated {m.get('generated_at')} by AuditoryX Analytics."]
    items = "".join(f"<li>{html.escape(f['file'])} ({f['rows']} rows)</li>" for f in m.get("files", []))
    body = (f"<p>{html.escape(name)} report for {html.escape(str(period.get('first')))} to "
            f"{html.escape(str(period.get('last')))} (data as of {html.escape(str(m.get('as_of')))}).</p>"
            f"<p>Attached:</p><ul>{items}</ul><p style='color:#6b7280'>Generated {html.escape(str(m.get('generated_at')))}"
            f" by AuditoryX Analytics.</p>")
    return subject, "\n".join(lines), body


def _record(exports_dir: Path, tenant_id: str, delivery: Delivery) -> None:
    path = tenant_exports_dir(exports_dir, tenant_id) / DELIVERY_LOG
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(delivery.__dict__ | {"recipients": list(delivery.recipients)}, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def send_export(engine, exports_dir: Path, tenant_id: str, export: ExportResult, recipients: Iterable[str], *,
                actor: Actor, trigger: str = "send now") -> Delivery:
    """Queue the export for e-mail to ``recipients`` (the durable outbox sends it)."""
    if actor.tenant_id != tenant_id or export.manifest.get("tenant_id") != tenant_id:
        raise PermissionDenied("not allowed: send another tenant's reports")
    require_permission(actor, Resource.REPORTS, Action.UPDATE)
    to = tuple(dict.fromkeys(str(r).strip().lower() for r in recipients if str(r).strip()))
    relative = f"{export.folder.parent.name}/{export.folder.name}"
    subject, text, body = _message(export)
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    if not to:
        raise DeliveryUnavailable("no report recipients: add them in Organization settings")
    enqueue = _outbox()
    if enqueue is None:
        delivery = Delivery(relative, to, subject, "not sent", "the e-mail outbox (operational/email_delivery.py) "
                            "is not installed", now, trigger)
        _record(exports_dir, tenant_id, delivery)
        raise DeliveryUnavailable("e-mail delivery is not available yet (no outbox): the export is kept on the "
                                  "Reports page")
    attachments = [str(export.folder / f["file"]) for f in export.manifest.get("files", [])
                   if f.get("format") in ATTACHED_FORMATS]
    from sqlalchemy.orm import Session

    with Session(engine) as session, session.begin():
        message_id = enqueue(session, tenant_id=tenant_id, to=list(to), subject=subject, text=text, html=body,
                             attachments=attachments)
    delivery = Delivery(relative, to, subject, "queued", f"{len(attachments)} attachments", now, trigger,
                        str(message_id) if message_id else None)
    _record(exports_dir, tenant_id, delivery)
    return delivery


def outbox_deliveries(engine, actor: Actor, limit: int = 50) -> list | None:
    """The tenant's e-mails in the outbox with their attempts (``email_log``), or None while the
    outbox module is not there."""
    try:
        module = importlib.import_module(OUTBOX_MODULE)
    except ModuleNotFoundError:
        return None
    email_log = getattr(module, "email_log", None)
    return None if email_log is None else email_log(engine, actor, limit=limit)


def list_deliveries(exports_dir: Path, tenant_id: str, *, actor: Actor, limit: int = 100) -> list[dict[str, Any]]:
    """The tenant's delivery log, newest first."""
    if actor.tenant_id != tenant_id:
        raise PermissionDenied("not allowed: read another tenant's reports")
    require_permission(actor, Resource.REPORTS, Action.READ)
    path = tenant_exports_dir(exports_dir, tenant_id) / DELIVERY_LOG
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries[::-1][:limit]


def report_recipients(engine, tenant_id: str) -> list[str]:
    """The organization's report recipients (``settings["report_recipients"]``), read in its scope."""
    from sqlalchemy.orm import Session

    from operational.repository import TenantRepository

    with Session(engine) as session:
        settings = TenantRepository(session, tenant_id).organization().settings or {}
    return [str(r) for r in settings.get("report_recipients") or []]
