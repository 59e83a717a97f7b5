"""An index on ``change_number`` alone for every change-numbered table and ``change_deletions``.

The change sensor asks which tenants wrote or deleted a row since the bound it took at its
previous tick (``operational.tenants.tenants_changed_since``). The ``(org_id, change_number)``
indexes of 0006 answer that per tenant only; over all tenants they made each tick read every
row's number (10M bookings: seconds per tick, whatever changed). With these, a tick reads the
rows changed since its previous one.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""
from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLES = ("organizations", "users", "artists", "projects", "project_users", "project_milestones", "bookings",
          "audit_log", "change_deletions")


def upgrade() -> None:
    for table in TABLES:
        op.create_index(f"ix_{table}_change_number", table, ["change_number"])


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(f"ix_{table}_change_number", table_name=table)
