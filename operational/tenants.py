"""Tenant lookups in the operational database."""
from __future__ import annotations

from sqlalchemy import Engine, select
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
