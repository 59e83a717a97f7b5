"""SQLAlchemy 2.0 typed models of every operational entity.

Ids are text. Every row but ``organizations`` carries ``org_id`` (the tenant).
Money is exact (:class:`~operational.types.Money`), timestamps are UTC.
"""
from __future__ import annotations

import datetime as dt
import decimal
import re
import uuid
import zoneinfo
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Unmapped, mapped_column, unmapped_column, validates

from operational.enums import (
    BookingStatus,
    BookingType,
    MilestoneStatus,
    OrgType,
    PaymentStatus,
    Plan,
    Priority,
    ProjectRole,
    ProjectStatus,
    ProjectType,
    UserRole,
    VerificationStatus,
)
from operational.types import JsonType, Money, UtcDateTime, enum_column

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
CURRENCY_PATTERN = "^[A-Z]{3}$"
EMAIL_PATTERN = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
ISO_4217_CODES = frozenset("""
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP
    BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB
    EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD IRR ISK JMD JOD
    JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU
    MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD
    RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY
    TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD
    XCG XDR XOF XPD XPF XPT XSU XUA YER ZAR ZMW ZWG ZWL
""".split())
"""ISO 4217 alphabetic codes in use (plus HRK, SLL, ZWL, ANG, CUC, recently withdrawn but still found
in historical records); XTS (testing) and XXX (no currency) are not money."""


# Validation: the database checks shapes (length, case, enums); these check meaning.

def validate_slug(value: str) -> str:
    if not isinstance(value, str) or not SLUG_PATTERN.match(value):
        raise ValueError(f"invalid slug {value!r}: 2-63 characters, a-z 0-9 and '-', not starting with '-'")
    return value


def validate_currency(value: str) -> str:
    if value not in ISO_4217_CODES:
        raise ValueError(f"unknown currency {value!r}: expected an ISO 4217 code such as 'USD'")
    return value


@lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_timezone(value: str) -> str:
    if value not in _time_zones():
        raise ValueError(f"unknown time zone {value!r}: expected an IANA name such as 'Europe/Berlin'")
    return value


def validate_email(value: str) -> str:
    if not isinstance(value, str) or len(value) > 254 or not EMAIL_PATTERN.match(value):
        raise ValueError(f"invalid email address {value!r}")
    return value


def normalize_email(value: str) -> str:
    """Emails are stored lower-case (ASCII only, see EMAIL_PATTERN): unique case-insensitively."""
    return value.strip().lower() if isinstance(value, str) else value


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    pass


def tenant_fk(table: str, column: str, target: str) -> ForeignKeyConstraint:
    """``(org_id, column)`` → ``target(org_id, id)``: a reference can only point inside its tenant.

    The single-column foreign key beside it keeps the ON DELETE action (SET NULL cannot be
    expressed on a composite key whose ``org_id`` is NOT NULL); this one only refuses rows that
    point at another tenant's row, whatever the role or row-level security setting.
    """
    return ForeignKeyConstraint(["org_id", column], [f"{target}.org_id", f"{target}.id"],
                                name=f"fk_{table}_{column}_tenant")


def tenant_key(table: str) -> UniqueConstraint:
    """``UNIQUE (org_id, id)``: what :func:`tenant_fk` references."""
    return UniqueConstraint("org_id", "id", name=f"uq_{table}_org_id")


class Timestamped:
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class ChangeNumbered:
    """``change_number``: set by the database in the writing transaction, never by the application
    (migration 0006): on PostgreSQL the writing transaction's id (a trigger), on SQLite the next
    value of ``change_counter`` (triggers; writers are serialized there). Extraction reads the rows
    whose number is at or above the bound it took before its previous run (ingestion/extract.py).
    NULL only on rows untouched since before 0006 (read by the first, whole extraction).

    A column of the table, not an attribute of the objects: the ORM never writes, reads or audits
    it (``table.c.change_number`` in Core queries)."""

    change_number: Unmapped[int | None] = unmapped_column(BigInteger, sort_order=1000)


CHANGE_NUMBERED_TABLES = ("organizations", "users", "artists", "projects", "project_users",
                          "project_milestones", "bookings", "audit_log")
"""The tables extraction reads, each with a ``change_number`` and, but organizations, an
``(org_id, change_number)`` index; deletes from them (but organizations) leave a row in
``change_deletions``."""


def change_index(table: str) -> Index:
    return Index(f"ix_{table}_org_change", "org_id", "change_number")


def change_number_index(table: str) -> Index:
    """The change sensor's range read: what changed since a bound, all tenants (migration 0007)."""
    return Index(f"ix_{table}_change_number", "change_number")


def _currency_check(column: str, table: str) -> CheckConstraint:
    # length + upper case: portable across SQLite and PostgreSQL (codes are validated in Python too)
    return CheckConstraint(
        f"length({column}) = 3 AND upper({column}) = {column}", name=f"ck_{table}_{column}_iso"
    )


class Organization(Timestamped, ChangeNumbered, Base):
    __tablename__ = "organizations"
    __table_args__ = (CheckConstraint("length(slug) BETWEEN 2 AND 63", name="ck_org_slug_len"),
                      change_number_index("organizations"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    type: Mapped[OrgType] = mapped_column(enum_column(OrgType, "org_type"))
    plan: Mapped[Plan] = mapped_column(enum_column(Plan, "org_plan"))
    custom_domain: Mapped[str | None] = mapped_column(String(253), unique=True)
    branding: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    settings: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    @validates("slug")
    def _valid_slug(self, _key, value):
        return validate_slug(value)


class User(Timestamped, ChangeNumbered, Base):
    __tablename__ = "users"
    __table_args__ = (
        Index("ix_users_org", "org_id"),
        change_index("users"),
        change_number_index("users"),
        tenant_key("users"),
        CheckConstraint("email = lower(email)", name="ck_users_email_lower"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[UserRole] = mapped_column(enum_column(UserRole, "user_role"))
    permissions: Mapped[list[str]] = mapped_column(JsonType, default=list)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    @validates("email")
    def _valid_email(self, _key, value):
        return validate_email(normalize_email(value))


class Artist(Timestamped, ChangeNumbered, Base):
    __tablename__ = "artists"
    __table_args__ = (
        Index("ix_artists_org", "org_id"),
        change_index("artists"),
        change_number_index("artists"),
        tenant_key("artists"),
        tenant_fk("artists", "user_id", "users"),
        CheckConstraint("rating IS NULL OR (rating >= 0 AND rating <= 5)", name="ck_artist_rating"),
        CheckConstraint("total_bookings >= 0", name="ck_artist_total_bookings"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200))
    stage_name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    genres: Mapped[list[str]] = mapped_column(JsonType, default=list)
    skills: Mapped[list[str]] = mapped_column(JsonType, default=list)
    bio: Mapped[str | None] = mapped_column(Text)
    avatar_url: Mapped[str | None] = mapped_column(String(500))
    social_links: Mapped[dict[str, str]] = mapped_column(JsonType, default=dict)
    verification_status: Mapped[VerificationStatus] = mapped_column(
        enum_column(VerificationStatus, "artist_verification"), default=VerificationStatus.PENDING
    )
    rating: Mapped[decimal.Decimal | None] = mapped_column(Numeric(3, 2))
    total_bookings: Mapped[int] = mapped_column(Integer, default=0)
    total_earnings: Mapped[decimal.Decimal] = mapped_column(Money, default=decimal.Decimal("0"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    @validates("email")
    def _valid_email(self, _key, value):
        return None if value is None else validate_email(value)


class Project(Timestamped, ChangeNumbered, Base):
    __tablename__ = "projects"
    __table_args__ = (
        Index("ix_projects_org", "org_id"),
        change_index("projects"),
        change_number_index("projects"),
        tenant_key("projects"),
        tenant_fk("projects", "created_by_id", "users"),
        CheckConstraint("budget IS NULL OR budget >= 0", name="ck_project_budget"),
        CheckConstraint("spent >= 0", name="ck_project_spent"),
        CheckConstraint("end_date IS NULL OR start_date IS NULL OR end_date >= start_date", name="ck_project_dates"),
        _currency_check("currency", "projects"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    type: Mapped[ProjectType] = mapped_column(enum_column(ProjectType, "project_type"))
    status: Mapped[ProjectStatus] = mapped_column(enum_column(ProjectStatus, "project_status"))
    priority: Mapped[Priority] = mapped_column(enum_column(Priority, "project_priority"), default=Priority.MEDIUM)
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    deadline: Mapped[dt.date | None] = mapped_column(Date)
    budget: Mapped[decimal.Decimal | None] = mapped_column(Money)
    spent: Mapped[decimal.Decimal] = mapped_column(Money, default=decimal.Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    client_name: Mapped[str | None] = mapped_column(String(200))
    client_email: Mapped[str | None] = mapped_column(String(254))
    created_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    @validates("currency")
    def _valid_currency(self, _key, value):
        return validate_currency(value)

    @validates("client_email")
    def _valid_client_email(self, _key, value):
        return None if value is None else validate_email(value)


class ProjectUser(Timestamped, ChangeNumbered, Base):
    __tablename__ = "project_users"
    __table_args__ = (
        UniqueConstraint("project_id", "user_id", name="uq_project_user"),
        Index("ix_project_users_org", "org_id"),
        change_index("project_users"),
        change_number_index("project_users"),
        tenant_fk("project_users", "project_id", "projects"),
        tenant_fk("project_users", "user_id", "users"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[ProjectRole] = mapped_column(enum_column(ProjectRole, "project_role"))


class ProjectMilestone(Timestamped, ChangeNumbered, Base):
    __tablename__ = "project_milestones"
    __table_args__ = (
        Index("ix_milestones_org_project", "org_id", "project_id"),
        change_index("project_milestones"),
        change_number_index("project_milestones"),
        tenant_fk("project_milestones", "project_id", "projects"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[MilestoneStatus] = mapped_column(enum_column(MilestoneStatus, "milestone_status"))
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class Booking(Timestamped, ChangeNumbered, Base):
    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint("end_date > start_date", name="ck_booking_end_after_start"),
        CheckConstraint("budget IS NULL OR budget >= 0", name="ck_booking_budget"),
        CheckConstraint("final_price IS NULL OR final_price >= 0", name="ck_booking_final_price"),
        CheckConstraint("duration_minutes > 0", name="ck_booking_duration"),
        _currency_check("currency", "bookings"),
        Index("ix_bookings_org_start", "org_id", "start_date"),
        Index("ix_bookings_org_updated", "org_id", "updated_at"),
        change_index("bookings"),
        change_number_index("bookings"),
        Index("ix_bookings_artist_start", "artist_id", "start_date", "end_date"),
        tenant_fk("bookings", "project_id", "projects"),
        tenant_fk("bookings", "artist_id", "artists"),
        tenant_fk("bookings", "client_id", "users"),
        tenant_fk("bookings", "created_by_id", "users"),
        tenant_fk("bookings", "assigned_to_id", "users"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    project_id: Mapped[str | None] = mapped_column(ForeignKey("projects.id", ondelete="SET NULL"))
    artist_id: Mapped[str] = mapped_column(ForeignKey("artists.id", ondelete="CASCADE"))
    client_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    assigned_to_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200))
    type: Mapped[BookingType] = mapped_column(enum_column(BookingType, "booking_type"))
    status: Mapped[BookingStatus] = mapped_column(enum_column(BookingStatus, "booking_status"))
    priority: Mapped[Priority] = mapped_column(enum_column(Priority, "booking_priority"), default=Priority.MEDIUM)
    start_date: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    end_date: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    location: Mapped[str | None] = mapped_column(String(200))
    is_remote: Mapped[bool] = mapped_column(Boolean, default=False)
    budget: Mapped[decimal.Decimal | None] = mapped_column(Money)
    final_price: Mapped[decimal.Decimal | None] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    payment_status: Mapped[PaymentStatus] = mapped_column(
        enum_column(PaymentStatus, "payment_status"), default=PaymentStatus.PENDING
    )
    requirements: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    deliverables: Mapped[list[Any]] = mapped_column(JsonType, default=list)
    notes: Mapped[str | None] = mapped_column(Text)

    @validates("currency")
    def _valid_currency(self, _key, value):
        return validate_currency(value)

    @validates("timezone")
    def _valid_timezone(self, _key, value):
        return validate_timezone(value)


class AuditLog(ChangeNumbered, Base):
    """Append-only record of every change made through the product.

    ``actor_id`` has no tenant-scoped key on purpose: a platform operator (SUPER_ADMIN of the
    platform's own organization) who opens a tenant read-only is recorded in that tenant's log.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_org_at", "org_id", "at"), change_index("audit_log"),
                      change_number_index("audit_log"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    actor_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(36))
    before: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    after: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    actor_key_id: Mapped[str | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL", name="fk_audit_log_actor_key_id"))


@event.listens_for(AuditLog, "before_update")
@event.listens_for(AuditLog, "before_delete")
def _audit_log_is_append_only(_mapper, _connection, target: AuditLog) -> None:
    raise ValueError(f"audit_log is append-only: entry {target.id} cannot be changed or deleted")


class LoginThrottle(Base):
    """Failed logins per account and per client address (keys are hashes, never the raw email):
    growing delays and a temporary lockout that hold across processes. Not tenant data."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class UserSession(Base):
    """A server-side login session: the browser holds only a random token (its SHA-256 is here).

    Ends at ``expires_at`` (absolute), after an idle period without ``last_seen_at`` moving, when
    revoked (logout, password reset), or when the user's role or active flag changes.
    ``viewing_org_id``: a SUPER_ADMIN's read-only view of another tenant, chosen in the session.
    """

    __tablename__ = "user_sessions"
    __table_args__ = (
        Index("ix_user_sessions_user", "user_id"),
        Index("ix_user_sessions_org", "org_id"),
        tenant_fk("user_sessions", "user_id", "users"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    viewing_org_id: Mapped[str | None] = mapped_column(ForeignKey("organizations.id", ondelete="SET NULL"))
    client_address: Mapped[str | None] = mapped_column(String(64))


class ApiKey(Base):
    """An organization's API key: the secret is shown once; only its SHA-256 is kept.

    ``scopes`` are names from :data:`operational.permissions.API_SCOPES`; a key stops working at
    ``expires_at`` or once ``revoked_at`` is set (checked on every request)."""

    __tablename__ = "api_keys"
    __table_args__ = (
        Index("ix_api_keys_org", "org_id"),
        tenant_fk("api_keys", "created_by_id", "users"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JsonType, default=list)
    created_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class ApiIdempotency(Base):
    """The stored answer to a write sent with an ``Idempotency-Key``: a retry gets it back."""

    __tablename__ = "api_idempotency"

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    principal: Mapped[str] = mapped_column(String(80), primary_key=True)
    idem_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class ApiRateBucket(Base):
    """A token bucket (per tenant or per key) shared by every API process.
    ``refilled_at`` is in seconds since the epoch (portable arithmetic on both backends)."""

    __tablename__ = "api_rate_buckets"

    bucket: Mapped[str] = mapped_column(String(80), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    tokens: Mapped[float] = mapped_column(Float)
    refilled_at: Mapped[float] = mapped_column(Float)


class FeedToken(Base):
    """A secret calendar-feed token (``/feeds/<token>.ics``): the whole tenant's bookings, or one
    artist's. Only its SHA-256 is kept; rotating revokes the old one."""

    __tablename__ = "feed_tokens"
    __table_args__ = (
        Index("ix_feed_tokens_org", "org_id"),
        tenant_fk("feed_tokens", "artist_id", "artists"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    artist_id: Mapped[str | None] = mapped_column(ForeignKey("artists.id", ondelete="CASCADE"))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class ChangeDeletion(Base):
    """A row deleted from a change-numbered table (written by a trigger, migration 0006): its id,
    tenant and the change number of the deleting write, so that incremental extraction finds
    deletes too. TRUNCATE leaves none (a full extraction reconciles keys)."""

    __tablename__ = "change_deletions"
    __table_args__ = (Index("ix_change_deletions_org_change", "org_id", "change_number"),
                      change_number_index("change_deletions"))

    table_name: Mapped[str] = mapped_column(String(40), primary_key=True)
    row_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    change_number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    org_id: Mapped[str] = mapped_column(String(36))


class ChangeCounter(Base):
    """SQLite's change numbers: one row (id 1) whose value the triggers (and bulk writers) move on,
    inside the writing transaction. PostgreSQL numbers changes by transaction id: unused there."""

    __tablename__ = "change_counter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(BigInteger)


class ChangeDeletionsHorizon(Base):
    """One row (id 1): ``change_deletions`` rows numbered below ``pruned_below`` were removed
    (operational/change_pruning.py); an extraction from an older watermark reads whole instead."""

    __tablename__ = "change_deletions_horizon"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    pruned_below: Mapped[int] = mapped_column(BigInteger)


TENANT_TABLES = ("users", "artists", "projects", "project_users", "project_milestones", "bookings", "audit_log")


# Durable delivery (migration 0005): webhook endpoints, the outbox and its delivery log.

OUTBOX_CHANNELS = ("webhook", "email")
OUTBOX_STATUSES = ("pending", "delivered", "dead")
OUTBOX_OUTCOMES = ("delivered", "failed", "dead")


class WebhookEndpoint(Base):
    """An organization's webhook receiver: the events it subscribes to and its signing secret.

    The secret is kept as is (HMAC needs it); after a rotation the previous one also signs until
    ``previous_secret_expires_at``, so receivers can switch without missing a delivery."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        Index("ix_webhook_endpoints_org", "org_id"),
        tenant_key("webhook_endpoints"),
        tenant_fk("webhook_endpoints", "created_by_id", "users"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(200))
    events: Mapped[list[str]] = mapped_column(JsonType, default=list)
    secret: Mapped[str] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class OutboxMessage(Base):
    """One message to deliver (a webhook call, an e-mail), written in the transaction of the change
    it reports. Never deleted: ``delivered``, or ``dead`` after ``max_attempts`` (still visible).
    ``claim_token``: the worker holding it until ``next_attempt_at`` (a lease)."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_messages_due", "status", "next_attempt_at"),
        Index("ix_outbox_messages_org_created", "org_id", "created_at"),
        Index("ix_outbox_messages_endpoint", "endpoint_id"),
        tenant_key("outbox_messages"),
        tenant_fk("outbox_messages", "endpoint_id", "webhook_endpoints"),
        CheckConstraint("channel IN ('webhook', 'email')", name="ck_outbox_messages_channel"),
        CheckConstraint("status IN ('pending', 'delivered', 'dead')", name="ck_outbox_messages_status"),
        CheckConstraint("attempts >= 0 AND max_attempts > 0", name="ck_outbox_messages_attempts"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    event_type: Mapped[str | None] = mapped_column(String(64))
    endpoint_id: Mapped[str | None] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="SET NULL"))
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=10)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    claim_token: Mapped[str | None] = mapped_column(String(36))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class OutboxAttempt(Base):
    """The delivery log: one row per attempt of a message (outcome, HTTP status or error, time)."""

    __tablename__ = "outbox_attempts"
    __table_args__ = (
        UniqueConstraint("message_id", "attempt", name="uq_outbox_attempts_message_attempt"),
        Index("ix_outbox_attempts_org", "org_id"),
        tenant_fk("outbox_attempts", "message_id", "outbox_messages"),
        CheckConstraint("outcome IN ('delivered', 'failed', 'dead')", name="ck_outbox_attempts_outcome"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(ForeignKey("outbox_messages.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    outcome: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)


DELIVERY_TABLES = ("webhook_endpoints", "outbox_messages", "outbox_attempts")
