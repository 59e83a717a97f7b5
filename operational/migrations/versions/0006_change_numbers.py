"""Change numbers: change capture that cannot miss a committed row, whatever its ``updated_at``.

- ``change_number`` (BIGINT) on every table extraction reads, written by the database in the
  writing transaction, with an ``(org_id, change_number)`` index (organizations: its primary key):
  - PostgreSQL: the writing transaction's id (``pg_current_xact_id()``), set by a BEFORE INSERT
    OR UPDATE trigger. Transaction ids are handed out in increasing order but commit in any
    order; ``pg_snapshot_xmin(pg_current_snapshot())`` is the oldest one still running, so every
    row still to commit carries a number at or above it. Extraction takes that bound before it
    reads, and next time reads the rows numbered at or above it (ingestion/extract.py).
  - SQLite: the next value of ``change_counter`` (one row), moved on by AFTER INSERT/UPDATE
    triggers. SQLite runs one writer at a time, so numbers follow commit order; the bound is the
    counter's committed value + 1.
  An INSERT that brings its own number keeps it: the bulk generator stamps every row of its load
  with its transaction's number (one counter step on SQLite), instead of a trigger call per row.
- ``change_deletions``: each row deleted from those tables (but organizations, whose removal
  extraction sees in the tenant list): table, id, tenant and the deleting write's number, so that
  incremental extraction finds deletes too. TRUNCATE records nothing (full extraction reconciles).
  PostgreSQL: one statement-level trigger per table (a transition table, one INSERT per DELETE
  statement), SECURITY DEFINER: the application role cannot read or write the table itself.
- ``change_counter``: SQLite's counter (created on both backends, unused on PostgreSQL).

Rows that exist before this revision keep a NULL number (no table rewrite): extraction reads every
tenant × table whole once after it (no change-number watermark yet), and any later write numbers
the row. Row-level security (0002, 0005) is unchanged.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLES = ("organizations", "users", "artists", "projects", "project_users", "project_milestones", "bookings",
          "audit_log")
DELETION_TABLES = TABLES[1:]  # organizations: tenant removal is seen in the list of active tenants
PG_NUMBER = "pg_current_xact_id()::text::bigint"


def _index(table: str) -> str:
    return f"ix_{table}_org_change"


def _pg_upgrade() -> None:
    op.execute(f"""
        CREATE FUNCTION auditoryx_set_change_number() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.change_number := {PG_NUMBER};
            RETURN NEW;
        END $$""")
    op.execute(f"""
        CREATE FUNCTION auditoryx_record_deletions() RETURNS trigger LANGUAGE plpgsql
        SECURITY DEFINER SET search_path FROM CURRENT AS $$
        BEGIN
            INSERT INTO change_deletions (table_name, row_id, change_number, org_id)
            SELECT TG_TABLE_NAME, gone.id, {PG_NUMBER}, gone.org_id FROM gone
            ON CONFLICT DO NOTHING;
            RETURN NULL;
        END $$""")
    for table in TABLES:
        op.execute(f"CREATE TRIGGER change_number_insert BEFORE INSERT ON {table} FOR EACH ROW "
                   "WHEN (NEW.change_number IS NULL) EXECUTE FUNCTION auditoryx_set_change_number()")
        op.execute(f"CREATE TRIGGER change_number_update BEFORE UPDATE ON {table} FOR EACH ROW "
                   "EXECUTE FUNCTION auditoryx_set_change_number()")
    for table in DELETION_TABLES:
        op.execute(f"CREATE TRIGGER change_deletions AFTER DELETE ON {table} REFERENCING OLD TABLE AS gone "
                   "FOR EACH STATEMENT EXECUTE FUNCTION auditoryx_record_deletions()")


_SQLITE_NEXT = "UPDATE change_counter SET value = value + 1 WHERE id = 1;"
_SQLITE_VALUE = "(SELECT value FROM change_counter WHERE id = 1)"


def _sqlite_upgrade() -> None:
    for table in TABLES:
        number = f"{_SQLITE_NEXT} UPDATE {table} SET change_number = {_SQLITE_VALUE} WHERE id = NEW.id;"
        op.execute(f"CREATE TRIGGER change_number_insert_{table} AFTER INSERT ON {table} FOR EACH ROW "
                   f"WHEN NEW.change_number IS NULL BEGIN {number} END")
        # an UPDATE that sets the number itself (only the insert trigger above does) keeps it
        op.execute(f"CREATE TRIGGER change_number_update_{table} AFTER UPDATE ON {table} FOR EACH ROW "
                   f"WHEN NEW.change_number IS OLD.change_number BEGIN {number} END")
    for table in DELETION_TABLES:
        op.execute(f"CREATE TRIGGER change_deletion_{table} AFTER DELETE ON {table} FOR EACH ROW BEGIN "
                   f"{_SQLITE_NEXT} INSERT OR IGNORE INTO change_deletions (table_name, row_id, change_number, "
                   f"org_id) VALUES ('{table}', OLD.id, {_SQLITE_VALUE}, OLD.org_id); END")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("change_number", sa.BigInteger()))
        if table != "organizations":
            op.create_index(_index(table), table, ["org_id", "change_number"])
    op.create_table(
        "change_deletions",
        sa.Column("table_name", sa.String(40), primary_key=True),
        sa.Column("row_id", sa.String(36), primary_key=True),
        sa.Column("change_number", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("org_id", sa.String(36), nullable=False),
    )
    op.create_index("ix_change_deletions_org_change", "change_deletions", ["org_id", "change_number"])
    op.create_table(
        "change_counter",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
    )
    op.execute("INSERT INTO change_counter (id, value) VALUES (1, 0)")
    if op.get_context().dialect.name == "postgresql":
        _pg_upgrade()
    else:
        _sqlite_upgrade()


def downgrade() -> None:
    postgres = op.get_context().dialect.name == "postgresql"
    for table in TABLES:
        if postgres:
            op.execute(f"DROP TRIGGER IF EXISTS change_number_insert ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS change_number_update ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS change_deletions ON {table}")
        else:
            for trigger in ("change_number_insert", "change_number_update", "change_deletion"):
                op.execute(f"DROP TRIGGER IF EXISTS {trigger}_{table}")
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS auditoryx_set_change_number()")
        op.execute("DROP FUNCTION IF EXISTS auditoryx_record_deletions()")
    op.drop_table("change_counter")
    op.drop_table("change_deletions")
    for table in TABLES:
        if table != "organizations":
            op.drop_index(_index(table), table_name=table)
        op.drop_column(table, "change_number")
