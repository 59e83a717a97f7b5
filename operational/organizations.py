"""Organization administration: the platform's tenants and each tenant's own settings.

Platform level (resource ``platform``, a SUPER_ADMIN or the CLI's platform operator): create an
organization together with its first ORG_ADMIN, list organizations, change a plan, deactivate
and reactivate. Tenant level (resource ``settings``): read and update the organization's
settings and branding. Every change writes an audit entry into the affected tenant's log, in the
same transaction; the actor is the acting user (None for the CLI).

Slugs never change: nothing here changes one (and migration 0003 refuses it in the database),
because folders, links and file drops are keyed by slug.

Where things live (the keys the generator writes and the readers use):
``organizations.settings``: ``base_currency`` (ISO 4217), ``timezone`` (IANA),
``report_recipients`` (e-mail addresses); ``organizations.branding``: ``display_name``,
``primary_colour`` (``#rrggbb``), ``logo`` (an image URL; an uploaded logo is stored as a
``data:image/png;base64,…`` URL, so it carries its mime type and stays a URL for the readers).
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import Engine, case, func, select
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.orm import Session

from auditoryx.errors import AuditoryxError
from operational import audit, rls
from operational.auth import hash_password
from operational.enums import OrgType, Plan, UserRole
from operational.models import Organization, User, new_id, validate_currency, validate_email, validate_slug, \
    validate_timezone
from operational.permissions import Action, Actor, Resource, command_line_operator, require_permission
from operational.repository import NotFoundError, TenantRepository
from operational.users import (
    DuplicateEmail,
    UserSummary,
    _is_email_conflict,
    _taken_emails,
    _taken_message,
    _validated_row,
    require_schema,
)

MAX_NAME_LENGTH = 200
MAX_LOGO_BYTES = 256 * 1024
MAX_REPORT_RECIPIENTS = 50
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"
INSUFFICIENT_PRIVILEGE = "42501"  # PostgreSQL SQLSTATE
COLOUR_PATTERN = re.compile(r"^#[0-9a-fA-F]{6}$")
DATA_URL_PATTERN = re.compile(r"^data:(image/(?:png|jpeg));base64,([A-Za-z0-9+/=]*)$")

# The keys of organizations.settings / organizations.branding (as the generator writes them).
BASE_CURRENCY, TIME_ZONE, REPORT_RECIPIENTS = "base_currency", "timezone", "report_recipients"
DISPLAY_NAME, PRIMARY_COLOUR, LOGO = "display_name", "primary_colour", "logo"
# organizations.settings["report_schedule"]: the scheduled report (run by reports/schedules.py, sent
# to REPORT_RECIPIENTS); the vocabulary is reports/'s (a test keeps the two equal).
REPORT_SCHEDULE = "report_schedule"
REPORT_CADENCES = ("weekly", "monthly")
REPORT_SECTIONS = ("kpis", "revenue_by_month", "top_performers", "receivables_aging", "project_health",
                   "recent_activity")
REPORT_FORMATS = ("xlsx", "html", "pdf", "csv", "parquet")
REPORT_PERIODS = ("last-7-days", "last-30-days", "previous-month", "last-3-months", "last-12-months")


class InvalidSetting(AuditoryxError):
    """A setting or branding value that is refused (the message says why)."""


@dataclass(frozen=True)
class OrganizationSummary:
    id: str
    name: str
    slug: str
    type: str
    plan: str
    is_active: bool
    user_count: int
    active_user_count: int
    created_at: dt.datetime | None


@dataclass(frozen=True)
class CreatedOrganization:
    organization: OrganizationSummary
    admin: UserSummary
    admin_password: str | None   # the generated password, shown once (None when one was given)


@dataclass(frozen=True)
class OrganizationSettings:
    id: str
    name: str
    slug: str
    type: str
    plan: str
    display_name: str
    primary_color: str | None
    logo_url: str | None          # an https URL, or the uploaded logo as a data: URL
    logo_mime_type: str | None    # of an uploaded logo
    logo_size: int | None         # bytes, of an uploaded logo
    base_currency: str
    time_zone: str
    report_recipients: tuple[str, ...]
    report_schedule: dict[str, Any] | None = None   # see validate_report_schedule

    def logo_bytes(self) -> bytes | None:
        """The uploaded logo's bytes (None for none, or for a logo given as an https URL)."""
        parsed = _data_url(self.logo_url)
        return None if parsed is None else parsed[1]


# Platform level

def create_organization(engine: Engine, actor: Actor, name: str, slug: str, type: str | OrgType,
                        plan: str | Plan, base_currency: str, time_zone: str, admin_email: str,
                        admin_name: str, admin_password: str | None = None) -> CreatedOrganization:
    """Create an organization and its first ORG_ADMIN in one transaction; the admin's generated
    password (when none was given) is in the result, shown once."""
    require_permission(actor, Resource.PLATFORM, Action.CREATE)
    org_id = new_id()
    name = _name(name)
    slug = _slug(slug)
    org_type = _choice(OrgType, type, "organization type")
    org_plan = _choice(Plan, plan, "plan")
    currency = _currency(base_currency)
    zone = _time_zone(time_zone)
    admin, generated = _validated_row(command_line_operator(org_id),
                                      {"email": admin_email, "name": admin_name, "role": UserRole.ORG_ADMIN,
                                       "password": admin_password})
    require_schema(engine)
    with Session(engine) as session:  # clear messages first (the constraints stay the last word)
        rls.platform_read_scope(session.connection())
        if session.scalar(select(Organization.id).where(Organization.slug == slug)) is not None:
            raise AuditoryxError(_slug_taken(slug))
        if _taken_emails(session, [admin["email"]]):
            raise DuplicateEmail(_taken_message(admin["email"]))
    admin["password_hash"] = hash_password(admin.pop("password"))
    try:
        with Session(engine) as session, session.begin():
            # scoped to the new tenant first: on PostgreSQL its row is then visible to the insert's policy
            repo = TenantRepository(session, org_id, actor_id=actor.user_id, actor_key_id=actor.api_key_id)
            org = Organization(id=org_id, name=name, slug=slug, type=org_type, plan=org_plan, is_active=True,
                               branding={DISPLAY_NAME: name},
                               settings={BASE_CURRENCY: currency, TIME_ZONE: zone, REPORT_RECIPIENTS: []})
            session.add(org)
            session.flush()
            session.refresh(org)
            audit.record(session, tenant_id=org_id, actor_id=actor.user_id, actor_key_id=actor.api_key_id, action="create",
                         entity="organizations", entity_id=org_id, before=None, after=_org_snapshot(org))
            user = repo.add(User, **admin)
            result = CreatedOrganization(_summary(org, 1, 1), UserSummary.of(user), generated)
    except IntegrityError as exc:  # created concurrently (or hidden from this role by row-level security)
        if "slug" in str(exc.orig).lower():
            raise AuditoryxError(_slug_taken(slug)) from None
        if _is_email_conflict(exc):
            raise DuplicateEmail(_taken_message(admin["email"])) from None
        raise
    except ProgrammingError as exc:
        if getattr(exc.orig, "sqlstate", None) == INSUFFICIENT_PRIVILEGE:
            raise AuditoryxError("this database login may not create organizations (it needs INSERT on "
                                 "organizations): use the operational owner's URL, e.g. `auditoryx tenants create`"
                                 ) from None
        raise
    return result


def list_organizations(engine: Engine, actor: Actor) -> list[OrganizationSummary]:
    """Every organization, by slug, with its user counts."""
    require_permission(actor, Resource.PLATFORM, Action.READ)
    require_schema(engine)
    users = (select(User.org_id, func.count(User.id).label("users"),
                    func.sum(case((User.is_active.is_(True), 1), else_=0)).label("active"))
             .group_by(User.org_id).subquery())
    query = (select(Organization, users.c.users, users.c.active)
             .outerjoin(users, users.c.org_id == Organization.id).order_by(Organization.slug))
    with Session(engine) as session:
        rls.platform_read_scope(session.connection())  # PostgreSQL: the operators' read policy
        return [_summary(org, count or 0, active or 0) for org, count, active in session.execute(query)]


def change_plan(engine: Engine, actor: Actor, tenant_id: str, plan: str | Plan) -> OrganizationSummary:
    require_permission(actor, Resource.PLATFORM, Action.UPDATE)
    new_plan = _choice(Plan, plan, "plan")

    def apply(org: Organization) -> dict[str, Any]:
        if org.plan is new_plan:
            raise AuditoryxError(f"organization {org.slug!r} is already on the plan {new_plan}")
        return {"plan": new_plan}

    return _platform_change(engine, actor, tenant_id, apply)


def deactivate_organization(engine: Engine, actor: Actor, tenant_id: str) -> OrganizationSummary:
    """Nobody of the organization can log in any more; its data stays (and its snapshots are
    retired by the pipeline's tenant sensor)."""
    require_permission(actor, Resource.PLATFORM, Action.DELETE)

    def apply(org: Organization) -> dict[str, Any]:
        if not org.is_active:
            raise AuditoryxError(f"organization {org.slug!r} is already inactive")
        return {"is_active": False}

    return _platform_change(engine, actor, tenant_id, apply)


def reactivate_organization(engine: Engine, actor: Actor, tenant_id: str) -> OrganizationSummary:
    require_permission(actor, Resource.PLATFORM, Action.UPDATE)

    def apply(org: Organization) -> dict[str, Any]:
        if org.is_active:
            raise AuditoryxError(f"organization {org.slug!r} is already active")
        return {"is_active": True}

    return _platform_change(engine, actor, tenant_id, apply)


# Tenant level

def get_organization_settings(db: Engine | Session, actor: Actor) -> OrganizationSettings:
    """The actor's organization: its settings and branding."""
    require_permission(actor, Resource.SETTINGS, Action.READ)
    if isinstance(db, Session):
        return _settings_of(TenantRepository(db, actor.tenant_id, actor_id=actor.user_id, actor_key_id=actor.api_key_id).organization())
    require_schema(db)
    with Session(db) as session:
        return _settings_of(TenantRepository(session, actor.tenant_id, actor_id=actor.user_id, actor_key_id=actor.api_key_id).organization())


def update_organization_settings(db: Engine | Session, actor: Actor, *, display_name: str | None = None,
                                 primary_color: str | None = None, logo_bytes: bytes | None = None,
                                 remove_logo: bool = False, base_currency: str | None = None,
                                 time_zone: str | None = None,
                                 report_recipients: Iterable[str] | str | None = None,
                                 report_schedule: dict[str, Any] | None = None) -> OrganizationSettings:
    """Change some of the organization's settings (None leaves a value as it is). Every value is
    checked before anything is written; the audit entry shows a logo as its type and size."""
    require_permission(actor, Resource.SETTINGS, Action.UPDATE)
    if logo_bytes is not None and remove_logo:
        raise InvalidSetting("either upload a logo or remove it, not both")
    branding: dict[str, Any] = {}
    settings: dict[str, Any] = {}
    if display_name is not None:
        branding[DISPLAY_NAME] = _name(display_name, "display name")
    if primary_color is not None:
        branding[PRIMARY_COLOUR] = _colour(primary_color)
    if logo_bytes is not None:
        branding[LOGO] = _logo_data_url(logo_bytes)
    if remove_logo:
        branding[LOGO] = None
    if base_currency is not None:
        settings[BASE_CURRENCY] = _currency(base_currency, InvalidSetting)
    if time_zone is not None:
        settings[TIME_ZONE] = _time_zone(time_zone, InvalidSetting)
    if report_recipients is not None:
        settings[REPORT_RECIPIENTS] = _recipients(report_recipients)
    if report_schedule is not None:
        settings[REPORT_SCHEDULE] = validate_report_schedule(report_schedule)

    if isinstance(db, Session):
        return _update_settings(db, actor, branding, settings)
    require_schema(db)
    with Session(db) as session, session.begin():
        return _update_settings(session, actor, branding, settings)


# Helpers

def _platform_change(engine: Engine, actor: Actor, tenant_id: str, apply) -> OrganizationSummary:
    if not isinstance(tenant_id, str) or not tenant_id.strip():
        raise NotFoundError("no such organization")
    require_schema(engine)
    with Session(engine) as session, session.begin():
        TenantRepository(session, tenant_id, actor_id=actor.user_id, actor_key_id=actor.api_key_id)  # scopes the transaction (PostgreSQL)
        org = _locked_org(session, tenant_id)
        changes = apply(org)
        before = {key: getattr(org, key) for key in changes}
        for key, value in changes.items():
            setattr(org, key, value)
        session.flush()
        audit.record(session, tenant_id=tenant_id, actor_id=actor.user_id, actor_key_id=actor.api_key_id, action="update", entity="organizations",
                     entity_id=tenant_id, before=before, after=changes)
        counts = session.execute(select(func.count(User.id), func.sum(case((User.is_active.is_(True), 1), else_=0)))
                                 .where(User.org_id == tenant_id)).one()
        return _summary(org, counts[0] or 0, counts[1] or 0)


def _locked_org(session: Session, tenant_id: str) -> Organization:
    """The organization's row, locked until the transaction ends (PostgreSQL; SQLite has one writer)."""
    org = session.scalar(select(Organization).where(Organization.id == tenant_id).with_for_update())
    if org is None:
        raise NotFoundError(f"no organization {tenant_id!r}")
    return org


def _update_settings(session: Session, actor: Actor, branding: dict[str, Any],
                     settings: dict[str, Any]) -> OrganizationSettings:
    TenantRepository(session, actor.tenant_id, actor_id=actor.user_id, actor_key_id=actor.api_key_id)  # scopes the transaction (PostgreSQL)
    org = _locked_org(session, actor.tenant_id)
    old_branding, old_settings = dict(org.branding or {}), dict(org.settings or {})
    new_branding, new_settings = dict(old_branding), dict(old_settings)
    for key, value in branding.items():
        if value is None:
            new_branding.pop(key, None)
        else:
            new_branding[key] = value
    new_settings.update(settings)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for prefix, old, new in (("branding", old_branding, new_branding), ("settings", old_settings, new_settings)):
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                describe = _describe_logo if key == LOGO else (lambda value: value)
                before[f"{prefix}.{key}"] = describe(old.get(key))
                after[f"{prefix}.{key}"] = describe(new.get(key))
    if after:
        org.branding = new_branding
        org.settings = new_settings
        session.flush()
        audit.record(session, tenant_id=actor.tenant_id, actor_id=actor.user_id, actor_key_id=actor.api_key_id, action="update",
                     entity="organizations", entity_id=org.id, before=before, after=after)
    return _settings_of(org)


def _settings_of(org: Organization) -> OrganizationSettings:
    branding, settings = org.branding or {}, org.settings or {}
    logo = branding.get(LOGO)
    parsed = _data_url(logo)
    return OrganizationSettings(
        id=org.id, name=org.name, slug=org.slug, type=str(org.type), plan=str(org.plan),
        display_name=branding.get(DISPLAY_NAME) or org.name, primary_color=branding.get(PRIMARY_COLOUR),
        logo_url=logo, logo_mime_type=parsed[0] if parsed else None, logo_size=len(parsed[1]) if parsed else None,
        base_currency=settings.get(BASE_CURRENCY) or "USD", time_zone=settings.get(TIME_ZONE) or "UTC",
        report_recipients=tuple(settings.get(REPORT_RECIPIENTS) or ()),
        report_schedule=dict(settings[REPORT_SCHEDULE]) if isinstance(settings.get(REPORT_SCHEDULE), dict) else None)


def _summary(org: Organization, users: int, active: int) -> OrganizationSummary:
    return OrganizationSummary(org.id, org.name, org.slug, str(org.type), str(org.plan), bool(org.is_active),
                               int(users), int(active), org.created_at)


def _org_snapshot(org: Organization) -> dict[str, Any]:
    values = audit.snapshot(org)
    branding = dict(values.get("branding") or {})
    if LOGO in branding:
        branding[LOGO] = _describe_logo(branding[LOGO])
    values["branding"] = branding
    return values


def _slug_taken(slug: str) -> str:
    return f"an organization with slug {slug!r} already exists (slugs are permanent: choose another)"


def _name(value: Any, what: str = "name") -> str:
    text = str(value or "").strip()
    if not text:
        raise InvalidSetting(f"a {what} is required")
    if len(text) > MAX_NAME_LENGTH:
        raise InvalidSetting(f"a {what} has at most {MAX_NAME_LENGTH} characters")
    return text


def _slug(value: Any) -> str:
    try:
        return validate_slug(str(value or "").strip())
    except ValueError as exc:
        raise AuditoryxError(str(exc)) from None


def _choice(enum_cls, value: Any, what: str):
    try:
        return enum_cls(str(value or "").strip().upper())
    except ValueError:
        raise AuditoryxError(f"invalid {what} {value!r}: one of {', '.join(enum_cls)}") from None


def _currency(value: Any, error=AuditoryxError) -> str:
    try:
        return validate_currency(str(value or "").strip().upper())
    except ValueError as exc:
        raise error(str(exc)) from None


def _time_zone(value: Any, error=AuditoryxError) -> str:
    try:
        return validate_timezone(str(value or "").strip())
    except ValueError as exc:
        raise error(str(exc)) from None


def _colour(value: Any) -> str:
    text = str(value).strip()
    if not COLOUR_PATTERN.match(text):
        raise InvalidSetting(f"invalid colour {value!r}: expected #RRGGBB, e.g. #1f77b4")
    return text.lower()


def _recipients(value: Iterable[str] | str) -> list[str]:
    items = re.split(r"[,;\s]+", value) if isinstance(value, str) else list(value)
    emails: list[str] = []
    for item in items:
        email = str(item or "").strip().lower()
        if not email:
            continue
        try:
            validate_email(email)
        except ValueError as exc:
            raise InvalidSetting(f"report recipients: {exc}") from None
        if email not in emails:
            emails.append(email)
    if len(emails) > MAX_REPORT_RECIPIENTS:
        raise InvalidSetting(f"at most {MAX_REPORT_RECIPIENTS} report recipients")
    return emails


def validate_report_schedule(value: Any) -> dict[str, Any]:
    """The scheduled report as stored: ``enabled``, ``cadence`` (weekly on ``weekday`` 0 = Monday…
    6, or monthly on ``day`` 1–28), ``hour_utc`` (0–23), ``sections``, ``formats`` (at least one
    each, in report order) and ``period``; recipients are the organization's report recipients."""
    if not isinstance(value, dict):
        raise InvalidSetting("report schedule: expected a mapping of its fields")
    unknown = sorted(set(value) - {"enabled", "cadence", "weekday", "day", "hour_utc", "sections", "formats",
                                   "period"})
    if unknown:
        raise InvalidSetting(f"report schedule: unknown field {unknown[0]!r}")
    cadence = str(value.get("cadence") or "weekly").strip().lower()
    if cadence not in REPORT_CADENCES:
        raise InvalidSetting(f"report schedule: cadence {value.get('cadence')!r} is not one of {', '.join(REPORT_CADENCES)}")

    def number(key: str, default: int, low: int, high: int, meaning: str) -> int:
        raw = value.get(key, default)
        if isinstance(raw, bool) or not isinstance(raw, (int, str)) or not str(raw).strip().lstrip("-").isdigit() \
                or not low <= int(raw) <= high:
            raise InvalidSetting(f"report schedule: {key} must be {meaning} ({low}–{high}), not {raw!r}")
        return int(raw)

    def choices(key: str, allowed: tuple[str, ...], default: tuple[str, ...]) -> list[str]:
        raw = value.get(key)
        items = list(default) if raw is None else [str(x).strip().lower() for x in
                                                   (raw.split(",") if isinstance(raw, str) else raw)]
        bad = [x for x in items if x not in allowed]
        if bad:
            raise InvalidSetting(f"report schedule: unknown {key[:-1]} {bad[0]!r}: one of {', '.join(allowed)}")
        picked = [x for x in allowed if x in items]
        if not picked:
            raise InvalidSetting(f"report schedule: choose at least one of the {key}")
        return picked

    period = str(value.get("period") or "last-12-months").strip().lower()
    if period not in REPORT_PERIODS:
        raise InvalidSetting(f"report schedule: period {value.get('period')!r} is not one of {', '.join(REPORT_PERIODS)}")
    schedule: dict[str, Any] = {"enabled": bool(value.get("enabled", True)), "cadence": cadence,
                                "hour_utc": number("hour_utc", 6, 0, 23, "an hour of the day, UTC"),
                                "sections": choices("sections", REPORT_SECTIONS, REPORT_SECTIONS),
                                "formats": choices("formats", REPORT_FORMATS, ("xlsx", "html")), "period": period}
    if cadence == "weekly":
        schedule["weekday"] = number("weekday", 0, 0, 6, "a weekday, 0 = Monday")
    else:
        schedule["day"] = number("day", 1, 1, 28, "a day of the month")
    return schedule


def logo_mime_type(data: bytes) -> str:
    """``image/png`` or ``image/jpeg`` from the content's first bytes (the file name is never
    trusted), or :class:`InvalidSetting`."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidSetting("the logo must be the bytes of a PNG or JPEG image")
    data = bytes(data)
    if not data:
        raise InvalidSetting("the logo file is empty")
    if len(data) > MAX_LOGO_BYTES:
        raise InvalidSetting(f"the logo is too large ({len(data) / 1024:.0f} KiB): at most {MAX_LOGO_BYTES // 1024} KiB")
    if data.startswith(PNG_SIGNATURE) and data[12:16] == b"IHDR":
        return "image/png"
    if data.startswith(JPEG_SIGNATURE):
        return "image/jpeg"
    raise InvalidSetting("the logo must be a PNG or JPEG image")


def _logo_data_url(data: bytes) -> str:
    mime = logo_mime_type(data)
    return f"data:{mime};base64,{base64.b64encode(bytes(data)).decode('ascii')}"


def _data_url(value: Any) -> tuple[str, bytes] | None:
    match = DATA_URL_PATTERN.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    try:
        return match.group(1), base64.b64decode(match.group(2), validate=True)
    except (binascii.Error, ValueError):
        return None


def _describe_logo(value: Any) -> Any:
    """What the audit log shows of a logo: an uploaded one as its type and size, never its bytes."""
    parsed = _data_url(value)
    if parsed is not None:
        return {"type": parsed[0], "size": len(parsed[1])}
    if isinstance(value, str) and value.startswith("data:"):
        return {"type": "unknown", "size": len(value)}
    return value


@dataclass(frozen=True)
class OrganizationProfile:
    """What anyone acting in an organization may know about it (no settings, no branding)."""

    id: str
    name: str
    slug: str
    type: str
    plan: str
    is_active: bool
    base_currency: str
    time_zone: str


def own_organization(engine: Engine, actor: Actor) -> OrganizationProfile:
    """The actor's own organization: any member, key or token of it may read this."""
    with Session(engine) as session:
        org = TenantRepository(session, actor.tenant_id).organization()
        settings = _settings_of(org)
        return OrganizationProfile(org.id, org.name, org.slug, str(org.type), str(org.plan), bool(org.is_active),
                                   settings.base_currency, settings.time_zone)
