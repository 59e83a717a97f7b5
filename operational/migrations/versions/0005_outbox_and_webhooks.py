"""Durable delivery: webhook endpoints, the outbox and its delivery log.

- ``webhook_endpoints``: an organization's receivers (URL, subscribed events, signing secret and,
  during a rotation, the previous secret until it expires).
- ``outbox_messages``: what is to be delivered (a webhook call or an e-mail), written in the same
  transaction as the change it reports; ``pending`` → ``delivered``, or ``dead`` after its
  attempts run out (never deleted). ``claim_token`` + ``next_attempt_at`` are a worker's lease.
- ``outbox_attempts``: one row per delivery attempt (outcome, HTTP status or error, duration).

PostgreSQL: the three tables are under row-level security like the other tenant tables. The
application role manages endpoints, enqueues messages (and may put a dead one back to pending)
and reads the delivery log; it never writes attempts. The delivery worker (``auditoryx deliver``,
``auditoryx worker``) claims due messages of every tenant, so it connects with the operational
URL (the owner: a superuser or ``BYPASSRLS`` role), like extraction and migrations.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

APP_ROLE = "auditoryx_app"
UTC_TIMESTAMP = sa.DateTime(timezone=True)
TENANT = "current_setting('app.tenant_id', true)"
GRANTS = {
    "webhook_endpoints": "SELECT, INSERT, UPDATE, DELETE",
    "outbox_messages": "SELECT, INSERT, UPDATE",
    "outbox_attempts": "SELECT",
}
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _org_fk() -> sa.Column:
    return sa.Column("org_id", sa.String(36), sa.ForeignKey("organizations.id", ondelete="CASCADE"),
                     nullable=False)


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(36), primary_key=True),
        _org_fk(),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("description", sa.String(200)),
        sa.Column("events", JSON, nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("previous_secret", sa.String(100)),
        sa.Column("previous_secret_expires_at", UTC_TIMESTAMP),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", sa.String(36), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("updated_at", UTC_TIMESTAMP, nullable=False),
        sa.UniqueConstraint("org_id", "id", name="uq_webhook_endpoints_org_id"),
        sa.ForeignKeyConstraint(["org_id", "created_by_id"], ["users.org_id", "users.id"],
                                name="fk_webhook_endpoints_created_by_id_tenant"),
    )
    op.create_index("ix_webhook_endpoints_org", "webhook_endpoints", ["org_id"])
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.String(36), primary_key=True),
        _org_fk(),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("event_type", sa.String(64)),
        sa.Column("endpoint_id", sa.String(36), sa.ForeignKey("webhook_endpoints.id", ondelete="SET NULL")),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("claim_token", sa.String(36)),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("delivered_at", UTC_TIMESTAMP),
        sa.UniqueConstraint("org_id", "id", name="uq_outbox_messages_org_id"),
        sa.ForeignKeyConstraint(["org_id", "endpoint_id"], ["webhook_endpoints.org_id", "webhook_endpoints.id"],
                                name="fk_outbox_messages_endpoint_id_tenant"),
        sa.CheckConstraint("channel IN ('webhook', 'email')", name="ck_outbox_messages_channel"),
        sa.CheckConstraint("status IN ('pending', 'delivered', 'dead')", name="ck_outbox_messages_status"),
        sa.CheckConstraint("attempts >= 0 AND max_attempts > 0", name="ck_outbox_messages_attempts"),
    )
    op.create_index("ix_outbox_messages_due", "outbox_messages", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_messages_org_created", "outbox_messages", ["org_id", "created_at"])
    op.create_index("ix_outbox_messages_endpoint", "outbox_messages", ["endpoint_id"])
    op.create_table(
        "outbox_attempts",
        sa.Column("id", sa.String(36), primary_key=True),
        _org_fk(),
        sa.Column("message_id", sa.String(36), sa.ForeignKey("outbox_messages.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", UTC_TIMESTAMP, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("status_code", sa.Integer()),
        sa.Column("error", sa.Text()),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.UniqueConstraint("message_id", "attempt", name="uq_outbox_attempts_message_attempt"),
        sa.ForeignKeyConstraint(["org_id", "message_id"], ["outbox_messages.org_id", "outbox_messages.id"],
                                name="fk_outbox_attempts_message_id_tenant"),
        sa.CheckConstraint("outcome IN ('delivered', 'failed', 'dead')", name="ck_outbox_attempts_outcome"),
    )
    op.create_index("ix_outbox_attempts_org", "outbox_attempts", ["org_id"])
    if op.get_context().dialect.name == "postgresql":
        for table, privileges in GRANTS.items():
            op.execute(f"GRANT {privileges} ON {table} TO {APP_ROLE}")
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(f"CREATE POLICY tenant_isolation ON {table} USING (org_id = {TENANT}) "
                       f"WITH CHECK (org_id = {TENANT})")


def downgrade() -> None:
    op.drop_table("outbox_attempts")
    op.drop_table("outbox_messages")
    op.drop_table("webhook_endpoints")
