"""The booking service: every write of a booking goes through here (the app now, the API later).

- Permissions come from the permission matrix; the tenant from the actor; references (artist,
  project, client) must be rows of that tenant (TenantRepository), an id of another tenant
  answers exactly like a missing one.
- Conflicts: an artist cannot hold two overlapping bookings in a blocking status, compared in
  UTC (operational/booking_rules.py). The check runs inside the write transaction, which holds
  the artist: ``SELECT … FOR UPDATE`` of the artist row on PostgreSQL, ``BEGIN IMMEDIATE`` on
  SQLite, so of many concurrent attempts at one slot exactly one wins.
- Every create and change writes an audit row (TenantRepository).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Sequence

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from auditoryx.errors import AuditoryxError
from operational import booking_rules as rules
from operational import webhooks
from operational.booking_rules import BookingDraft, BookingError, Interval, ValidBooking
from operational.enums import BookingStatus, UserRole
from operational.models import Artist, Booking, Project, User
from operational.permissions import (
    Action,
    Actor,
    PermissionDenied,
    Resource,
    Row,
    Scope,
    check_permission,
    require_permission,
)
from operational.repository import NotFoundError, TenantRepository
from operational.repository import write_transaction as tenant_write_transaction

ALTERNATIVES = 5


@dataclass(frozen=True)
class BookingView:
    id: str
    artist_id: str
    artist_name: str
    title: str
    type: str
    status: str
    start: dt.datetime
    end: dt.datetime
    timezone: str
    location: str | None
    is_remote: bool
    budget: object
    final_price: object
    currency: str
    payment_status: str
    project_id: str | None
    client_id: str | None

    @property
    def interval(self) -> Interval:
        return Interval(self.start, self.end)


class BookingConflict(AuditoryxError):
    """The artist is already booked then. Carries what the person needs to choose again."""

    def __init__(self, booking: ValidBooking, conflicts: Sequence[BookingView], next_free: dt.datetime,
                 alternatives: Sequence[object] = ()):
        self.booking = booking
        self.conflicts = list(conflicts)
        self.next_free_start = next_free
        self.alternatives = list(alternatives)
        first = self.conflicts[0]
        local = rules.to_local(first.start, booking.timezone)
        super().__init__(f"{first.artist_name} is already booked for '{first.title}' from "
                         f"{local:%Y-%m-%d %H:%M} ({booking.timezone}, {first.status.replace('_', ' ').lower()}); "
                         f"next free slot of the same length starts "
                         f"{rules.to_local(next_free, booking.timezone):%Y-%m-%d %H:%M}")


# transactions that hold the artist

def write_transaction(engine: Engine, actor: Actor):
    """One write transaction in the actor's tenant (operational.repository.write_transaction)."""
    return tenant_write_transaction(engine, actor.tenant_id, actor_id=actor.user_id, actor_key_id=actor.api_key_id)


def hold_artist(session: Session, repo: TenantRepository, artist_id: str) -> Artist:
    """The tenant's artist, locked for this transaction (PostgreSQL); NotFoundError otherwise."""
    query = select(Artist).where(Artist.org_id == repo.tenant_id, Artist.id == artist_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    artist = session.scalars(query).one_or_none()
    if artist is None:
        raise NotFoundError(f"no artist {artist_id!r} in this organization")
    return artist


def _view(booking: Booking, artist: Artist) -> BookingView:
    return BookingView(id=booking.id, artist_id=booking.artist_id, artist_name=artist.stage_name or artist.name,
                       title=booking.title, type=str(booking.type), status=str(booking.status),
                       start=booking.start_date, end=booking.end_date, timezone=booking.timezone,
                       location=booking.location, is_remote=bool(booking.is_remote), budget=booking.budget,
                       final_price=booking.final_price, currency=booking.currency,
                       payment_status=str(booking.payment_status), project_id=booking.project_id,
                       client_id=booking.client_id)


def conflicts_for(session: Session, tenant_id: str, artist: Artist, interval: Interval, *,
                  exclude_id: str | None = None) -> list[BookingView]:
    """The artist's bookings in a blocking status that overlap ``interval`` (UTC, touching is fine)."""
    query = select(Booking).where(
        Booking.org_id == tenant_id, Booking.artist_id == artist.id,
        Booking.status.in_([s.value for s in rules.BLOCKING_STATUSES]),
        Booking.start_date < interval.end, Booking.end_date > interval.start)
    if exclude_id is not None:
        query = query.where(Booking.id != exclude_id)
    return [_view(b, artist) for b in session.scalars(query.order_by(Booking.start_date))]


def busy_intervals(session: Session, tenant_id: str, artist_id: str, start: dt.datetime,
                   horizon: dt.timedelta = dt.timedelta(days=60)) -> list[Interval]:
    rows = session.execute(select(Booking.start_date, Booking.end_date).where(
        Booking.org_id == tenant_id, Booking.artist_id == artist_id,
        Booking.status.in_([s.value for s in rules.BLOCKING_STATUSES]),
        Booking.end_date > start, Booking.start_date < start + horizon))
    return [Interval(s, e) for s, e in rows]


# validation against the tenant

def check_create(actor: Actor, valid: ValidBooking, repo: TenantRepository) -> dict:
    """Permission and references for a new booking; the values to store."""
    scope = require_permission(actor, Resource.BOOKINGS, Action.CREATE)
    client_id = valid.client_id
    if scope is Scope.OWN_CLIENT:
        client_id = actor.user_id  # a client books for themselves, whatever the form said
    if valid.status is BookingStatus.CONFIRMED and not check_permission(actor, Resource.BOOKINGS, Action.APPROVE):
        raise PermissionDenied("only managers who approve bookings can enter a confirmed booking")
    if scope is Scope.OWN_CLIENT and valid.status is not BookingStatus.PENDING_APPROVAL:
        raise PermissionDenied("a client's booking is a request: it waits for approval")
    if valid.project_id is not None:
        repo.require(Project, valid.project_id)
    if client_id is not None:
        repo.require(User, client_id)
    if not check_permission(actor, Resource.BOOKINGS, Action.CREATE, row=Row(artist_id=valid.artist_id,
                                                                          client_id=client_id)):
        raise PermissionDenied("not allowed: create bookings for this artist")
    return {"client_id": client_id}


def validate_for_tenant(engine: Engine, actor: Actor, draft: BookingDraft) -> ValidBooking:
    """Fields checked (BookingError) and the artist found in the actor's tenant (BookingError)."""
    valid = rules.validate_draft(draft)
    with Session(engine) as session:
        repo = TenantRepository(session, actor.tenant_id, actor_id=actor.user_id, actor_key_id=actor.api_key_id)
        artist = repo.get(Artist, valid.artist_id)
        if artist is None or not artist.is_active:
            raise BookingError({"artist_id": "no such active artist in your organization"})
        if valid.project_id is not None and repo.get(Project, valid.project_id) is None:
            raise BookingError({"project_id": "no such project in your organization"})
    return valid


def create_booking(engine: Engine, actor: Actor, draft: BookingDraft, *,
                   alternatives=None) -> BookingView:
    """Check and write one booking; BookingError (fields), BookingConflict, PermissionDenied.

    ``alternatives(interval, exclude_artist_id) -> list`` proposes other artists on a conflict
    (operational.matching.rank_artists bound to this actor; optional)."""
    require_permission(actor, Resource.BOOKINGS, Action.CREATE)
    valid = validate_for_tenant(engine, actor, draft)
    with write_transaction(engine, actor) as (session, repo):
        artist = hold_artist(session, repo, valid.artist_id)
        extra = check_create(actor, valid, repo)
        if valid.status in rules.BLOCKING_STATUSES:
            clashes = conflicts_for(session, repo.tenant_id, artist, valid.interval)
            if clashes:
                busy = busy_intervals(session, repo.tenant_id, artist.id, valid.start)
                raise BookingConflict(valid, clashes, rules.next_free_start(busy, valid.start,
                                                                            valid.interval.duration),
                                      alternatives(valid.interval, artist.id) if alternatives else ())
        booking = repo.add(Booking, **booking_values(valid), **extra, created_by_id=actor.user_id)
        webhooks.emit_booking(session, actor, booking, "booking.created")
        return _view(booking, artist)


def booking_values(valid: ValidBooking) -> dict:
    return dict(artist_id=valid.artist_id, title=valid.title, type=valid.type, status=valid.status,
                priority=valid.priority, start_date=valid.start, end_date=valid.end,
                duration_minutes=max(1, valid.duration_minutes), timezone=valid.timezone,
                location=valid.location, is_remote=valid.is_remote, budget=valid.budget,
                currency=valid.currency, project_id=valid.project_id, notes=valid.notes)


# changes

def _readable(actor: Actor, booking: Booking) -> None:
    if not check_permission(actor, Resource.BOOKINGS, Action.READ,
                            row=Row(artist_id=booking.artist_id, client_id=booking.client_id)):
        raise NotFoundError(f"no booking {booking.id!r} in this organization")


def get_booking(engine: Engine, actor: Actor, booking_id: str) -> BookingView:
    require_permission(actor, Resource.BOOKINGS, Action.READ)
    with Session(engine) as session:
        repo = TenantRepository(session, actor.tenant_id, actor_id=actor.user_id, actor_key_id=actor.api_key_id)
        booking = repo.require(Booking, booking_id)
        _readable(actor, booking)
        return _view(booking, repo.require(Artist, booking.artist_id))


def change_status(engine: Engine, actor: Actor, booking_id: str, change: str) -> BookingView:
    """Apply a named status change (booking_rules.TRANSITIONS) if the matrix allows it; entering
    a blocking status re-checks conflicts inside the transaction."""
    with write_transaction(engine, actor) as (session, repo):
        current = repo.require(Booking, booking_id)
        _readable(actor, current)
        artist = hold_artist(session, repo, current.artist_id)
        booking = repo.require(Booking, booking_id)  # read again under the artist's lock
        step = rules.transition(change, booking.status)
        row = Row(artist_id=booking.artist_id, client_id=booking.client_id)
        if not check_permission(actor, Resource.BOOKINGS, step.action, row=row):
            raise PermissionDenied(f"not allowed: {change} this booking")
        if step.target in rules.BLOCKING_STATUSES and BookingStatus(str(booking.status)) not in rules.BLOCKING_STATUSES:
            interval = Interval(booking.start_date, booking.end_date)
            clashes = conflicts_for(session, repo.tenant_id, artist, interval, exclude_id=booking.id)
            if clashes:
                valid = rules.ValidBooking(
                    artist_id=booking.artist_id, title=booking.title, type=booking.type, start=booking.start_date,
                    end=booking.end_date, timezone=booking.timezone, location=booking.location,
                    is_remote=booking.is_remote, budget=booking.budget, currency=booking.currency,
                    priority=booking.priority, project_id=booking.project_id, notes=booking.notes,
                    client_id=booking.client_id, status=step.target)
                busy = busy_intervals(session, repo.tenant_id, artist.id, booking.start_date)
                raise BookingConflict(valid, clashes, rules.next_free_start(busy, booking.start_date,
                                                                            interval.duration))
        updated = repo.update(Booking, booking_id, status=step.target)
        webhooks.emit_booking(session, actor, updated, webhooks.status_event(step.target))
        return _view(updated, artist)


def set_payment_status(engine: Engine, actor: Actor, booking_id: str, status: str) -> BookingView:
    """Accountants (and admins) move a booking's payment status along PAYMENT_TRANSITIONS."""
    require_permission(actor, Resource.PAYMENT_STATUS, Action.UPDATE)
    with write_transaction(engine, actor) as (session, repo):
        booking = repo.require(Booking, booking_id)
        target = rules.payment_change(booking.payment_status, status)
        updated = repo.update(Booking, booking_id, payment_status=target)
        webhooks.emit_booking(session, actor, updated, "booking.updated")
        return _view(updated, repo.require(Artist, updated.artist_id))


def default_timezone(engine: Engine, actor: Actor) -> str:
    """The tenant's time zone (organization settings), for forms; UTC when unset."""
    with Session(engine) as session:
        settings = TenantRepository(session, actor.tenant_id).organization().settings or {}
    zone = settings.get("timezone")
    try:
        return rules.validate_timezone(zone) if zone else "UTC"
    except ValueError:
        return "UTC"


def bookable_artists(engine: Engine, actor: Actor) -> list[tuple[str, str]]:
    """(id, display name) of the active artists this actor may book, by name."""
    scope = require_permission(actor, Resource.BOOKINGS, Action.CREATE)
    with Session(engine) as session:
        repo = TenantRepository(session, actor.tenant_id)
        criteria = [Artist.is_active]
        if scope is Scope.OWN_ARTIST:
            criteria.append(Artist.id.in_(sorted(actor.artist_ids) or [""]))
        artists = repo.list(Artist, *criteria, order_by=(Artist.name, Artist.id))
        return [(a.id, a.stage_name or a.name) for a in artists]


def bookable_projects(engine: Engine, actor: Actor) -> list[tuple[str, str, str]]:
    """(id, name, currency) of the tenant's projects, for the optional project field."""
    require_permission(actor, Resource.BOOKINGS, Action.CREATE)
    if not check_permission(actor, Resource.PROJECTS, Action.READ):
        return []
    with Session(engine) as session:
        projects = TenantRepository(session, actor.tenant_id).list(Project, order_by=(Project.name, Project.id))
        return [(p.id, p.name, p.currency) for p in projects]


def is_client(actor: Actor) -> bool:
    return actor.role is UserRole.CLIENT
