"""Append-only audit log: who changed what, with the values before and after.

Entries are added to the writer's session, so they commit or roll back with the change itself.
Nothing here updates or deletes an entry: the ORM refuses to (models.py), and on PostgreSQL the
application role has only SELECT and INSERT on ``audit_log`` (migration 0002).
"""
from __future__ import annotations

import datetime as dt
import decimal
import enum
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from operational.models import AuditLog, new_id

REDACTED_FIELDS = frozenset({"password_hash"})
REDACTED = "[redacted]"


def jsonable(value: Any) -> Any:
    """A JSON-ready copy: exact decimals and timestamps as text, enums by name."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    return value


def _clean(values: dict[str, Any] | None) -> dict[str, Any] | None:
    if values is None:
        return None
    return {key: REDACTED if key in REDACTED_FIELDS else jsonable(value) for key, value in values.items()}


def snapshot(obj: Any, fields: set[str] | None = None) -> dict[str, Any]:
    """Column values of an ORM object (all, or only ``fields``)."""
    keys = [attr.key for attr in inspect(obj).mapper.column_attrs]
    return {key: getattr(obj, key) for key in keys if fields is None or key in fields}


def record(session: Session, *, tenant_id: str, actor_id: str | None, action: str, entity: str,
           entity_id: str, before: dict[str, Any] | None, after: dict[str, Any] | None,
           actor_key_id: str | None = None) -> AuditLog:
    """Add one audit entry to ``session`` (written with the caller's transaction).

    ``actor_id`` is the user who acted (if any), ``actor_key_id`` the API key (if any)."""
    if not tenant_id:
        raise ValueError("an audit entry needs a tenant")
    if not action or len(action) > 40 or not entity or len(entity) > 40:
        raise ValueError("an audit entry needs an action and an entity of at most 40 characters")
    entry = AuditLog(id=new_id(), org_id=tenant_id, actor_id=actor_id, actor_key_id=actor_key_id,
                     action=action, entity=entity,
                     entity_id=entity_id, before=_clean(before), after=_clean(after))
    session.add(entry)
    return entry


def entries(session: Session, tenant_id: str, *, entity: str | None = None,
            entity_id: str | None = None) -> list[AuditLog]:
    """One tenant's audit entries, oldest first, optionally for one entity."""
    query = select(AuditLog).where(AuditLog.org_id == tenant_id)
    if entity is not None:
        query = query.where(AuditLog.entity == entity)
    if entity_id is not None:
        query = query.where(AuditLog.entity_id == entity_id)
    return list(session.scalars(query.order_by(AuditLog.at, AuditLog.id)))
