"""API keys of an organization: created (the secret shown once), listed, revoked, and checked.

A key is ``axk_<prefix>_<secret>``; only the SHA-256 of the whole string is stored. Managing keys
is an organization setting (``settings: update``); checking a key happens before any tenant is
known, so on PostgreSQL it goes through the ``auditoryx_api_key_by_hash`` function (migration
0004) and the key's tenant then scopes everything else.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from auditoryx.errors import AuditoryxError
from operational import audit
from operational.models import ApiKey, Organization
from operational.permissions import Action, Actor, Resource, parse_scopes, require_permission
from operational.repository import NotFoundError, TenantRepository

KEY_PREFIX = "axk_"
MAX_NAME_LENGTH = 100
TOUCH_EVERY = dt.timedelta(seconds=60)  # last_used_at moves at most this often


class InvalidApiKey(AuditoryxError):
    """No such key, or it was revoked, expired, or its organization is inactive."""


@dataclass(frozen=True)
class ApiKeySummary:
    id: str
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeySummary:
        return cls(id=key.id, name=key.name, prefix=key.prefix, scopes=tuple(key.scopes or ()),
                   created_at=key.created_at, expires_at=key.expires_at, last_used_at=key.last_used_at,
                   revoked_at=key.revoked_at)

    @property
    def active(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > _utcnow())


@dataclass(frozen=True)
class KeyIdentity:
    """What a valid key says about its caller."""

    key_id: str
    tenant_id: str
    scopes: tuple[str, ...]
    plan: str


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def create_key(engine: Engine, actor: Actor, *, name: str, scopes: Iterable[str],
               expires_at: dt.datetime | None = None) -> tuple[ApiKeySummary, str]:
    """A new key and its secret (shown once, never stored)."""
    require_permission(actor, Resource.SETTINGS, Action.UPDATE)
    name = " ".join(str(name or "").split())
    if not name or len(name) > MAX_NAME_LENGTH:
        raise AuditoryxError(f"an API key needs a name of 1 to {MAX_NAME_LENGTH} characters")
    scopes = parse_scopes(scopes)
    expires_at = _aware(expires_at)
    if expires_at is not None and expires_at <= _utcnow():
        raise AuditoryxError("an API key's expiry must be in the future")
    prefix = secrets.token_hex(4)
    secret = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    with Session(engine) as session, session.begin():
        repo = TenantRepository(session, actor.tenant_id, actor_id=actor.user_id, actor_key_id=actor.api_key_id)
        key = ApiKey(org_id=actor.tenant_id, name=name, prefix=f"{KEY_PREFIX}{prefix}", key_hash=key_hash(secret),
                     scopes=list(scopes), created_by_id=actor.user_id, expires_at=expires_at)
        session.add(key)
        session.flush()
        audit.record(session, tenant_id=repo.tenant_id, actor_id=actor.user_id, actor_key_id=actor.api_key_id,
                     action="create", entity="api_keys", entity_id=key.id, before=None,
                     after={"name": name, "scopes": list(scopes), "expires_at": expires_at})
        return ApiKeySummary.of(key), secret


def list_keys(engine: Engine, actor: Actor) -> list[ApiKeySummary]:
    require_permission(actor, Resource.SETTINGS, Action.READ)
    with Session(engine) as session:
        TenantRepository(session, actor.tenant_id)  # scopes the transaction (PostgreSQL)
        keys = session.scalars(select(ApiKey).where(ApiKey.org_id == actor.tenant_id)
                               .order_by(ApiKey.created_at, ApiKey.id))
        return [ApiKeySummary.of(key) for key in keys]


def revoke_key(engine: Engine, actor: Actor, key_id: str) -> ApiKeySummary:
    """Revoke at once: the next request with this key is refused, in every process."""
    require_permission(actor, Resource.SETTINGS, Action.UPDATE)
    with Session(engine) as session, session.begin():
        TenantRepository(session, actor.tenant_id)
        key = session.scalar(select(ApiKey).where(ApiKey.org_id == actor.tenant_id, ApiKey.id == key_id)
                             .with_for_update())
        if key is None:
            raise NotFoundError(f"no API key {key_id!r} in this organization")
        if key.revoked_at is None:
            key.revoked_at = _utcnow()
            audit.record(session, tenant_id=actor.tenant_id, actor_id=actor.user_id,
                         actor_key_id=actor.api_key_id, action="revoke", entity="api_keys", entity_id=key.id,
                         before={"revoked_at": None}, after={"revoked_at": key.revoked_at})
        return ApiKeySummary.of(key)


def authenticate_key(engine: Engine, secret: str, *, now: dt.datetime | None = None) -> KeyIdentity:
    """The identity of a valid key, or :class:`InvalidApiKey` (one message for every reason)."""
    now = now or _utcnow()
    if not secret.startswith(KEY_PREFIX) or len(secret) > 200:
        raise InvalidApiKey("invalid API key")
    digest = key_hash(secret)
    if engine.dialect.name == "postgresql":
        row = _key_row_postgresql(engine, digest)
    else:
        with Session(engine) as session:
            row = session.execute(
                select(ApiKey.id, ApiKey.org_id, ApiKey.scopes, ApiKey.expires_at, ApiKey.revoked_at,
                       Organization.is_active, Organization.plan)
                .join(Organization, Organization.id == ApiKey.org_id).where(ApiKey.key_hash == digest)).first()
    return identity_of_row(row, now)


def identity_of_row(row: tuple | None, now: dt.datetime | None = None) -> KeyIdentity:
    """The identity of a key row (key_id, org_id, scopes, expires_at, revoked_at, org_active, plan),
    or :class:`InvalidApiKey` when there is none or it no longer works."""
    now = now or _utcnow()
    if row is None:
        raise InvalidApiKey("invalid API key")
    key_id, org_id, scopes, expires_at, revoked_at, org_active, plan = row
    expires_at = _aware(expires_at)
    if revoked_at is not None or not org_active or (expires_at is not None and expires_at <= now):
        raise InvalidApiKey("invalid API key")
    return KeyIdentity(key_id=key_id, tenant_id=org_id, scopes=tuple(scopes or ()), plan=str(plan))


def _key_row_postgresql(engine: Engine, digest: str) -> tuple | None:
    """The key's row through ``auditoryx_api_key_by_hash``, read on every request (a revocation
    counts at once): one read-only statement in autocommit, one round trip, on the driver
    connection (no ORM session and no BEGIN/ROLLBACK on the API's hot path)."""
    raw = engine.raw_connection()
    try:
        connection = raw.driver_connection
        connection.autocommit = True  # the connection is idle here; set back before it returns to the pool
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT key_id, org_id, scopes, expires_at, revoked_at, org_active, org_plan "
                               "FROM auditoryx_api_key_by_hash(%s)", (digest,))
                return cursor.fetchone()
        finally:
            connection.autocommit = False
    except BaseException:
        raw.invalidate()  # whatever state it is in, it is not reused
        raise
    finally:
        raw.close()


def touch_key(engine: Engine, identity: KeyIdentity, *, now: dt.datetime | None = None) -> None:
    """Record the key's last use (at most once a minute per key)."""
    now = now or _utcnow()
    with Session(engine) as session, session.begin():
        TenantRepository(session, identity.tenant_id)
        session.execute(update(ApiKey).where(
            ApiKey.org_id == identity.tenant_id, ApiKey.id == identity.key_id,
            (ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at < now - TOUCH_EVERY)).values(last_used_at=now))
