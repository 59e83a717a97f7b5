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
    """Per active tenant, the latest change time over all its operational tables (ISO text).

    A tenant whose mark moved has changed since. Bookings, the big table, has an (org_id,
    updated_at) index; the other tables are small per tenant.
    """
    from operational.models import AuditLog, Booking, Artist, Project, ProjectMilestone, ProjectUser, User

    marks: dict[str, str] = {}
    with Session(engine) as session:
        for tenant_id, changed in session.execute(
            select(Organization.id, Organization.updated_at).where(Organization.is_active)
        ):
            marks[tenant_id] = changed.isoformat(timespec="microseconds")
        for model, column in ((Booking, Booking.updated_at), (Artist, Artist.updated_at),
                              (Project, Project.updated_at), (ProjectMilestone, ProjectMilestone.updated_at),
                              (ProjectUser, ProjectUser.updated_at), (User, User.updated_at),
                              (AuditLog, AuditLog.at)):
            for tenant_id, changed in session.execute(
                select(model.org_id, func.max(column)).group_by(model.org_id)
            ):
                if tenant_id in marks and changed is not None:
                    marks[tenant_id] = max(marks[tenant_id], changed.isoformat(timespec="microseconds"))
    return marks
