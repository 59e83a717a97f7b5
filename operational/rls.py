"""PostgreSQL row-level security at run time (the policies themselves are migration 0002).

Every tenant table (and ``organizations``, by its ``id``) shows a connection only the rows of the
tenant named by the per-transaction setting ``app.tenant_id``; with no tenant set, none. This holds
for the application role ``auditoryx_app`` and for the tables' owner (``FORCE``). Superusers and
roles with ``BYPASSRLS`` see everything: extraction (ingestion) and migrations connect as such a
role on purpose, and must be the only ones that do.

Production: the web app connects as a LOGIN role that is a member of ``auditoryx_app`` (or as
that role); it may also ``SET LOCAL ROLE auditoryx_app`` from a more privileged connection, which
is what :func:`tenant_scope` does with ``as_app_role=True``.
"""
from __future__ import annotations

from sqlalchemy import Connection, text

from operational.models import DELIVERY_TABLES, TENANT_TABLES

APP_ROLE = "auditoryx_app"
TENANT_SETTING = "app.tenant_id"
POLICY_NAME = "tenant_isolation"
RLS_TABLES = ("organizations", *TENANT_TABLES, "user_sessions", *DELIVERY_TABLES)


def is_postgresql(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


def set_tenant(connection: Connection, tenant_id: str) -> None:
    """``SET LOCAL app.tenant_id``: lasts until the current transaction ends."""
    if not tenant_id:
        raise ValueError("a tenant id is required")
    connection.execute(text("SELECT set_config(:name, :tenant, true)"),
                       {"name": TENANT_SETTING, "tenant": tenant_id})


def assume_app_role(connection: Connection) -> None:
    """``SET LOCAL ROLE auditoryx_app`` (the connecting user must be a member, or a superuser)."""
    connection.execute(text(f'SET LOCAL ROLE "{APP_ROLE}"'))  # a constant: no user input


def tenant_scope(connection: Connection, tenant_id: str, *, as_app_role: bool = False) -> None:
    """Scope the current transaction to one tenant (no-op on SQLite, which has no RLS)."""
    if not is_postgresql(connection):
        return
    if as_app_role:
        assume_app_role(connection)
    set_tenant(connection, tenant_id)


PLATFORM_SETTING = "app.platform_operator"


def platform_read_scope(connection: Connection) -> None:
    """Let this transaction read every organization and user (PostgreSQL policy
    ``platform_operator_read``, migration 0003). Only for SUPER_ADMIN listings, after the
    permission module said yes; a no-op on SQLite."""
    if is_postgresql(connection):
        connection.execute(text("SELECT set_config(:name, 'on', true)"), {"name": PLATFORM_SETTING})
