"""The HTTP API's tables: API keys, idempotent writes, shared rate-limit buckets, calendar-feed
tokens, and the API key as an audited actor.

- ``api_keys``: an organization's keys (only the SHA-256 of the secret), scopes, expiry,
  last use and revocation.
- ``api_idempotency``: the stored answer of a write sent with an ``Idempotency-Key``.
- ``api_rate_buckets``: token buckets per tenant and per key, shared by every API process.
- ``feed_tokens``: secret tokens of ``/feeds/<token>.ics`` (one artist's or the whole tenant's).
- ``audit_log.actor_key_id``: the key that made a change (``actor_id`` stays the user, if any).

PostgreSQL: the four tables are under row-level security like the other tenant tables; two
``SECURITY DEFINER`` functions give the application role what it needs before a tenant is
known: the key of one secret hash, and the feed token of one hash.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

APP_ROLE = "auditoryx_app"
UTC_TIMESTAMP = sa.DateTime(timezone=True)
TENANT = "current_setting('app.tenant_id', true)"
GRANTS = {
    "api_keys": "SELECT, INSERT, UPDATE",
    "api_idempotency": "SELECT, INSERT, UPDATE, DELETE",
    "api_rate_buckets": "SELECT, INSERT, UPDATE",
    "feed_tokens": "SELECT, INSERT, UPDATE",
}
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
FUNCTIONS = ("auditoryx_api_key_by_hash(text)", "auditoryx_feed_token_by_hash(text)")


def _org_fk() -> sa.Column:
    return sa.Column("org_id", sa.String(36), sa.ForeignKey("organizations.id", ondelete="CASCADE"),
                     nullable=False)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(36), primary_key=True),
        _org_fk(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("created_by_id", sa.String(36), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("expires_at", UTC_TIMESTAMP),
        sa.Column("last_used_at", UTC_TIMESTAMP),
        sa.Column("revoked_at", UTC_TIMESTAMP),
        sa.ForeignKeyConstraint(["org_id", "created_by_id"], ["users.org_id", "users.id"],
                                name="fk_api_keys_created_by_id_tenant"),
    )
    op.create_index("ix_api_keys_org", "api_keys", ["org_id"])
    op.create_table(
        "api_idempotency",
        sa.Column("org_id", sa.String(36), sa.ForeignKey("organizations.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("principal", sa.String(80), primary_key=True),
        sa.Column("idem_key", sa.String(200), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response_body", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
    )
    op.create_table(
        "api_rate_buckets",
        sa.Column("bucket", sa.String(80), primary_key=True),
        _org_fk(),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("refilled_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "feed_tokens",
        sa.Column("id", sa.String(36), primary_key=True),
        _org_fk(),
        sa.Column("artist_id", sa.String(36), sa.ForeignKey("artists.id", ondelete="CASCADE")),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("revoked_at", UTC_TIMESTAMP),
        sa.ForeignKeyConstraint(["org_id", "artist_id"], ["artists.org_id", "artists.id"],
                                name="fk_feed_tokens_artist_id_tenant"),
    )
    op.create_index("ix_feed_tokens_org", "feed_tokens", ["org_id"])
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("actor_key_id", sa.String(36)))
        batch.create_foreign_key("fk_audit_log_actor_key_id", "api_keys", ["actor_key_id"], ["id"],
                                 ondelete="SET NULL")
    if op.get_context().dialect.name == "postgresql":
        _postgresql_upgrade()


def _postgresql_upgrade() -> None:
    for table, privileges in GRANTS.items():
        op.execute(f"GRANT {privileges} ON {table} TO {APP_ROLE}")
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {table} USING (org_id = {TENANT}) "
                   f"WITH CHECK (org_id = {TENANT})")
    schema = op.get_bind().scalar(sa.text("SELECT quote_ident(current_schema())"))
    definer = f"LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {schema}, pg_temp"
    op.execute(f"""
        CREATE FUNCTION auditoryx_api_key_by_hash(p_key_hash text)
        RETURNS TABLE (key_id varchar, org_id varchar, scopes jsonb, expires_at timestamptz,
                       revoked_at timestamptz, org_active boolean, org_plan varchar)
        {definer} AS $$
            SELECT k.id, k.org_id, k.scopes, k.expires_at, k.revoked_at, o.is_active, o.plan
            FROM api_keys k JOIN organizations o ON o.id = k.org_id
            WHERE k.key_hash = p_key_hash
        $$""")
    op.execute(f"""
        CREATE FUNCTION auditoryx_feed_token_by_hash(p_token_hash text)
        RETURNS TABLE (token_id varchar, org_id varchar, artist_id varchar, revoked_at timestamptz,
                       org_active boolean)
        {definer} AS $$
            SELECT t.id, t.org_id, t.artist_id, t.revoked_at, o.is_active
            FROM feed_tokens t JOIN organizations o ON o.id = t.org_id
            WHERE t.token_hash = p_token_hash
        $$""")
    for function in FUNCTIONS:
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {APP_ROLE}")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for function in FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {function}")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_constraint("fk_audit_log_actor_key_id", type_="foreignkey")
        batch.drop_column("actor_key_id")
    op.drop_table("feed_tokens")
    op.drop_table("api_rate_buckets")
    op.drop_table("api_idempotency")
    op.drop_table("api_keys")
