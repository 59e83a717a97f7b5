"""PostgreSQL row-level security: every tenant table is visible only to its tenant.

Policies compare ``org_id`` (``id`` for organizations) with the per-transaction setting
``app.tenant_id`` (``set_config('app.tenant_id', :tenant, true)``); with no tenant set, no row
matches. ``FORCE`` subjects the table owner too. Superusers and ``BYPASSRLS`` roles are exempt:
that is how extraction (ingestion) and migrations read every tenant.

The product connects as (or ``SET ROLE``s to) ``auditoryx_app``: a NOLOGIN role, created here if
missing (needs CREATEROLE; otherwise a DBA creates it first), with DML on the tenant tables but
only SELECT/INSERT on audit_log (append-only) and SELECT/UPDATE on organizations.
SQLite has no RLS: this revision is a no-op there (the repository filters by tenant).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APP_ROLE = "auditoryx_app"
TENANT = "current_setting('app.tenant_id', true)"
GRANTS = {
    "organizations": "SELECT, UPDATE",
    "users": "SELECT, INSERT, UPDATE, DELETE",
    "artists": "SELECT, INSERT, UPDATE, DELETE",
    "projects": "SELECT, INSERT, UPDATE, DELETE",
    "project_users": "SELECT, INSERT, UPDATE, DELETE",
    "project_milestones": "SELECT, INSERT, UPDATE, DELETE",
    "bookings": "SELECT, INSERT, UPDATE, DELETE",
    "audit_log": "SELECT, INSERT",
}


def _tenant_column(table: str) -> str:
    return "id" if table == "organizations" else "org_id"


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute(f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                CREATE ROLE {APP_ROLE} NOLOGIN;
            END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- created meanwhile by a migration of another database of the cluster
        END $$""")
    op.execute(f"DO $$ BEGIN EXECUTE format('GRANT USAGE ON SCHEMA %I TO {APP_ROLE}', current_schema()); END $$")
    for table, privileges in GRANTS.items():
        column = _tenant_column(table)
        op.execute(f"GRANT {privileges} ON {table} TO {APP_ROLE}")
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({column} = {TENANT}) "
                   f"WITH CHECK ({column} = {TENANT})")


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for table in GRANTS:
        op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        op.execute(f"REVOKE ALL ON {table} FROM {APP_ROLE}")
    op.execute(f"DO $$ BEGIN EXECUTE format('REVOKE USAGE ON SCHEMA %I FROM {APP_ROLE}', current_schema()); END $$")
    # the role is cluster-wide (other databases may use it): it stays
