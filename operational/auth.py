"""Password hashing (argon2) and login: a user's email and password → their tenant."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from operational.models import Organization, User


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class SessionUser:
    """Who is logged in. The tenant comes from here and nowhere else."""

    user_id: str
    email: str
    name: str
    role: str
    tenant_id: str
    tenant_slug: str
    tenant_name: str


def authenticate(engine: Engine, email: str, password: str) -> SessionUser | None:
    """The user with this email and password, if active in an active organization."""
    email = (email or "").strip().lower()
    if not email or not password:
        return None
    with Session(engine) as session:
        row = session.execute(
            select(User, Organization)
            .join(Organization, Organization.id == User.org_id)
            .where(func.lower(User.email) == email)
        ).first()
        if row is None:
            _hasher().hash(password)  # same work whether or not the user exists
            return None
        user, org = row
        if not (user.is_active and org.is_active and verify_password(user.password_hash, password)):
            return None
        session.execute(
            update(User).where(User.id == user.id).values(last_login_at=dt.datetime.now(dt.timezone.utc))
        )
        session.commit()
        return SessionUser(
            user_id=user.id,
            email=user.email,
            name=user.name,
            role=str(user.role),
            tenant_id=org.id,
            tenant_slug=org.slug,
            tenant_name=org.name,
        )
