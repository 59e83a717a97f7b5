"""The roster: a tenant's artists, within the plan's limit of active artists.

Every function takes the acting :class:`~operational.permissions.Actor`, asks the permission
module first (resource ``roster``), acts only inside ``actor.tenant_id`` and writes through
:class:`~operational.repository.TenantRepository`, so every change leaves an audit entry.

- adding an artist needs ``roster:create``; activating one takes a plan slot too, so it needs
  ``roster:create`` as well; deactivating needs ``roster:delete`` (the row stays: bookings and
  the audit log refer to it). A CREATOR, who may only update their own artist, can do none of these.
- plan limits (operational/booking_rules.py): FREE 5 active artists, STUDIO_PRO 25,
  LABEL_ENTERPRISE 100, WHITE_LABEL and CUSTOM ``organizations.settings["artist_limit"]``, else
  unlimited. The count and the write happen in one transaction that holds the organization
  (``SELECT … FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so two managers adding
  the last free slot at once cannot both succeed. A refusal is :class:`PlanLimitReached`, whose
  message names the plan that allows more.
- an artist of another tenant is "not found", with the same message as an id that does not exist.
- setting the verification status of several artists at once (:func:`set_verification`) needs
  ``roster:update`` over the whole tenant (a CREATOR's own-artist right does not let them verify
  themselves); it is all-or-nothing, writes one audit entry per artist changed and leaves artists
  already at that status untouched.
"""
from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from auditoryx.errors import AuditoryxError
from operational import booking_rules as rules
from operational.booking_reads import BookingLine, scope_criteria
from operational.enums import VerificationStatus
from operational.models import Artist, Booking, Organization, User, validate_email
from operational.permissions import Action, Actor, PermissionDenied, Resource, Row, Scope, require_permission, scope_for
from operational.repository import NotFoundError, TenantRepository, write_transaction

__all__ = [
    "ArtistSummary", "InvalidArtist", "MAX_BULK_VERIFICATION", "MAX_NAME_LENGTH", "MAX_TAG_LENGTH", "MAX_TAGS",
    "NotFoundError", "PlanLimitReached", "RosterUsage", "VerificationResult", "activate_artist", "add_artist",
    "artist_bookings", "deactivate_artist", "get_artist", "list_artists", "may_set_verification", "roster_usage",
    "set_verification",
]

MAX_NAME_LENGTH = 200
MAX_TAGS = 30         # genres or skills of one artist
MAX_TAG_LENGTH = 40
MAX_BULK_VERIFICATION = 500   # artists in one verification update
ARTIST_BOOKINGS_LIMIT = 200   # an artist's latest bookings on their page


class PlanLimitReached(AuditoryxError):
    """The organization's plan allows no more active artists (the message names a plan that does)."""


class InvalidArtist(AuditoryxError):
    """Artist input that is refused (the message names the field and says why)."""


@dataclass(frozen=True)
class ArtistSummary:
    id: str
    name: str
    stage_name: str | None
    email: str | None
    genres: tuple[str, ...]
    skills: tuple[str, ...]
    rating: decimal.Decimal | None
    total_bookings: int
    is_active: bool
    user_id: str | None
    created_at: dt.datetime | None
    verification_status: str = VerificationStatus.PENDING.value

    @property
    def display_name(self) -> str:
        return self.stage_name or self.name

    @classmethod
    def of(cls, artist: Artist) -> ArtistSummary:
        return cls(*_summary_values(artist))


_SUMMARY_COLUMNS = (Artist.id, Artist.name, Artist.stage_name, Artist.email, Artist.genres, Artist.skills,
                    Artist.rating, Artist.total_bookings, Artist.is_active, Artist.user_id, Artist.created_at,
                    Artist.verification_status)


def _summary_values(artist: Any) -> tuple:
    """ArtistSummary's fields, in order, from an Artist or a row of _SUMMARY_COLUMNS."""
    return (artist.id, artist.name, artist.stage_name, artist.email, tuple(artist.genres or ()),
            tuple(artist.skills or ()), artist.rating, int(artist.total_bookings or 0), bool(artist.is_active),
            artist.user_id, artist.created_at,
            VerificationStatus(str(artist.verification_status or VerificationStatus.PENDING)).value)


@dataclass(frozen=True)
class VerificationResult:
    status: str
    changed: tuple[str, ...]     # artist ids whose status was set (one audit entry each)
    unchanged: tuple[str, ...]   # artist ids already at that status (nothing written)


@dataclass(frozen=True)
class RosterUsage:
    plan: str
    active_artists: int
    limit: int | None          # None: no limit

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.active_artists)


# reading

def list_artists(engine: Engine, actor: Actor, include_inactive: bool = False) -> list[ArtistSummary]:
    """The tenant's artists (a CREATOR: their own), active ones only unless asked, by display name."""
    scope = require_permission(actor, Resource.ROSTER, Action.READ)
    criteria = [] if include_inactive else [Artist.is_active.is_(True)]
    if scope is Scope.OWN_ARTIST:
        criteria.append(Artist.id.in_(sorted(actor.artist_ids) or [""]))
    with Session(engine) as session:
        repo = _repo(session, actor)  # scopes the transaction to the tenant (row-level security)
        # the summary's columns only (no ORM objects, bio or social links): half the time at 2,000 artists
        rows = session.execute(select(*_SUMMARY_COLUMNS).where(Artist.org_id == repo.tenant_id, *criteria)).all()
        summaries = [ArtistSummary(*_summary_values(row)) for row in rows]
    return sorted(summaries, key=lambda a: (a.display_name.casefold(), a.display_name, a.id))


def get_artist(engine: Engine, actor: Actor, artist_id: str) -> ArtistSummary:
    """One artist the actor may read (a CREATOR: only their own); an unknown id, another tenant's
    and, for a CREATOR, another artist are all the same :class:`NotFoundError`."""
    scope = require_permission(actor, Resource.ROSTER, Action.READ)
    if scope is Scope.OWN_ARTIST and artist_id not in actor.artist_ids:
        raise _not_found(artist_id)
    with Session(engine) as session:
        return ArtistSummary.of(_target(_repo(session, actor), artist_id))


def artist_bookings(engine: Engine, actor: Actor, artist_id: str,
                    limit: int = ARTIST_BOOKINGS_LIMIT) -> list[BookingLine]:
    """The artist's bookings the actor may read (``bookings: read`` and its scope), latest first,
    at most ``limit``; the artist must be one the actor may read (else :class:`NotFoundError`)."""
    artist = get_artist(engine, actor, artist_id)
    scope = require_permission(actor, Resource.BOOKINGS, Action.READ)
    with Session(engine) as session:
        repo = _repo(session, actor)
        bookings = repo.list(Booking, Booking.artist_id == artist.id, *scope_criteria(actor, scope),
                             order_by=(Booking.start_date.desc(), Booking.id.desc()), limit=int(limit))
        return [BookingLine(
            id=b.id, title=b.title, artist_name=artist.display_name, type=str(b.type), status=str(b.status),
            start=b.start_date, end=b.end_date, timezone=b.timezone, location=b.location,
            amount=b.final_price if b.final_price is not None else b.budget, currency=b.currency,
            payment_status=str(b.payment_status), artist_id=b.artist_id, project_id=b.project_id,
            is_remote=bool(b.is_remote)) for b in bookings]


def roster_usage(engine: Engine, actor: Actor) -> RosterUsage:
    """Active artists against the plan's limit (for the roster page's "3 of 5")."""
    require_permission(actor, Resource.ROSTER, Action.READ)
    with Session(engine) as session:
        repo = _repo(session, actor)
        org = repo.organization()
        return RosterUsage(str(org.plan), _active_count(session, repo.tenant_id),
                           rules.artist_limit(org.plan, org.settings or {}))


# writing

def add_artist(engine: Engine, actor: Actor, *, name: str, stage_name: str | None = None,
               email: str | None = None, genres: Iterable[str] | str = (), skills: Iterable[str] | str = (),
               user_id: str | None = None) -> ArtistSummary:
    """Add an active artist to the tenant's roster, if the plan allows one more."""
    require_permission(actor, Resource.ROSTER, Action.CREATE)
    values: dict[str, Any] = {
        "name": _name(name, "name"),
        "stage_name": _name(stage_name, "stage name") if stage_name is not None and str(stage_name).strip() else None,
        "email": _email(email),
        "genres": _tags(genres, "genres"),
        "skills": _tags(skills, "skills"),
        "is_active": True,
    }
    if user_id is not None and str(user_id).strip():
        values["user_id"] = str(user_id).strip()
    with _writing(engine, actor) as (session, repo):
        if "user_id" in values and repo.get(User, values["user_id"]) is None:
            raise NotFoundError(f"no user {values['user_id']!r} in this organization")
        _check_limit(session, repo, f"cannot add {values['stage_name'] or values['name']}")
        return ArtistSummary.of(repo.add(Artist, **values))


def activate_artist(engine: Engine, actor: Actor, artist_id: str) -> ArtistSummary:
    """Put a deactivated artist back on the roster, if the plan allows one more."""
    require_permission(actor, Resource.ROSTER, Action.CREATE)
    with _writing(engine, actor) as (session, repo):
        artist = _target(repo, artist_id)
        if artist.is_active:
            raise AuditoryxError(f"{artist.stage_name or artist.name} is already active")
        _check_limit(session, repo, f"cannot activate {artist.stage_name or artist.name}")
        return ArtistSummary.of(repo.update(Artist, artist.id, is_active=True))


def deactivate_artist(engine: Engine, actor: Actor, artist_id: str) -> ArtistSummary:
    """Take an artist off the active roster (frees a plan slot; bookings and history stay)."""
    require_permission(actor, Resource.ROSTER, Action.DELETE)
    with _writing(engine, actor) as (_session, repo):
        artist = _target(repo, artist_id)
        if not artist.is_active:
            raise AuditoryxError(f"{artist.stage_name or artist.name} is already inactive")
        return ArtistSummary.of(repo.update(Artist, artist.id, is_active=False))


def may_set_verification(actor: Actor) -> bool:
    """May the actor set artists' verification status? ``roster: update`` over the whole tenant."""
    return scope_for(actor, Resource.ROSTER, Action.UPDATE) is Scope.TENANT


def set_verification(engine: Engine, actor: Actor, artist_ids: Iterable[str],
                     status: str | VerificationStatus) -> VerificationResult:
    """Set the verification status of several artists of the tenant at once.

    All or nothing: an id that is not one of the tenant's artists (unknown or another tenant's)
    refuses the whole update with :class:`NotFoundError` and nothing is written. Artists already
    at ``status`` are left as they are; every other one gets one audit entry (before/after)."""
    if not may_set_verification(actor):
        raise PermissionDenied(f"not allowed: {Action.UPDATE} {Resource.ROSTER} (verification)")
    try:
        target = VerificationStatus(str(status).strip().upper())
    except ValueError:
        raise InvalidArtist(f"verification status: {status!r} is not one of "
                            f"{', '.join(s.value for s in VerificationStatus)}") from None
    if isinstance(artist_ids, str):
        raise InvalidArtist("artists: expected a list of artist ids")
    ids = list(dict.fromkeys(str(i) for i in artist_ids))
    if not ids:
        raise InvalidArtist("artists: choose at least one")
    if len(ids) > MAX_BULK_VERIFICATION:
        raise InvalidArtist(f"artists: at most {MAX_BULK_VERIFICATION} at once, got {len(ids)}")
    changed: list[str] = []
    unchanged: list[str] = []
    with _writing(engine, actor) as (session, repo):
        query = select(Artist).where(Artist.org_id == repo.tenant_id, Artist.id.in_(ids))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()  # two managers verifying the same artists: one waits
        found = {artist.id: artist for artist in session.scalars(query)}
        missing = [i for i in ids if i not in found]
        if missing:
            raise _not_found(missing[0])
        for artist_id in ids:
            if VerificationStatus(str(found[artist_id].verification_status)) is target:
                unchanged.append(artist_id)
                continue
            require_permission(actor, Resource.ROSTER, Action.UPDATE, row=Row(artist_id=artist_id))
            repo.update(Artist, artist_id, verification_status=target)
            changed.append(artist_id)
    return VerificationResult(target.value, tuple(changed), tuple(unchanged))


# helpers

def _repo(session: Session, actor: Actor) -> TenantRepository:
    return TenantRepository(session, actor.tenant_id, actor_id=actor.user_id, actor_key_id=actor.api_key_id)


def _writing(engine: Engine, actor: Actor):
    """One write transaction in the actor's tenant; SQLite takes the write lock up front, so the
    active-artist count cannot change before the commit."""
    return write_transaction(engine, actor.tenant_id, actor_id=actor.user_id, actor_key_id=actor.api_key_id)


def _check_limit(session: Session, repo: TenantRepository, doing: str) -> None:
    """PlanLimitReached when one more active artist would pass the plan's limit."""
    query = select(Organization).where(Organization.id == repo.tenant_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()  # concurrent adds and activations of this tenant wait here
    org = session.scalar(query)
    if org is None:
        raise NotFoundError("this tenant does not exist")
    try:
        rules.check_artist_limit(org.plan, _active_count(session, repo.tenant_id), settings=org.settings or {})
    except ValueError as exc:
        raise PlanLimitReached(f"{doing}: {exc}") from None


def _active_count(session: Session, tenant_id: str) -> int:
    return int(session.scalar(select(func.count(Artist.id)).where(Artist.org_id == tenant_id,
                                                                   Artist.is_active.is_(True))) or 0)


def _target(repo: TenantRepository, artist_id: str) -> Artist:
    artist = repo.get(Artist, artist_id) if isinstance(artist_id, str) and artist_id else None
    if artist is None:  # missing, or another tenant's: the same answer
        raise _not_found(artist_id)
    return artist


def _not_found(artist_id: object) -> NotFoundError:
    return NotFoundError(f"no artist {artist_id!r} in this organization")


def _name(value: Any, what: str) -> str:
    text = " ".join(str(value or "").split())
    if not text:
        raise InvalidArtist(f"{what}: required")
    if len(text) > MAX_NAME_LENGTH:
        raise InvalidArtist(f"{what}: at most {MAX_NAME_LENGTH} characters")
    return text


def _email(value: Any) -> str | None:
    text = str(value or "").strip().lower()
    if not text:
        return None
    try:
        return validate_email(text)
    except ValueError as exc:
        raise InvalidArtist(f"email: {exc}") from None


def _tags(values: Iterable[str] | str | None, what: str) -> list[str]:
    """Short strings, stripped, without blanks or case-insensitive repeats; a string is split on commas."""
    if values is None:
        return []
    if isinstance(values, str):
        values = values.split(",")
    tags: list[str] = []
    seen: set[str] = set()
    for value in values:
        if not isinstance(value, str):
            raise InvalidArtist(f"{what}: {value!r} is not text")
        text = " ".join(value.split())
        if not text or text.casefold() in seen:
            continue
        if len(text) > MAX_TAG_LENGTH:
            raise InvalidArtist(f"{what}: {text[:20]!r}… is longer than {MAX_TAG_LENGTH} characters")
        seen.add(text.casefold())
        tags.append(text)
    if len(tags) > MAX_TAGS:
        raise InvalidArtist(f"{what}: at most {MAX_TAGS}, got {len(tags)}")
    return tags
