"""A platform operator opening one tenant's details (analytics, freshness, failures) on the
Platform page: allowed to whoever may read the platform, and written to that tenant's audit log
(its admins see who looked, and when). Nothing of the tenant changes."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from operational import audit
from operational.models import Organization
from operational.permissions import Action, Actor, Resource, require_permission
from operational.repository import NotFoundError, TenantRepository

OPENED_ACTION = "view_platform_detail"


def record_tenant_opened(engine: Engine, actor: Actor, tenant_id: str, *, operator_email: str | None = None,
                         now: dt.datetime | None = None) -> None:
    """Audit that ``actor`` (a platform reader) opened ``tenant_id``'s details: one entry in that
    tenant's log, in a transaction scoped to the tenant (row-level security on PostgreSQL)."""
    require_permission(actor, Resource.PLATFORM, Action.READ)
    if not isinstance(tenant_id, str) or not tenant_id.strip():
        raise NotFoundError("no such organization")
    now = now or dt.datetime.now(dt.timezone.utc)
    with Session(engine) as session, session.begin():
        TenantRepository(session, tenant_id, actor_id=actor.user_id, actor_key_id=actor.api_key_id)
        if session.scalar(select(Organization.id).where(Organization.id == tenant_id)) is None:
            raise NotFoundError("no such organization")
        audit.record(session, tenant_id=tenant_id, actor_id=actor.user_id, actor_key_id=actor.api_key_id,
                     action=OPENED_ACTION, entity="organizations", entity_id=tenant_id, before=None,
                     after={"operator": operator_email, "at": now, "page": "platform"})
