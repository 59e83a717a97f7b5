"""User administration (operator tasks behind ``auditoryx users``): create, list, reset password.

Writes go through :class:`~operational.repository.TenantRepository`, so they are audited.
Password hashes never leave this module: callers get :class:`UserSummary` objects.
"""
from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from auditoryx.errors import AuditoryxError
from operational.auth import hash_password
from operational.enums import UserRole
from operational.models import User, validate_email
from operational.repository import TenantRepository
from operational.tenants import tenant_id_for_slug

MIN_PASSWORD_LENGTH = 8


@dataclass(frozen=True)
class UserSummary:
    email: str
    name: str
    role: str
    is_active: bool
    last_login_at: dt.datetime | None

    @classmethod
    def of(cls, user: User) -> UserSummary:
        return cls(user.email, user.name, str(user.role), user.is_active, user.last_login_at)


def generate_password() -> str:
    return secrets.token_urlsafe(15)  # 20 characters, 120 bits


def require_schema(engine: Engine) -> None:
    if not inspect(engine).has_table("users"):
        raise AuditoryxError("the operational database has no schema yet: run `auditoryx init`")


def create_user(engine: Engine, *, tenant_slug: str, email: str, name: str, role: str,
                password: str | None = None) -> tuple[UserSummary, str | None]:
    """Create a user; returns it and the generated password when none was given."""
    email = _email(email)
    role = _role(role)
    name = (name or "").strip()
    if not name:
        raise AuditoryxError("a name is required")
    generated = generate_password() if password is None else None
    password_hash = hash_password(_password(generated or password))
    require_schema(engine)
    tenant_id = tenant_id_for_slug(engine, tenant_slug)
    try:
        with Session(engine) as session, session.begin():
            if _find(session, email) is not None:
                raise AuditoryxError(f"a user with email {email} already exists")
            user = TenantRepository(session, tenant_id).add(
                User, email=email, name=name, role=role, password_hash=password_hash)
            summary = UserSummary.of(user)
    except IntegrityError:  # created concurrently
        raise AuditoryxError(f"a user with email {email} already exists") from None
    return summary, generated


def list_users(engine: Engine, *, tenant_slug: str) -> list[UserSummary]:
    require_schema(engine)
    tenant_id = tenant_id_for_slug(engine, tenant_slug)
    with Session(engine) as session:
        users = TenantRepository(session, tenant_id).list(User, order_by=(User.email,))
        return [UserSummary.of(user) for user in users]


def reset_password(engine: Engine, *, email: str, password: str | None = None) -> str | None:
    """Set a new password; returns the generated one when none was given."""
    email = _email(email)
    generated = generate_password() if password is None else None
    password_hash = hash_password(_password(generated or password))
    require_schema(engine)
    with Session(engine) as session, session.begin():
        found = _find(session, email)  # across tenants: an operator task
        if found is None:
            raise AuditoryxError(f"no user with email {email}")
        user_id, tenant_id = found
        TenantRepository(session, tenant_id).update(User, user_id, password_hash=password_hash)
    return generated


def _find(session: Session, email: str) -> tuple[str, str] | None:
    row = session.execute(select(User.id, User.org_id).where(func.lower(User.email) == email)).first()
    return None if row is None else (row.id, row.org_id)


def _email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        return validate_email(email)
    except ValueError as exc:
        raise AuditoryxError(str(exc)) from None


def _role(role: str) -> UserRole:
    try:
        return UserRole((role or "").strip().upper())
    except ValueError:
        raise AuditoryxError(f"invalid role {role!r}: one of {', '.join(UserRole)}") from None


def _password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuditoryxError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return password
