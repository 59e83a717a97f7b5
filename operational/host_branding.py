"""Which tenant a login page is branded for, from the Host header (display only).

``organizations.custom_domain`` (e.g. ``analytics.northwind.example``) or ``<slug>.<base domain>``
(``AUDITORYX_BASE_DOMAIN``) names a tenant; the login page shows its name and colours. The login
still decides the tenant: a user of another tenant is refused on that page. Only public branding
(name, colour, logo) is read, before anyone is logged in: on PostgreSQL through a
``SECURITY DEFINER`` function (migration 0003), since no tenant is set yet.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, or_, select, text
from sqlalchemy.orm import Session

from operational.models import Organization

_HOST = re.compile(r"^[a-z0-9.-]{1,253}$")


@dataclass(frozen=True)
class HostBranding:
    tenant_id: str
    name: str
    branding: dict[str, Any]


def host_candidates(host: str | None, base_domain: str | None) -> tuple[str, str | None] | None:
    """(domain, slug) to look up for a Host header value, or None when it names no tenant."""
    host = (host or "").strip().lower().split(":", 1)[0].rstrip(".")
    if not host or not _HOST.match(host) or host in ("localhost",) or host.replace(".", "").isdigit():
        return None
    slug = None
    base = (base_domain or "").strip().lower().strip(".")
    if base and host.endswith("." + base):
        label = host[: -len(base) - 1]
        slug = label if "." not in label else None
    return host, slug


def branding_for_host(engine: Engine, host: str | None, base_domain: str | None) -> HostBranding | None:
    candidates = host_candidates(host, base_domain)
    if candidates is None:
        return None
    domain, slug = candidates
    with Session(engine) as session:
        if session.get_bind().dialect.name == "postgresql":
            row = session.execute(text("SELECT * FROM auditoryx_branding_for_host(:domain, :slug)"),
                                  {"domain": domain, "slug": slug or ""}).first()
        else:
            row = session.execute(
                select(Organization.id.label("org_id"), Organization.name.label("org_name"), Organization.branding)
                .where(Organization.is_active,
                       or_(Organization.custom_domain == domain, Organization.slug == (slug or "")))
                .order_by((Organization.custom_domain == domain).desc()).limit(1)).first()
    if row is None:
        return None
    return HostBranding(tenant_id=row.org_id, name=row.org_name, branding=dict(row.branding or {}))
