"""Idempotent writes: a request retried with the same ``Idempotency-Key`` gets the first answer.

The first request's answer is stored with a hash of what was asked (method, path, body); a retry
with the same key and the same request replays it, and the same key with a different request is
refused (a client bug that must not book twice or book the wrong thing). Keys are per tenant and
per principal (API key or user) and are kept for :data:`RETENTION`.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from auditoryx.errors import AuditoryxError
from operational.models import ApiIdempotency
from operational.repository import TenantRepository

MAX_KEY_LENGTH = 200
RETENTION = dt.timedelta(hours=24)


class IdempotencyMismatch(AuditoryxError):
    """The key was used before for a different request."""


class InvalidIdempotencyKey(AuditoryxError):
    """An empty or overlong key."""


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: str


def request_hash(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def check_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidIdempotencyKey(f"an Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters")
    return key


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


IN_PROGRESS = 0  # status_code of a reserved key whose request is still running


class IdempotencyInProgress(AuditoryxError):
    """The first request with this key has not finished yet."""


def _row(session: Session, tenant_id: str, principal: str, key: str) -> ApiIdempotency | None:
    return session.scalar(select(ApiIdempotency).where(
        ApiIdempotency.org_id == tenant_id, ApiIdempotency.principal == principal, ApiIdempotency.idem_key == key))


def reserve(engine: Engine, tenant_id: str, principal: str, key: str, fingerprint: str) -> StoredResponse | None:
    """Claim the key for this request (None: go ahead, then :func:`complete` or :func:`release`),
    or the stored answer of the first request with it. Raises :class:`IdempotencyMismatch` for a
    different request and :class:`IdempotencyInProgress` while the first one still runs."""
    for _ in range(2):
        try:
            with Session(engine) as session, session.begin():
                TenantRepository(session, tenant_id)
                row = _row(session, tenant_id, principal, key)
                if row is not None and _aware(row.created_at) < _utcnow() - RETENTION:
                    session.delete(row)  # expired: the key starts afresh
                    session.flush()
                    row = None
                if row is None:
                    session.add(ApiIdempotency(org_id=tenant_id, principal=principal, idem_key=key,
                                               request_hash=fingerprint, status_code=IN_PROGRESS,
                                               response_body="", created_at=_utcnow()))
                    return None
                if row.request_hash != fingerprint:
                    raise IdempotencyMismatch("this Idempotency-Key was already used for a different request")
                if row.status_code == IN_PROGRESS:
                    raise IdempotencyInProgress("a request with this Idempotency-Key is still being processed")
                return StoredResponse(row.status_code, row.response_body)
        except IntegrityError:  # a concurrent request reserved it first: read what it stored
            continue
    raise IdempotencyInProgress("a request with this Idempotency-Key is still being processed")


def complete(engine: Engine, tenant_id: str, principal: str, key: str, response: StoredResponse) -> None:
    """Store the answer of the request that reserved the key."""
    with Session(engine) as session, session.begin():
        TenantRepository(session, tenant_id)
        row = _row(session, tenant_id, principal, key)
        if row is not None:
            row.status_code, row.response_body = response.status_code, response.body


def release(engine: Engine, tenant_id: str, principal: str, key: str) -> None:
    """Forget a reservation whose request failed unexpectedly: a retry may run it again."""
    with Session(engine) as session, session.begin():
        TenantRepository(session, tenant_id)
        session.execute(delete(ApiIdempotency).where(
            ApiIdempotency.org_id == tenant_id, ApiIdempotency.principal == principal,
            ApiIdempotency.idem_key == key, ApiIdempotency.status_code == IN_PROGRESS))
