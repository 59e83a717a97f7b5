"""Login and login sessions: password hashes (argon2), throttled sign-in, server-side sessions.

- :func:`authenticate` costs the same work whether the email is unknown, the user or the
  organization deactivated, or the password wrong (one argon2 verification, one throttle write),
  and answers them all alike. Failed attempts count per account and per client address
  (``login_throttle``, rules in :mod:`operational.throttle`), so the limits hold across processes.
- A successful login starts a :class:`UserSession` row: the browser keeps only a random token,
  the database only its SHA-256. :func:`resume_session` re-checks it on every request: revoked,
  idle too long, past its absolute end, user or organization deactivated, or the user's role
  changed since sign-in all end it at once.
- On PostgreSQL the web tier runs as a member of ``auditoryx_app`` under row-level security: the
  two lookups made before a tenant is known go through ``SECURITY DEFINER`` functions
  (migration 0003); everything else runs scoped to the tenant.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, literal, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from operational import audit, rls, throttle
from operational.enums import UserRole
from operational.models import Artist, LoginThrottle, Organization, User, UserSession, new_id
from operational.types import UtcDateTime

SESSION_TOKEN_BYTES = 32
TOUCH_EVERY = dt.timedelta(seconds=60)  # last_seen_at moves at most this often (one write a minute)


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash with the same parameters as real ones, verified when there is no real one."""
    return _hasher().hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass(frozen=True)
class SessionUser:
    """Who is logged in. The tenant comes from here and nowhere else.

    ``tenant_*`` name the tenant the user acts in: their own, or, for a SUPER_ADMIN who opened
    another tenant from the platform page, that tenant (then ``read_only`` is set and
    ``home_tenant_id`` is their own organization).
    """

    user_id: str
    email: str
    name: str
    role: str
    tenant_id: str
    tenant_slug: str
    tenant_name: str
    permissions: tuple[str, ...] = ()
    artist_ids: tuple[str, ...] = ()
    home_tenant_id: str | None = None
    read_only: bool = False

    @property
    def own_tenant_id(self) -> str:
        return self.home_tenant_id or self.tenant_id

    def actor(self):
        """The permission module's view of this user (operational.permissions.Actor)."""
        from operational.permissions import Actor

        return Actor.of(user_id=self.user_id, tenant_id=self.tenant_id, role=self.role,
                        permissions=self.permissions, artist_ids=self.artist_ids, read_only=self.read_only)


@dataclass(frozen=True)
class LoginResult:
    user: SessionUser | None = None
    retry_after_seconds: float = 0.0  # > 0: throttled, nothing was checked

    @property
    def throttled(self) -> bool:
        return self.retry_after_seconds > 0


# credential and session lookups made before the tenant is known

def _credential(session: Session, email: str) -> Any | None:
    if session.get_bind().dialect.name == "postgresql":
        return session.execute(text("SELECT * FROM auditoryx_login_credential(:email)"), {"email": email}).first()
    return session.execute(
        select(User.id.label("user_id"), User.org_id, User.password_hash, User.is_active.label("user_active"),
               Organization.is_active.label("org_active"))
        .join(Organization, Organization.id == User.org_id).where(User.email == email)).first()


def _session_row(session: Session, token_hash: str) -> Any | None:
    if session.get_bind().dialect.name == "postgresql":
        return session.execute(text("SELECT * FROM auditoryx_session_by_token(:token)"), {"token": token_hash}).first()
    return session.execute(
        select(UserSession.id.label("session_id"), UserSession.org_id, UserSession.user_id,
               UserSession.role.label("session_role"), UserSession.created_at, UserSession.last_seen_at,
               UserSession.expires_at, UserSession.revoked_at, UserSession.viewing_org_id,
               User.role.label("user_role"), User.is_active.label("user_active"), User.email,
               User.name.label("user_name"), User.permissions, Organization.is_active.label("org_active"),
               Organization.slug.label("org_slug"), Organization.name.label("org_name"))
        .join(User, (User.id == UserSession.user_id) & (User.org_id == UserSession.org_id))
        .join(Organization, Organization.id == UserSession.org_id)
        .where(UserSession.token_hash == token_hash)).first()


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


# throttling

def _throttle_keys(email: str, client_address: str | None) -> list[tuple[str, throttle.ThrottlePolicy]]:
    keys = [(throttle.account_key(email), throttle.ACCOUNT_POLICY)]
    if client_address:
        keys.append((throttle.address_key(client_address), throttle.ADDRESS_POLICY))
    return keys


def _state(row: LoginThrottle | None) -> throttle.ThrottleState | None:
    if row is None:
        return None
    return throttle.ThrottleState(row.failures, _aware(row.last_failure_at), _aware(row.locked_until))


def _wait(session: Session, keys, now: dt.datetime) -> float:
    rows = {row.key: row for row in session.scalars(
        select(LoginThrottle).where(LoginThrottle.key.in_([key for key, _ in keys])))}
    return max(throttle.seconds_to_wait(_state(rows.get(key)), now, policy) for key, policy in keys)


def _count_failure(session: Session, keys, now: dt.datetime) -> None:
    """One more failure for each key; the row is locked (written first) while it is computed."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    for key, policy in keys:
        session.execute(insert(LoginThrottle).values(key=key, failures=0, last_failure_at=now)
                        .on_conflict_do_nothing(index_elements=["key"]))
        query = select(LoginThrottle).where(LoginThrottle.key == key).execution_options(populate_existing=True)
        row = session.scalars(query.with_for_update() if dialect == "postgresql" else query).one()
        state = throttle.after_failure(_state(row) if row.failures else None, now, policy)
        session.execute(update(LoginThrottle).where(LoginThrottle.key == key).values(
            failures=state.failures, last_failure_at=state.last_failure_at,
            locked_until=literal(state.locked_until, UtcDateTime)))


def authenticate(engine: Engine, email: str, password: str, *, client_address: str | None = None,
                 tenant_id: str | None = None, now: dt.datetime | None = None) -> LoginResult:
    """Check a login. Unknown email, deactivated user or organization and wrong password all cost
    one argon2 verification and one throttle write, and all answer ``LoginResult(user=None)``.
    ``tenant_id``: the login page belongs to this tenant (branded by host); a user of another
    tenant is refused there the same way."""
    now = now or _utcnow()
    email = (email or "").strip().lower()[:254]
    password = password or ""
    keys = _throttle_keys(email, client_address)
    with Session(engine) as session:
        wait = _wait(session, keys, now)
        if wait > 0:
            return LoginResult(retry_after_seconds=wait)
        credential = _credential(session, email) if email else None
        matches = verify_password(credential.password_hash if credential else _dummy_hash(), password)
        allowed = bool(matches and password and credential is not None
                       and credential.user_active and credential.org_active
                       and (tenant_id is None or credential.org_id == tenant_id))
        session.rollback()
        if not allowed:
            with session.begin():
                _count_failure(session, keys, now)
            return LoginResult()
    with Session(engine) as session, session.begin():
        rls.tenant_scope(session.connection(), credential.org_id)
        session.execute(update(User).where(User.id == credential.user_id).values(last_login_at=now))
        session.execute(LoginThrottle.__table__.delete().where(LoginThrottle.key == keys[0][0]))
        user = _session_user(session, credential.org_id, credential.user_id)
    return LoginResult(user=user)


def _session_user(session: Session, tenant_id: str, user_id: str) -> SessionUser:
    """The user as the session shows them (the caller has scoped the transaction to the tenant)."""
    user, org = session.execute(
        select(User, Organization).join(Organization, Organization.id == User.org_id)
        .where(User.id == user_id, User.org_id == tenant_id)).one()
    artist_ids: Iterable[str] = ()
    if user.role == UserRole.CREATOR:
        artist_ids = session.scalars(select(Artist.id).where(Artist.org_id == tenant_id, Artist.user_id == user_id))
    return SessionUser(user_id=user.id, email=user.email, name=user.name, role=str(user.role),
                       tenant_id=org.id, tenant_slug=org.slug, tenant_name=org.name,
                       permissions=tuple(user.permissions or ()), artist_ids=tuple(sorted(artist_ids)))


def active_user(engine: Engine, tenant_id: str, user_id: str) -> SessionUser | None:
    """The user as a session would show them, if they and their organization are still active
    (API tokens ask on every request, so a deactivation or role change applies at once)."""
    with Session(engine) as session, session.begin():
        rls.tenant_scope(session.connection(), tenant_id)
        active = session.execute(
            select(User.is_active, Organization.is_active).join(Organization, Organization.id == User.org_id)
            .where(User.id == user_id, User.org_id == tenant_id)).first()
        if active is None or not all(active):
            return None
        return _session_user(session, tenant_id, user_id)


# sessions

def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SessionLimits:
    idle: dt.timedelta = dt.timedelta(minutes=30)
    absolute: dt.timedelta = dt.timedelta(hours=12)


def start_session(engine: Engine, user: SessionUser, *, limits: SessionLimits = SessionLimits(),
                  client_address: str | None = None, now: dt.datetime | None = None) -> str:
    """Record a new login session; returns its token (give it to the browser, never store it)."""
    now = now or _utcnow()
    token = secrets.token_urlsafe(SESSION_TOKEN_BYTES)
    with Session(engine) as session, session.begin():
        rls.tenant_scope(session.connection(), user.own_tenant_id)
        session.add(UserSession(id=new_id(), token_hash=_token_hash(token), org_id=user.own_tenant_id,
                                user_id=user.user_id, role=user.role, created_at=now, last_seen_at=now,
                                expires_at=now + limits.absolute,
                                client_address=(client_address or None) and client_address[:64]))
    return token


def resume_session(engine: Engine, token: str | None, *, limits: SessionLimits = SessionLimits(),
                   now: dt.datetime | None = None) -> SessionUser | None:
    """The user of a live session, or None (unknown token, ended, expired, user changed)."""
    if not token or len(token) > 128:
        return None
    now = now or _utcnow()
    with Session(engine) as session:
        row = _session_row(session, _token_hash(token))
        if row is None:
            return None
        live = (row.revoked_at is None and now < _aware(row.expires_at)
                and now - _aware(row.last_seen_at) < limits.idle
                and row.user_active and row.org_active and str(row.user_role) == str(row.session_role))
        if not live:
            session.rollback()
            if row.revoked_at is None:
                _revoke(engine, row.org_id, row.session_id, now)
            return None
        session.rollback()
    with Session(engine) as session, session.begin():
        rls.tenant_scope(session.connection(), row.org_id)
        if now - _aware(row.last_seen_at) >= TOUCH_EVERY:
            session.execute(update(UserSession).where(UserSession.id == row.session_id).values(last_seen_at=now))
        user = _session_user(session, row.org_id, row.user_id)
    if row.viewing_org_id and row.viewing_org_id != row.org_id and str(row.user_role) == UserRole.SUPER_ADMIN:
        user = _viewing(engine, user, row.viewing_org_id)
    return user


def _viewing(engine: Engine, user: SessionUser, tenant_id: str) -> SessionUser:
    with Session(engine) as session, session.begin():
        rls.tenant_scope(session.connection(), tenant_id)
        org = session.execute(select(Organization.id, Organization.slug, Organization.name)
                              .where(Organization.id == tenant_id, Organization.is_active)).first()
    if org is None:
        return user
    return replace(user, tenant_id=org.id, tenant_slug=org.slug, tenant_name=org.name,
                   home_tenant_id=user.tenant_id, read_only=True, artist_ids=())


def _revoke(engine: Engine, tenant_id: str, session_id: str, now: dt.datetime) -> None:
    with Session(engine) as session, session.begin():
        rls.tenant_scope(session.connection(), tenant_id)
        session.execute(update(UserSession).where(UserSession.id == session_id, UserSession.revoked_at.is_(None))
                        .values(revoked_at=now))


def end_session(engine: Engine, token: str | None, *, now: dt.datetime | None = None) -> None:
    """Log out: the token stops working at once, in every process."""
    if not token or len(token) > 128:
        return
    with Session(engine) as session:
        row = _session_row(session, _token_hash(token))
    if row is not None:
        _revoke(engine, row.org_id, row.session_id, now or _utcnow())


def end_user_sessions(session: Session, tenant_id: str, user_id: str, *, now: dt.datetime | None = None) -> int:
    """End every session of a user (password reset, deactivation); in the caller's transaction."""
    result = session.execute(update(UserSession).where(
        UserSession.org_id == tenant_id, UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now or _utcnow()))
    return result.rowcount or 0


def view_tenant(engine: Engine, token: str, operator: SessionUser, tenant_id: str | None, *,
                now: dt.datetime | None = None) -> None:
    """A SUPER_ADMIN opens another tenant read-only (or returns home with ``None``); audited in
    the opened tenant's log. The choice lives in the server-side session, never in the URL."""
    from operational.permissions import PermissionDenied

    if str(operator.role) != UserRole.SUPER_ADMIN:
        raise PermissionDenied("only platform operators open other tenants")
    now = now or _utcnow()
    home = operator.own_tenant_id
    with Session(engine) as session, session.begin():
        rls.tenant_scope(session.connection(), home)
        changed = session.execute(update(UserSession).where(
            UserSession.token_hash == _token_hash(token), UserSession.user_id == operator.user_id,
            UserSession.revoked_at.is_(None)).values(viewing_org_id=tenant_id if tenant_id != home else None))
        if not changed.rowcount:
            raise PermissionDenied("this session has ended")
    if tenant_id and tenant_id != home:
        with Session(engine) as session, session.begin():
            rls.tenant_scope(session.connection(), tenant_id)
            audit.record(session, tenant_id=tenant_id, actor_id=operator.user_id, action="view_read_only",
                         entity="organizations", entity_id=tenant_id, before=None,
                         after={"operator": operator.email, "at": now})
