"""Tenant-scoped reads and writes of operational entities: how product code touches them.

Every query filters on the repository's tenant; every write stays in it (``org_id`` is set here,
references to other rows must belong to the same tenant) and adds an audit entry in the same
transaction. On PostgreSQL the repository also scopes each transaction of its session for
row-level security (``app.tenant_id``), optionally as the application role: a forgotten filter
then returns nothing rather than another tenant's rows.

The repository flushes but never commits: the caller owns the transaction.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, TypeVar

from sqlalchemy import Connection, Engine, event, select
from sqlalchemy.orm import Session

from auditoryx.errors import AuditoryxError
from operational import audit, rls
from operational.models import (
    TENANT_TABLES,
    Artist,
    Booking,
    Organization,
    Project,
    ProjectMilestone,
    ProjectUser,
    User,
)

ENTITIES = (User, Artist, Project, ProjectUser, ProjectMilestone, Booking)
FIXED_FIELDS = frozenset({"id", "org_id", "created_at", "updated_at"})
_SESSION_TENANT = "auditoryx.tenant_id"

M = TypeVar("M")


class TenantScopeError(AuditoryxError):
    """A missing tenant, or an attempt to reach outside it."""


class NotFoundError(AuditoryxError):
    """No such row in this tenant (whether or not it exists in another)."""


class TenantRepository:
    def __init__(self, session: Session, tenant_id: str, *, actor_id: str | None = None,
                 actor_key_id: str | None = None, as_app_role: bool = False):
        if not isinstance(tenant_id, str) or not tenant_id.strip():
            raise TenantScopeError("a tenant is required")
        if session.info.setdefault(_SESSION_TENANT, tenant_id) != tenant_id:
            raise TenantScopeError("this session is already scoped to another tenant")
        self.session = session
        self.tenant_id = tenant_id
        self.actor_id = actor_id
        self.actor_key_id = actor_key_id
        self._as_app_role = as_app_role
        if session.get_bind().dialect.name == "postgresql":
            event.listen(session, "after_begin", self._scope_transaction)
            if session.in_transaction():
                self._scope(session.connection())

    def _scope_transaction(self, _session: Session, _transaction, connection: Connection) -> None:
        self._scope(connection)

    def _scope(self, connection: Connection) -> None:
        rls.tenant_scope(connection, self.tenant_id, as_app_role=self._as_app_role)

    # reads

    def organization(self) -> Organization:
        org = self.session.scalar(select(Organization).where(Organization.id == self.tenant_id))
        if org is None:
            raise NotFoundError("this tenant does not exist")
        return org

    def list(self, model: type[M], *criteria, order_by=(), limit: int | None = None) -> list[M]:
        """Rows of this tenant matching ``criteria``; oldest first unless ``order_by`` (one
        expression or a tuple) says otherwise."""
        order_by = order_by if isinstance(order_by, (tuple, list)) else (order_by,)
        query = (select(_entity(model)).where(model.org_id == self.tenant_id, *criteria)
                 .order_by(*(order_by or (model.created_at, model.id))))
        if limit is not None:
            query = query.limit(limit)
        return list(self.session.scalars(query))

    def get(self, model: type[M], entity_id: str) -> M | None:
        query = select(_entity(model)).where(model.org_id == self.tenant_id, model.id == entity_id)
        return self.session.scalars(query).one_or_none()

    def require(self, model: type[M], entity_id: str) -> M:
        obj = self.get(model, entity_id)
        if obj is None:
            raise NotFoundError(f"no {model.__tablename__} row {entity_id!r} in this tenant")
        return obj

    # writes (audited)

    def add(self, model: type[M], **values: Any) -> M:
        _entity(model)
        if values.pop("org_id", self.tenant_id) != self.tenant_id:
            raise TenantScopeError("cannot add a row to another tenant")
        _check_fields(model, values, allow_id=True)
        self._check_references(model, values)
        obj = model(org_id=self.tenant_id, **values)
        self.session.add(obj)
        self.session.flush()
        self.session.refresh(obj)  # audit what was stored (defaults, rounding), not what was passed
        audit.record(self.session, tenant_id=self.tenant_id, actor_id=self.actor_id, actor_key_id=self.actor_key_id, action="create",
                     entity=model.__tablename__, entity_id=obj.id, before=None, after=audit.snapshot(obj))
        return obj

    def update(self, model: type[M], entity_id: str, **changes: Any) -> M:
        _check_fields(model, changes, allow_id=False)
        obj = self.require(model, entity_id)
        self._check_references(model, changes)
        before = audit.snapshot(obj, set(changes))
        for key, value in changes.items():
            setattr(obj, key, value)
        self.session.flush()
        self.session.refresh(obj, list(changes))
        after = audit.snapshot(obj, set(changes))
        changed = {key for key in changes if before[key] != after[key]}
        if changed:
            audit.record(self.session, tenant_id=self.tenant_id, actor_id=self.actor_id, actor_key_id=self.actor_key_id, action="update",
                         entity=model.__tablename__, entity_id=obj.id,
                         before={k: before[k] for k in changed}, after={k: after[k] for k in changed})
        return obj

    def _check_references(self, model, values: dict[str, Any]) -> None:
        """Foreign keys to tenant tables must point inside the tenant (the database only checks
        that the row exists, and its checks bypass row-level security)."""
        for name, value in values.items():
            if value is None:
                continue
            for fk in model.__table__.c[name].foreign_keys:
                target = fk.column.table
                if target.name not in TENANT_TABLES:
                    continue
                found = self.session.scalar(
                    select(target.c.id).where(target.c.id == value, target.c.org_id == self.tenant_id))
                if found is None:
                    raise TenantScopeError(f"{name} {value!r}: no such {target.name} row in this tenant")


def _entity(model):
    if model not in ENTITIES:
        raise TypeError(f"{model!r} is not a tenant entity")
    return model


def rollback_keeping(conn: Connection, error: BaseException) -> None:
    """Roll ``conn`` back after ``error``; a failing rollback becomes a note on ``error`` instead
    of replacing it (the original cause is what the person needs to read)."""
    try:
        conn.rollback()
    except Exception as cleanup:  # noqa: BLE001 - the original error matters
        error.add_note(f"rollback also failed: {cleanup!r}")


def _check_fields(model, values: dict[str, Any], *, allow_id: bool) -> None:
    columns = set(model.__table__.c.keys())
    unknown = set(values) - columns
    if unknown:
        raise ValueError(f"unknown {model.__tablename__} fields: {', '.join(sorted(unknown))}")
    fixed = (FIXED_FIELDS - {"id"} if allow_id else FIXED_FIELDS) & set(values)
    if fixed:
        raise ValueError(f"{', '.join(sorted(fixed))} cannot be set through the repository")


@contextmanager
def write_transaction(engine: Engine, tenant_id: str, *, actor_id: str | None = None,
                      actor_key_id: str | None = None) -> Iterator[tuple[Session, TenantRepository]]:
    """One write transaction in a tenant that checks, then writes (conflicts, plan limits).

    SQLite takes its write lock up front (``BEGIN IMMEDIATE``), so what was checked cannot change
    before the commit; on PostgreSQL the caller locks the rows it checks (``FOR UPDATE``).
    A failing rollback never hides the error that caused it."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        with Session(bind=conn) as session:
            try:
                yield session, TenantRepository(session, tenant_id, actor_id=actor_id, actor_key_id=actor_key_id)
                session.flush()
                conn.commit()
            except BaseException as error:
                rollback_keeping(conn, error)
                raise
