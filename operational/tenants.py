"""Tenant lookups in the operational database."""
from __future__ import annotations

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from auditoryx.errors import AuditoryxError
from operational.models import SLUG_PATTERN, Organization


def tenant_id_for_slug(engine: Engine, slug: str) -> str:
    if not SLUG_PATTERN.match(slug or ""):
        raise AuditoryxError(f"invalid tenant slug: {slug!r}")
    with Session(engine) as session:
        tenant_id = session.scalar(select(Organization.id).where(Organization.slug == slug))
    if tenant_id is None:
        raise AuditoryxError(f"no tenant with slug {slug!r}")
    return tenant_id


def active_tenants(engine: Engine) -> dict[str, str]:
    """Active tenants: id → slug."""
    with Session(engine) as session:
        rows = session.execute(select(Organization.id, Organization.slug).where(Organization.is_active))
        return {tenant_id: slug for tenant_id, slug in rows}


def tenant_change_marks(engine: Engine) -> dict[str, str]:
    """Per active tenant, a mark that moves whenever any of its operational rows is written or
    deleted, whatever the row's ``updated_at`` says (a clock behind, a backdated write).

    The mark is, per change-numbered table (migration 0006), the count and the sum of the rows'
    change numbers, plus the same over ``change_deletions``: an insert changes the count, an
    update gives the row a new number (the sum moves), a delete adds a deletion row. Unlike a
    maximum it also moves for a transaction that commits after a newer one (on PostgreSQL the
    number is the writing transaction's id, so a long transaction's rows can arrive below the
    maximum). Each table is read in one grouped query.
    """
    from operational.models import CHANGE_NUMBERED_TABLES, Base, ChangeDeletion

    marks: dict[str, list[str]] = {}
    with Session(engine) as session:
        for (tenant_id,) in session.execute(select(Organization.id).where(Organization.is_active)):
            marks[tenant_id] = []
        tables = [Base.metadata.tables[name] for name in CHANGE_NUMBERED_TABLES]
        tenant_columns = [(table, table.c.id if table.name == "organizations" else table.c.org_id) for table in tables]
        tenant_columns.append((ChangeDeletion.__table__, ChangeDeletion.__table__.c.org_id))
        for table, tenant in tenant_columns:
            counts = dict.fromkeys(marks, "0:0")
            for tenant_id, rows, total in session.execute(
                select(tenant, func.count(), func.coalesce(func.sum(table.c.change_number), 0)).group_by(tenant)
            ):
                if tenant_id in counts:
                    counts[tenant_id] = f"{rows}:{total}"
            for tenant_id, mark in counts.items():
                marks[tenant_id].append(mark)
    return {tenant_id: "/".join(parts) for tenant_id, parts in marks.items()}
