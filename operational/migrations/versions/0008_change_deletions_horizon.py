"""``change_deletions_horizon``: how far ``change_deletions`` has been pruned.

Each delete from a change-numbered table leaves a row in ``change_deletions`` (0006) so that
incremental extraction finds it. Nothing removed those rows: the table grew with every delete.
A full extraction of every tenant (the nightly reconciliation) now prunes the rows numbered below
the bound it read from (``operational.change_pruning``), and records that bound here, in the same
transaction. An extraction whose watermark for a tenant × table lies below the horizon could miss
a pruned delete, so it reads that tenant × table whole instead (ingestion/extract.py).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "change_deletions_horizon",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("pruned_below", sa.BigInteger(), nullable=False),
    )
    op.execute("INSERT INTO change_deletions_horizon (id, pruned_below) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("change_deletions_horizon")
