"""Tenant integrity in the schema, login throttling and server-side sessions.

- ``UNIQUE (org_id, id)`` on users, artists and projects, and a tenant-scoped composite foreign
  key ``(org_id, <ref>) → <target>(org_id, id)`` beside every cross-table reference: a row can no
  longer point at another tenant's row, whatever the role (foreign-key checks bypass RLS).
  ``audit_log.actor_id`` keeps a plain key: operators are recorded in the tenants they open.
- Emails are stored lower-case (``CHECK (email = lower(email))``), so the existing unique
  constraint makes them unique case-insensitively. Existing emails are lower-cased first; a
  collision stops the migration with the addresses to merge.
- Organization slugs cannot change (a trigger on both backends): folders and links keyed by a
  slug can never come to name another tenant.
- ``login_throttle`` (failed logins per account and client address) and ``user_sessions``.
- PostgreSQL: ``user_sessions`` under row-level security like the tenant tables; a read-only
  policy on organizations and users for the platform page (``app.platform_operator``, set per
  transaction by the platform service after its permission check); the application
  role may use ``login_throttle``; three ``SECURITY DEFINER`` functions give it exactly what it
  needs before a tenant is known: the credential row of one email, the session of one token
  hash, and the public branding of one host. They run as the migration's role (a superuser or
  ``BYPASSRLS`` owner, as for every migration).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

APP_ROLE = "auditoryx_app"
UTC_TIMESTAMP = sa.DateTime(timezone=True)
TENANT_KEYS = ("users", "artists", "projects")
TENANT_REFERENCES = {
    "artists": (("user_id", "users"),),
    "projects": (("created_by_id", "users"),),
    "project_users": (("project_id", "projects"), ("user_id", "users")),
    "project_milestones": (("project_id", "projects"),),
    "bookings": (("project_id", "projects"), ("artist_id", "artists"), ("client_id", "users"),
                 ("created_by_id", "users"), ("assigned_to_id", "users")),
}
SLUG_TRIGGER = "organizations_slug_immutable"


def _fk_name(table: str, column: str) -> str:
    return f"fk_{table}_{column}_tenant"


def _is_postgresql() -> bool:
    return op.get_context().dialect.name == "postgresql"


def _lower_emails() -> None:
    bind = op.get_bind()
    clashes = bind.execute(sa.text(
        "SELECT lower(email) FROM users GROUP BY lower(email) HAVING count(*) > 1 ORDER BY 1")).scalars().all()
    if clashes:
        raise RuntimeError("users differ only by the case of their email, merge them first: "
                           + ", ".join(clashes[:10]))
    bind.execute(sa.text("UPDATE users SET email = lower(email) WHERE email <> lower(email)"))


def upgrade() -> None:
    _lower_emails()
    for table in TENANT_KEYS:
        with op.batch_alter_table(table) as batch:
            batch.create_unique_constraint(f"uq_{table}_org_id", ["org_id", "id"])
            if table == "users":
                batch.create_check_constraint("ck_users_email_lower", "email = lower(email)")
    for table, references in TENANT_REFERENCES.items():
        with op.batch_alter_table(table) as batch:
            for column, target in references:
                batch.create_foreign_key(_fk_name(table, column), target, ["org_id", column], ["org_id", "id"])

    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(80), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("locked_until", UTC_TIMESTAMP),
    )
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("org_id", sa.String(36), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("last_seen_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("expires_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("revoked_at", UTC_TIMESTAMP),
        sa.Column("viewing_org_id", sa.String(36), sa.ForeignKey("organizations.id", ondelete="SET NULL")),
        sa.Column("client_address", sa.String(64)),
        sa.ForeignKeyConstraint(["org_id", "user_id"], ["users.org_id", "users.id"],
                                name=_fk_name("user_sessions", "user_id")),
    )
    op.create_index("ix_user_sessions_user", "user_sessions", ["user_id"])
    op.create_index("ix_user_sessions_org", "user_sessions", ["org_id"])

    if _is_postgresql():
        _postgresql_upgrade()
    else:
        op.execute(f"""
            CREATE TRIGGER {SLUG_TRIGGER} BEFORE UPDATE OF slug ON organizations
            WHEN NEW.slug IS NOT OLD.slug
            BEGIN SELECT RAISE(ABORT, 'organization slugs cannot change'); END""")


def _postgresql_upgrade() -> None:
    schema = op.get_bind().scalar(sa.text("SELECT quote_ident(current_schema())"))
    op.execute("""
        CREATE FUNCTION auditoryx_slug_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.slug IS DISTINCT FROM OLD.slug THEN
                RAISE EXCEPTION 'organization slugs cannot change (%)', OLD.slug
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NEW;
        END $$""")
    op.execute(f"CREATE TRIGGER {SLUG_TRIGGER} BEFORE UPDATE OF slug ON organizations "
               "FOR EACH ROW EXECUTE FUNCTION auditoryx_slug_immutable()")

    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON login_throttle TO {APP_ROLE}")
    # operators create organizations from the Platform page (RLS still checks id = app.tenant_id)
    op.execute(f"GRANT INSERT ON organizations TO {APP_ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON user_sessions TO {APP_ROLE}")
    op.execute("ALTER TABLE user_sessions ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE user_sessions FORCE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY tenant_isolation ON user_sessions "
               "USING (org_id = current_setting('app.tenant_id', true)) "
               "WITH CHECK (org_id = current_setting('app.tenant_id', true))")

    # the platform page lists every organization (and counts its users) for SUPER_ADMINs: a
    # read-only policy the service turns on per transaction after the permission check
    for table in ("organizations", "users"):
        op.execute(f"CREATE POLICY platform_operator_read ON {table} FOR SELECT "
                   "USING (current_setting('app.platform_operator', true) = 'on')")

    definer = f"LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {schema}, pg_temp"
    op.execute(f"""
        CREATE FUNCTION auditoryx_login_credential(p_email text)
        RETURNS TABLE (user_id varchar, org_id varchar, password_hash varchar,
                       user_active boolean, org_active boolean)
        {definer} AS $$
            SELECT u.id, u.org_id, u.password_hash, u.is_active, o.is_active
            FROM users u JOIN organizations o ON o.id = u.org_id
            WHERE u.email = lower(p_email)
        $$""")
    op.execute(f"""
        CREATE FUNCTION auditoryx_session_by_token(p_token_hash text)
        RETURNS TABLE (session_id varchar, org_id varchar, user_id varchar, session_role varchar,
                       created_at timestamptz, last_seen_at timestamptz, expires_at timestamptz,
                       revoked_at timestamptz, viewing_org_id varchar, user_role varchar,
                       user_active boolean, email varchar, user_name varchar, permissions jsonb,
                       org_active boolean, org_slug varchar, org_name varchar)
        {definer} AS $$
            SELECT s.id, s.org_id, s.user_id, s.role, s.created_at, s.last_seen_at, s.expires_at,
                   s.revoked_at, s.viewing_org_id, u.role, u.is_active, u.email, u.name,
                   u.permissions, o.is_active, o.slug, o.name
            FROM user_sessions s
            JOIN users u ON u.id = s.user_id AND u.org_id = s.org_id
            JOIN organizations o ON o.id = s.org_id
            WHERE s.token_hash = p_token_hash
        $$""")
    op.execute(f"""
        CREATE FUNCTION auditoryx_branding_for_host(p_domain text, p_slug text)
        RETURNS TABLE (org_id varchar, org_name varchar, branding jsonb)
        {definer} AS $$
            SELECT o.id, o.name, o.branding FROM organizations o
            WHERE o.is_active AND (o.custom_domain = lower(p_domain) OR o.slug = lower(p_slug))
            ORDER BY (o.custom_domain = lower(p_domain)) DESC NULLS LAST
            LIMIT 1
        $$""")
    for function in ("auditoryx_login_credential(text)", "auditoryx_session_by_token(text)",
                     "auditoryx_branding_for_host(text, text)"):
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {APP_ROLE}")


def downgrade() -> None:
    if _is_postgresql():
        for function in ("auditoryx_login_credential(text)", "auditoryx_session_by_token(text)",
                         "auditoryx_branding_for_host(text, text)"):
            op.execute(f"DROP FUNCTION IF EXISTS {function}")
        for table in ("organizations", "users"):
            op.execute(f"DROP POLICY IF EXISTS platform_operator_read ON {table}")
        op.execute(f"REVOKE INSERT ON organizations FROM {APP_ROLE}")
        op.execute(f"DROP TRIGGER IF EXISTS {SLUG_TRIGGER} ON organizations")
        op.execute("DROP FUNCTION IF EXISTS auditoryx_slug_immutable()")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {SLUG_TRIGGER}")
    op.drop_table("user_sessions")
    op.drop_table("login_throttle")
    for table, references in reversed(list(TENANT_REFERENCES.items())):
        with op.batch_alter_table(table) as batch:
            for column, _target in references:
                batch.drop_constraint(_fk_name(table, column), type_="foreignkey")
    for table in reversed(TENANT_KEYS):
        with op.batch_alter_table(table) as batch:
            if table == "users":
                batch.drop_constraint("ck_users_email_lower", type_="check")
            batch.drop_constraint(f"uq_{table}_org_id", type_="unique")
