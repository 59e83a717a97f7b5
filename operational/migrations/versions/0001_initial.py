"""Initial schema: every table of operational/models.py as of this revision.

Enums are VARCHAR(32) + a named CHECK (portable); JSON is JSONB on PostgreSQL; money is
NUMERIC(18,2) on PostgreSQL and canonical decimal text on SQLite. Types are spelled out here,
not imported from the models, so this revision never changes when the models do.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
MONEY = sa.Numeric(18, 2).with_variant(sa.String(24), "sqlite")
UTC_TIMESTAMP = sa.DateTime(timezone=True)
PRIORITIES = ("LOW", "MEDIUM", "HIGH", "URGENT")


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def _id() -> sa.Column:
    return sa.Column("id", sa.String(36), primary_key=True)


def _fk(name: str, target: str, ondelete: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.String(36), sa.ForeignKey(f"{target}.id", ondelete=ondelete), nullable=nullable)


def _org_id() -> sa.Column:
    return _fk("org_id", "organizations", "CASCADE", nullable=False)


def _timestamps() -> list[sa.Column]:
    return [sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
            sa.Column("updated_at", UTC_TIMESTAMP, nullable=False)]


def _currency_check(table: str) -> sa.CheckConstraint:
    return sa.CheckConstraint("length(currency) = 3 AND upper(currency) = currency",
                              name=f"ck_{table}_currency_iso")


def upgrade() -> None:
    op.create_table(
        "organizations",
        _id(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("slug", sa.String(63), nullable=False, unique=True),
        sa.Column("type", _enum("org_type", "RECORD_LABEL", "PRODUCTION_STUDIO", "ENTERTAINMENT_AGENCY",
                                "CONTENT_COMPANY", "EDUCATIONAL_INSTITUTION", "CORPORATE_MEDIA",
                                "PODCAST_NETWORK", "STREAMING_PLATFORM", "INDIVIDUAL"), nullable=False),
        sa.Column("plan", _enum("org_plan", "FREE", "STUDIO_PRO", "LABEL_ENTERPRISE", "WHITE_LABEL", "CUSTOM"),
                  nullable=False),
        sa.Column("custom_domain", sa.String(253), unique=True),
        sa.Column("branding", JSON, nullable=False),
        sa.Column("settings", JSON, nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        *_timestamps(),
        sa.CheckConstraint("length(slug) BETWEEN 2 AND 63", name="ck_org_slug_len"),
    )
    op.create_table(
        "users",
        _id(),
        _org_id(),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", _enum("user_role", "SUPER_ADMIN", "ORG_ADMIN", "LABEL_MANAGER", "ARTIST_MANAGER",
                                "STUDIO_MANAGER", "ACCOUNTANT", "CREATOR", "CLIENT", "VIEWER"), nullable=False),
        sa.Column("permissions", JSON, nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("last_login_at", UTC_TIMESTAMP),
        *_timestamps(),
    )
    op.create_index("ix_users_org", "users", ["org_id"])
    op.create_table(
        "artists",
        _id(),
        _org_id(),
        _fk("user_id", "users", "SET NULL"),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("stage_name", sa.String(200)),
        sa.Column("email", sa.String(254)),
        sa.Column("phone", sa.String(40)),
        sa.Column("genres", JSON, nullable=False),
        sa.Column("skills", JSON, nullable=False),
        sa.Column("bio", sa.Text()),
        sa.Column("avatar_url", sa.String(500)),
        sa.Column("social_links", JSON, nullable=False),
        sa.Column("verification_status", _enum("artist_verification", "PENDING", "VERIFIED", "REJECTED",
                                               "SUSPENDED"), nullable=False),
        sa.Column("rating", sa.Numeric(3, 2)),
        sa.Column("total_bookings", sa.Integer(), nullable=False),
        sa.Column("total_earnings", MONEY, nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        *_timestamps(),
        sa.CheckConstraint("rating IS NULL OR (rating >= 0 AND rating <= 5)", name="ck_artist_rating"),
        sa.CheckConstraint("total_bookings >= 0", name="ck_artist_total_bookings"),
    )
    op.create_index("ix_artists_org", "artists", ["org_id"])
    op.create_table(
        "projects",
        _id(),
        _org_id(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("type", _enum("project_type", "ALBUM", "SINGLE", "EP", "PODCAST_SERIES", "COMMERCIAL",
                                "FILM_SCORE", "GAME_AUDIO", "OTHER"), nullable=False),
        sa.Column("status", _enum("project_status", "PLANNING", "IN_PROGRESS", "ON_HOLD", "COMPLETED",
                                  "CANCELLED"), nullable=False),
        sa.Column("priority", _enum("project_priority", *PRIORITIES), nullable=False),
        sa.Column("start_date", sa.Date()),
        sa.Column("end_date", sa.Date()),
        sa.Column("deadline", sa.Date()),
        sa.Column("budget", MONEY),
        sa.Column("spent", MONEY, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("client_name", sa.String(200)),
        sa.Column("client_email", sa.String(254)),
        _fk("created_by_id", "users", "SET NULL"),
        *_timestamps(),
        sa.CheckConstraint("budget IS NULL OR budget >= 0", name="ck_project_budget"),
        sa.CheckConstraint("spent >= 0", name="ck_project_spent"),
        sa.CheckConstraint("end_date IS NULL OR start_date IS NULL OR end_date >= start_date",
                           name="ck_project_dates"),
        _currency_check("projects"),
    )
    op.create_index("ix_projects_org", "projects", ["org_id"])
    op.create_table(
        "project_users",
        _id(),
        _org_id(),
        _fk("project_id", "projects", "CASCADE", nullable=False),
        _fk("user_id", "users", "CASCADE", nullable=False),
        sa.Column("role", _enum("project_role", "OWNER", "MANAGER", "COLLABORATOR", "VIEWER"), nullable=False),
        *_timestamps(),
        sa.UniqueConstraint("project_id", "user_id", name="uq_project_user"),
    )
    op.create_index("ix_project_users_org", "project_users", ["org_id"])
    op.create_table(
        "project_milestones",
        _id(),
        _org_id(),
        _fk("project_id", "projects", "CASCADE", nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("due_date", sa.Date()),
        sa.Column("status", _enum("milestone_status", "PENDING", "IN_PROGRESS", "COMPLETED", "OVERDUE"),
                  nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("completed_at", UTC_TIMESTAMP),
        *_timestamps(),
    )
    op.create_index("ix_milestones_org_project", "project_milestones", ["org_id", "project_id"])
    op.create_table(
        "bookings",
        _id(),
        _org_id(),
        _fk("project_id", "projects", "SET NULL"),
        _fk("artist_id", "artists", "CASCADE", nullable=False),
        _fk("client_id", "users", "SET NULL"),
        _fk("created_by_id", "users", "SET NULL"),
        _fk("assigned_to_id", "users", "SET NULL"),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("type", _enum("booking_type", "RECORDING_SESSION", "MIXING", "MASTERING", "PRODUCTION",
                                "CONSULTATION", "PERFORMANCE", "WORKSHOP", "OTHER"), nullable=False),
        sa.Column("status", _enum("booking_status", "DRAFT", "PENDING_APPROVAL", "APPROVED", "CONFIRMED",
                                  "IN_PROGRESS", "COMPLETED", "CANCELLED", "DISPUTE"), nullable=False),
        sa.Column("priority", _enum("booking_priority", *PRIORITIES), nullable=False),
        sa.Column("start_date", UTC_TIMESTAMP, nullable=False),
        sa.Column("end_date", UTC_TIMESTAMP, nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("location", sa.String(200)),
        sa.Column("is_remote", sa.Boolean(), nullable=False),
        sa.Column("budget", MONEY),
        sa.Column("final_price", MONEY),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("payment_status", _enum("payment_status", "PENDING", "PARTIAL", "PAID", "REFUNDED",
                                          "DISPUTED"), nullable=False),
        sa.Column("requirements", JSON, nullable=False),
        sa.Column("deliverables", JSON, nullable=False),
        sa.Column("notes", sa.Text()),
        *_timestamps(),
        sa.CheckConstraint("end_date > start_date", name="ck_booking_end_after_start"),
        sa.CheckConstraint("budget IS NULL OR budget >= 0", name="ck_booking_budget"),
        sa.CheckConstraint("final_price IS NULL OR final_price >= 0", name="ck_booking_final_price"),
        sa.CheckConstraint("duration_minutes > 0", name="ck_booking_duration"),
        _currency_check("bookings"),
    )
    op.create_index("ix_bookings_org_start", "bookings", ["org_id", "start_date"])
    op.create_index("ix_bookings_org_updated", "bookings", ["org_id", "updated_at"])
    op.create_index("ix_bookings_artist_start", "bookings", ["artist_id", "start_date", "end_date"])
    op.create_table(
        "audit_log",
        _id(),
        _org_id(),
        _fk("actor_id", "users", "SET NULL"),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("entity", sa.String(40), nullable=False),
        sa.Column("entity_id", sa.String(36), nullable=False),
        sa.Column("before", JSON),
        sa.Column("after", JSON),
        sa.Column("at", UTC_TIMESTAMP, nullable=False),
    )
    op.create_index("ix_audit_org_at", "audit_log", ["org_id", "at"])


def downgrade() -> None:
    for table in ("audit_log", "bookings", "project_milestones", "project_users", "projects", "artists",
                  "users", "organizations"):
        op.drop_table(table)  # its indexes go with it
