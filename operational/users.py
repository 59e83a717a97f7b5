"""User administration: the rules behind the users page, the CLI's `auditoryx users` and the API.

Every administration function takes the acting :class:`~operational.permissions.Actor`, asks
:func:`~operational.permissions.require_permission` first (resource ``users``), acts only inside
``actor.tenant_id`` and writes through :class:`~operational.repository.TenantRepository`, so
every change leaves an audit entry whose ``actor_id`` is the actor's user id.

Rules besides the permission matrix:

- e-mail addresses are stored ``strip().lower()`` and are unique over the whole platform; a taken
  address gives the same "already exists" message wherever it is taken (another tenant included);
- passwords follow :mod:`operational.passwords`; a generated one is returned once, never stored;
- nobody in an organization gives the SUPER_ADMIN role or changes a SUPER_ADMIN user (platform
  operators are managed from the platform); only an ORG_ADMIN (not a user holding a
  ``users:…`` grant) gives the ORG_ADMIN role, changes an ORG_ADMIN or sets permission entries;
- an actor cannot change their own role or permission entries nor deactivate themselves, and
  the organization's last active ORG_ADMIN can be neither demoted nor deactivated;
- a user of another tenant is "not found", with the same message as an id that does not exist;
- deactivating a user or resetting their password ends their login sessions in the same
  transaction (:func:`operational.auth.end_user_sessions`); a role change ends them on their
  next request (the session remembers the role it started with).

Functions accept an ``Engine`` (one transaction per call) or a ``Session`` (the caller owns the
transaction: changes are flushed, never committed). Password hashes never leave this module:
callers get :class:`UserSummary` objects.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping, Sequence

from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from auditoryx.errors import AuditoryxError
from operational.auth import end_user_sessions, hash_password
from operational.enums import UserRole
from operational.models import User, validate_email
from operational.passwords import WeakPassword, check_password, generate_password
from operational.permissions import (
    Action,
    Actor,
    PermissionDenied,
    Resource,
    command_line_operator,
    parse_permissions,
    platform_operator,
    require_permission,
)
from operational.repository import NotFoundError, TenantRepository
from operational.tenants import tenant_id_for_slug

__all__ = [
    "BULK_COLUMNS", "BulkRowResult", "DuplicateEmail", "MAX_BULK_ROWS", "NotFoundError", "UserSummary",
    "WeakPassword", "bulk_create_users", "change_role", "create_user", "deactivate_user", "find_user_by_email",
    "generate_password", "get_user", "list_tenant_users", "list_users", "new_user", "reactivate_user",
    "reset_password", "reset_user_password", "set_user_permissions",
]

MAX_NAME_LENGTH = 200
MAX_PERMISSION_ENTRIES = 100
MAX_BULK_ROWS = 1000
BULK_COLUMNS = ("email", "name", "role", "password")
"""Header of a bulk-creation CSV; ``password`` is optional (blank or absent: one is generated)."""

Db = Engine | Session


class DuplicateEmail(AuditoryxError):
    """The e-mail address is taken (anywhere on the platform; the message never says where)."""


@dataclass(frozen=True)
class UserSummary:
    """What the pages and the CLI see of a user (never the password hash)."""

    id: str
    email: str
    name: str
    role: str
    is_active: bool
    last_login_at: dt.datetime | None
    permissions: tuple[str, ...] = ()
    created_at: dt.datetime | None = None

    @classmethod
    def of(cls, user: User) -> UserSummary:
        return cls(user.id, user.email, user.name, str(user.role), bool(user.is_active), user.last_login_at,
                   tuple(user.permissions or ()), user.created_at)


@dataclass(frozen=True)
class BulkRowResult:
    """The outcome of one row of :func:`bulk_create_users`."""

    row: int                 # record number in the CSV, the header being row 1
    email: str
    status: str              # "created", "invalid" or "duplicate"
    message: str
    generated_password: str | None = None   # shown once
    user_id: str | None = None

    @property
    def created(self) -> bool:
        return self.status == "created"


def require_schema(engine: Engine) -> None:
    if not inspect(engine).has_table("users"):
        raise AuditoryxError("the operational database has no schema yet: run `auditoryx init`")


# Reading

def list_tenant_users(db: Db, actor: Actor) -> list[UserSummary]:
    """The users of the actor's tenant, by e-mail address."""
    require_permission(actor, Resource.USERS, Action.READ)
    with _reading(db) as session:
        return [UserSummary.of(u) for u in _repo(session, actor).list(User, order_by=(User.email,))]


def get_user(db: Db, actor: Actor, user_id: str) -> UserSummary:
    """One user of the actor's tenant, or :class:`NotFoundError`."""
    require_permission(actor, Resource.USERS, Action.READ)
    with _reading(db) as session:
        return UserSummary.of(_target(_repo(session, actor), user_id))


def find_user_by_email(db: Db, actor: Actor, email: str) -> UserSummary:
    """The user of the actor's tenant with this address, or :class:`NotFoundError` (also when the
    address belongs to another tenant)."""
    require_permission(actor, Resource.USERS, Action.READ)
    email = _email(email)
    with _reading(db) as session:
        found = _repo(session, actor).list(User, func.lower(User.email) == email)
        if not found:
            raise NotFoundError(f"no user with email {email} in this organization")
        return UserSummary.of(found[0])


# Writing

def new_user(db: Db, actor: Actor, *, email: str, name: str, role: str | UserRole,
             password: str | None = None, permissions: Iterable[str] | None = None
             ) -> tuple[UserSummary, str | None]:
    """Create a user in the actor's tenant; returns it and the generated password (shown once)
    when none was given."""
    require_permission(actor, Resource.USERS, Action.CREATE)
    return _create(db, actor, email=email, name=name, role=role, password=password, permissions=permissions)


def change_role(db: Db, actor: Actor, user_id: str, role: str | UserRole) -> UserSummary:
    """Give a user of the tenant another role (never SUPER_ADMIN)."""
    require_permission(actor, Resource.USERS, Action.UPDATE)
    new_role = _assignable_role(actor, role)
    with _writing(db) as session:
        repo = _repo(session, actor)
        user = _target(repo, user_id)
        _may_change(actor, user)
        if user.role is new_role:
            raise AuditoryxError(f"{user.email} already has the role {new_role}")
        if user.id == actor.user_id:
            raise PermissionDenied("you cannot change your own role")
        if user.role is UserRole.ORG_ADMIN and user.is_active:
            _keep_an_admin(session, actor.tenant_id, user, "demoted")
        return UserSummary.of(repo.update(User, user.id, role=new_role))


def deactivate_user(db: Db, actor: Actor, user_id: str) -> UserSummary:
    """Stop a user from logging in (the row stays: bookings and the audit log refer to it)."""
    require_permission(actor, Resource.USERS, Action.DELETE)
    with _writing(db) as session:
        repo = _repo(session, actor)
        user = _target(repo, user_id)
        _may_change(actor, user)
        if user.id == actor.user_id:
            raise PermissionDenied("you cannot deactivate yourself")
        if not user.is_active:
            raise AuditoryxError(f"{user.email} is already inactive")
        if user.role is UserRole.ORG_ADMIN:
            _keep_an_admin(session, actor.tenant_id, user, "deactivated")
        updated = repo.update(User, user.id, is_active=False)
        end_user_sessions(session, actor.tenant_id, user.id)  # logged out everywhere, at once
        return UserSummary.of(updated)


def reactivate_user(db: Db, actor: Actor, user_id: str) -> UserSummary:
    """Let a deactivated user log in again."""
    require_permission(actor, Resource.USERS, Action.UPDATE)
    with _writing(db) as session:
        repo = _repo(session, actor)
        user = _target(repo, user_id)
        _may_change(actor, user)
        if user.is_active:
            raise AuditoryxError(f"{user.email} is already active")
        return UserSummary.of(repo.update(User, user.id, is_active=True))


def reset_user_password(db: Db, actor: Actor, user_id: str, password: str | None = None) -> str | None:
    """Set a user's password (checked by :mod:`operational.passwords`); returns the generated one
    when none was given (shown once)."""
    require_permission(actor, Resource.USERS, Action.UPDATE)
    with _writing(db) as session:
        repo = _repo(session, actor)
        user = _target(repo, user_id)
        _may_change(actor, user)
        generated = generate_password() if password is None else None
        password_hash = hash_password(check_password(generated or password, email=user.email))
        repo.update(User, user.id, password_hash=password_hash)
        end_user_sessions(session, actor.tenant_id, user.id)  # whoever knew the old password is logged out
    return generated


def set_user_permissions(db: Db, actor: Actor, user_id: str, entries: Iterable[str]) -> UserSummary:
    """Replace a user's permission entries (``[!]resource:action``, see
    :func:`operational.permissions.parse_permissions`); an empty list removes them all."""
    require_permission(actor, Resource.USERS, Action.UPDATE)
    entries = _permission_entries(entries)
    if actor.role is not UserRole.ORG_ADMIN:
        raise PermissionDenied("only an organization admin can set permission entries")
    with _writing(db) as session:
        repo = _repo(session, actor)
        user = _target(repo, user_id)
        _may_change(actor, user)
        if user.id == actor.user_id:
            raise PermissionDenied("you cannot change your own permission entries")
        return UserSummary.of(repo.update(User, user.id, permissions=list(entries)))


def bulk_create_users(db: Db, actor: Actor, csv_text_or_rows: str | bytes | Iterable[Any]
                      ) -> list[BulkRowResult]:
    """Create many users at once: one result per row, in order.

    Input: CSV text (or bytes) with the header ``email,name,role[,password]``, or rows as
    mappings with those keys (numbered from 2, as under a header). Every row is validated; valid
    rows are created (a blank password is generated and returned once), invalid rows and taken
    addresses are reported and nothing of them is written. Each created row writes its user and
    its audit entry together.
    """
    require_permission(actor, Resource.USERS, Action.CREATE)
    rows = _bulk_rows(csv_text_or_rows)
    results: dict[int, BulkRowResult] = {}
    pending: list[tuple[int, dict[str, Any], str | None]] = []
    first_row_of: dict[str, int] = {}
    for number, raw in rows:
        email_text = str(raw.get("email") or "").strip().lower()
        try:
            values, generated = _validated_row(actor, raw)
        except AuditoryxError as exc:
            results[number] = BulkRowResult(number, email_text, "invalid", str(exc))
            continue
        email = values["email"]
        if email in first_row_of:
            results[number] = BulkRowResult(number, email, "duplicate",
                                            f"{email} appears earlier in this file (row {first_row_of[email]})")
            continue
        first_row_of[email] = number
        pending.append((number, values, generated))

    if pending:  # addresses taken already: reported without hashing their passwords
        with _reading(db) as session:
            _repo(session, actor)
            taken = _taken_emails(session, [values["email"] for _, values, _ in pending])
        for number, values, _ in pending:
            if values["email"] in taken:
                results[number] = BulkRowResult(number, values["email"], "duplicate", _taken_message(values["email"]))
        pending = [item for item in pending if item[0] not in results]
    for _, values, _ in pending:  # the slow part, before the write transaction starts
        values["password_hash"] = hash_password(values.pop("password"))
    if pending:
        with _writing(db) as session:
            repo = _repo(session, actor)
            taken = _taken_emails(session, [values["email"] for _, values, _ in pending])
            for number, values, generated in pending:
                email = values["email"]
                if email in taken:
                    results[number] = BulkRowResult(number, email, "duplicate", _taken_message(email))
                    continue
                try:
                    with _savepoint(session):
                        user = repo.add(User, **values)
                except IntegrityError as exc:  # taken where this session cannot see, or just now
                    if not _is_email_conflict(exc):
                        raise
                    if not _has_savepoints(session):  # the transaction is lost: nothing was imported
                        raise DuplicateEmail(f"{_taken_message(email)} (created meanwhile): nothing was "
                                             "imported, run the import again") from None
                    results[number] = BulkRowResult(number, email, "duplicate", _taken_message(email))
                    continue
                results[number] = BulkRowResult(number, email, "created", "created", generated, user.id)
    return [results[number] for number, _ in rows]


# The CLI's entry points (`auditoryx users …`): the operator acts as the tenant's ORG_ADMIN.

def create_user(engine: Engine, *, tenant_slug: str, email: str, name: str, role: str,
                password: str | None = None) -> tuple[UserSummary, str | None]:
    """Create a user in a tenant from the command line; returns it and the generated password
    when none was given. A SUPER_ADMIN (a platform operator) is created as the platform."""
    require_schema(engine)
    tenant_id = tenant_id_for_slug(engine, tenant_slug)
    if _role(role) is UserRole.SUPER_ADMIN:
        require_permission(platform_operator(), Resource.PLATFORM, Action.CREATE)
        return _create(engine, command_line_operator(tenant_id), email=email, name=name, role=role,
                       password=password, platform=True)
    return new_user(engine, command_line_operator(tenant_id), email=email, name=name, role=role,
                    password=password)


def list_users(engine: Engine, *, tenant_slug: str) -> list[UserSummary]:
    require_schema(engine)
    return list_tenant_users(engine, command_line_operator(tenant_id_for_slug(engine, tenant_slug)))


def reset_password(engine: Engine, *, email: str, password: str | None = None) -> str | None:
    """Set a new password of the user with this address, whichever their tenant; returns the
    generated one when none was given."""
    email = _email(email)
    require_schema(engine)
    with Session(engine) as session:
        found = session.execute(select(User.id, User.org_id, User.role)
                                .where(func.lower(User.email) == email)).first()
    if found is None:
        raise AuditoryxError(f"no user with email {email}")
    if found.role is UserRole.SUPER_ADMIN:  # a platform operator: reset as the platform
        require_permission(platform_operator(), Resource.PLATFORM, Action.UPDATE)
        generated = generate_password() if password is None else None
        password_hash = hash_password(check_password(generated or password, email=email))
        with Session(engine) as session, session.begin():
            TenantRepository(session, found.org_id).update(User, found.id, password_hash=password_hash)
            end_user_sessions(session, found.org_id, found.id)
        return generated
    return reset_user_password(engine, command_line_operator(found.org_id), found.id, password)


# Helpers

@contextmanager
def _reading(db: Db) -> Iterator[Session]:
    if isinstance(db, Session):
        yield db
        return
    require_schema(db)
    with Session(db) as session:
        yield session


@contextmanager
def _writing(db: Db) -> Iterator[Session]:
    if isinstance(db, Session):
        yield db
        db.flush()
        return
    require_schema(db)
    with Session(db) as session, session.begin():
        yield session


def _savepoint(session: Session):
    """A savepoint around one row's writes, so that a refused row leaves the others standing.

    PostgreSQL only: pysqlite starts its transaction lazily, so a first SAVEPOINT would open (and
    its release commit) a transaction of its own. SQLite needs none: it has a single writer and
    no row-level security, so the duplicate check made in the same transaction is exact."""
    return session.begin_nested() if _has_savepoints(session) else nullcontext()


def _has_savepoints(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _repo(session: Session, actor: Actor) -> TenantRepository:
    return TenantRepository(session, actor.tenant_id, actor_id=actor.user_id, actor_key_id=actor.api_key_id)


def _target(repo: TenantRepository, user_id: str) -> User:
    user = repo.get(User, user_id) if isinstance(user_id, str) and user_id else None
    if user is None:  # missing, or another tenant's: the same answer
        raise NotFoundError(f"no user {user_id!r} in this organization")
    return user


def _may_change(actor: Actor, user: User) -> None:
    if user.role is UserRole.SUPER_ADMIN:
        raise PermissionDenied("a SUPER_ADMIN user is managed by the platform, not by an organization")
    if user.role is UserRole.ORG_ADMIN and actor.role is not UserRole.ORG_ADMIN:
        raise PermissionDenied("only an organization admin can change an ORG_ADMIN user")


def _keep_an_admin(session: Session, tenant_id: str, user: User, what: str) -> None:
    """Refuse to leave the tenant without an active ORG_ADMIN (PostgreSQL: the admins' rows are
    locked, so that two admins demoting each other at once cannot both succeed)."""
    query = select(User.id).where(User.org_id == tenant_id, User.role == UserRole.ORG_ADMIN,
                                  User.is_active.is_(True))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    others = [admin_id for admin_id in session.scalars(query) if admin_id != user.id]
    if not others:
        raise AuditoryxError(f"{user.email} is the organization's last active ORG_ADMIN and cannot be {what}: "
                             "make another user ORG_ADMIN first")


def _create(db: Db, actor: Actor, *, email: str, name: str, role: str | UserRole, password: str | None,
            permissions: Iterable[str] | None = None, platform: bool = False) -> tuple[UserSummary, str | None]:
    values, generated = _validated_row(actor, {"email": email, "name": name, "role": role, "password": password},
                                       platform=platform)
    if permissions:
        if actor.role is not UserRole.ORG_ADMIN:
            raise PermissionDenied("only an organization admin can set permission entries")
        values["permissions"] = list(_permission_entries(permissions))
    values["password_hash"] = hash_password(values.pop("password"))
    email = values["email"]
    with _writing(db) as session:
        repo = _repo(session, actor)
        if _taken_emails(session, [email]):
            raise DuplicateEmail(_taken_message(email))
        try:
            with _savepoint(session):
                user = repo.add(User, **values)
        except IntegrityError as exc:  # taken in a tenant this session cannot see, or concurrently
            if not _is_email_conflict(exc):
                raise
            raise DuplicateEmail(_taken_message(email)) from None
        return UserSummary.of(user), generated


def _validated_row(actor: Actor, raw: Mapping[str, Any], *, platform: bool = False
                   ) -> tuple[dict[str, Any], str | None]:
    """``(values for User, generated password or None)`` of one new user, or an AuditoryxError."""
    if raw.get("_error"):
        raise AuditoryxError(f"malformed row: {raw['_error']}")
    email = _email(str(raw.get("email") or ""))
    name = _name(raw.get("name"))
    role = _role(raw.get("role")) if platform else _assignable_role(actor, raw.get("role"))
    password = raw.get("password")
    password = None if password is None or (isinstance(password, str) and password == "") else password
    generated = generate_password() if password is None else None
    check_password(generated or password, email=email)
    return {"email": email, "name": name, "role": role, "password": generated or password}, generated


def _taken_emails(session: Session, emails: Sequence[str]) -> set[str]:
    """Which of these addresses are taken, in any tenant this session can see."""
    taken: set[str] = set()
    for start in range(0, len(emails), 500):
        chunk = list(emails[start:start + 500])
        taken.update(session.scalars(select(func.lower(User.email)).where(func.lower(User.email).in_(chunk))))
    return taken


def _taken_message(email: str) -> str:
    return f"a user with email {email} already exists"


def _is_email_conflict(exc: IntegrityError) -> bool:
    return "email" in str(exc.orig).lower()


def _email(email: str) -> str:
    email = (email or "").strip().lower()
    if not email:
        raise AuditoryxError("an email address is required")
    try:
        return validate_email(email)
    except ValueError as exc:
        raise AuditoryxError(str(exc)) from None


def _name(name: Any) -> str:
    name = str(name or "").strip()
    if not name:
        raise AuditoryxError("a name is required")
    if len(name) > MAX_NAME_LENGTH:
        raise AuditoryxError(f"a name has at most {MAX_NAME_LENGTH} characters")
    return name


def _role(role: Any) -> UserRole:
    try:
        return UserRole(str(role or "").strip().upper())
    except ValueError:
        raise AuditoryxError(f"invalid role {role!r}: one of {', '.join(UserRole)}") from None


def _assignable_role(actor: Actor, role: Any) -> UserRole:
    role = _role(role)
    if role is UserRole.SUPER_ADMIN:
        raise PermissionDenied("the SUPER_ADMIN role cannot be given by an organization: it is for platform operators")
    if role is UserRole.ORG_ADMIN and actor.role is not UserRole.ORG_ADMIN:
        raise PermissionDenied("only an organization admin can give the ORG_ADMIN role")
    return role


def _permission_entries(entries: Iterable[str] | None) -> tuple[str, ...]:
    if isinstance(entries, str):
        entries = [entries]
    cleaned: list[str] = []
    for entry in entries or ():
        text = str(entry).strip().lower()
        if text and text not in cleaned:
            cleaned.append(text)
    if len(cleaned) > MAX_PERMISSION_ENTRIES:
        raise AuditoryxError(f"at most {MAX_PERMISSION_ENTRIES} permission entries")
    parse_permissions(cleaned)  # InvalidPermission names the bad entry
    return tuple(cleaned)


def _bulk_rows(source: str | bytes | Iterable[Any]) -> list[tuple[int, dict[str, Any]]]:
    """``(row number, {email, name, role, password})`` of every non-blank row."""
    if isinstance(source, bytes):
        try:
            source = source.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise AuditoryxError("the CSV file is not UTF-8 text") from None
    rows: list[tuple[int, dict[str, Any]]] = []
    if isinstance(source, str):
        reader = csv.reader(io.StringIO(source.lstrip("\ufeff")))
        header = next(reader, None)
        if header is None:
            raise AuditoryxError("the CSV file is empty: expected the header email,name,role[,password]")
        columns = _bulk_header(header)
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            if len(record) > len(columns):
                rows.append((reader.line_num, {"email": record[0] if record else "",
                                               "_error": f"{len(record)} values for {len(columns)} columns"}))
            else:
                rows.append((reader.line_num, {column: cell if column == "password" else cell.strip()
                                               for column, cell in zip(columns, record)}))
            _check_bulk_size(rows)
    else:
        for number, record in enumerate(source, start=2):
            if isinstance(record, Mapping):
                values = {str(key).strip().lower(): value for key, value in record.items()}
                unknown = set(values) - set(BULK_COLUMNS)
                if unknown:
                    raise AuditoryxError(f"unknown columns {', '.join(sorted(unknown))}: expected email,name,role[,password]")
            else:
                values = dict(zip(BULK_COLUMNS, record))
            rows.append((number, {key: value.strip() if isinstance(value, str) and key != "password" else value
                                  for key, value in values.items()}))
            _check_bulk_size(rows)
    return rows


def _bulk_header(header: list[str]) -> list[str]:
    columns = [cell.strip().lower() for cell in header]
    if columns[:3] != ["email", "name", "role"] or columns[3:] not in ([], ["password"]):
        raise AuditoryxError(f"unexpected CSV header {','.join(header)!r}: expected email,name,role[,password]")
    return columns


def _check_bulk_size(rows: list) -> None:
    if len(rows) > MAX_BULK_ROWS:
        raise AuditoryxError(f"at most {MAX_BULK_ROWS} users at once: split the file")

