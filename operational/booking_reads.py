"""Bookings as a user may list them: the permission module's scope becomes the query's filter.

A CREATOR sees their own artist's bookings, a CLIENT the bookings where they are the client,
managers the whole tenant; always inside the actor's tenant (TenantRepository). The same filter
serves the bookings list (bookings: read) and the calendar (calendar: read, export).
"""
from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass

from sqlalchemy import Engine, and_, or_
from sqlalchemy.orm import Session

from operational.models import Artist, Booking, Project
from operational.permissions import Action, Actor, Resource, Scope, require_permission
from operational.repository import TenantRepository

DEFAULT_LIMIT = 500
READ_PERMISSIONS = frozenset({(Resource.BOOKINGS, Action.READ), (Resource.CALENDAR, Action.READ),
                              (Resource.CALENDAR, Action.EXPORT)})
"""The permissions whose scope may filter a list of bookings."""


@dataclass(frozen=True)
class BookingLine:
    id: str
    title: str
    artist_name: str
    type: str
    status: str
    start: dt.datetime
    end: dt.datetime
    timezone: str
    location: str | None
    amount: decimal.Decimal | None
    currency: str
    payment_status: str
    artist_id: str = ""
    project_id: str | None = None
    project_name: str | None = None
    is_remote: bool = False


def scope_criteria(actor: Actor, scope: Scope) -> list:
    """The rows of ``bookings`` a scope covers, as SQL criteria (the tenant is the repository's)."""
    if scope is Scope.OWN_ARTIST:
        return [Booking.artist_id.in_(sorted(actor.artist_ids) or [""])]
    if scope is Scope.OWN_CLIENT:
        return [Booking.client_id == (actor.user_id or "")]
    return []


def list_bookings(engine: Engine, actor: Actor, *, start: dt.datetime | None = None, end: dt.datetime | None = None,
                  artist_id: str | None = None, project_id: str | None = None,
                  limit: int | None = DEFAULT_LIMIT, resource: Resource = Resource.BOOKINGS,
                  action: Action = Action.READ, after: tuple[dt.datetime, str] | None = None) -> list[BookingLine]:
    """Bookings the actor may read that overlap [start, end), soonest first.

    ``resource``/``action`` name the permission whose scope filters the rows (bookings: read by
    default; the calendar asks with calendar: read or export). ``artist_id``/``project_id``
    narrow the list further (an id of another tenant simply matches nothing). ``after`` (start,
    id) continues a list after that booking (keyset pages).
    """
    resource, action = Resource(resource), Action(action)
    if (resource, action) not in READ_PERMISSIONS:
        raise ValueError(f"bookings are not listed under {resource}:{action}")
    scope = require_permission(actor, resource, action)
    if start is not None and end is not None and end <= start:
        raise ValueError("the end of a period must be after its start")
    criteria = scope_criteria(actor, scope)
    if start is not None:
        criteria.append(Booking.end_date > start)
    if end is not None:
        criteria.append(Booking.start_date < end)
    if artist_id is not None:
        criteria.append(Booking.artist_id == artist_id)
    if project_id is not None:
        criteria.append(Booking.project_id == project_id)
    if after is not None:
        after_start, after_id = after
        criteria.append(or_(Booking.start_date > after_start,
                            and_(Booking.start_date == after_start, Booking.id > after_id)))
    with Session(engine) as session:
        repo = TenantRepository(session, actor.tenant_id, actor_id=actor.user_id, actor_key_id=actor.api_key_id)
        bookings = repo.list(Booking, *criteria, order_by=(Booking.start_date, Booking.id), limit=limit)
        artists = {a.id: a for a in repo.list(Artist, Artist.id.in_({b.artist_id for b in bookings} or {""}))}
        project_ids = {b.project_id for b in bookings if b.project_id}
        projects = {p.id: p.name for p in repo.list(Project, Project.id.in_(project_ids or {""}))}
        return [BookingLine(
            id=b.id, title=b.title, artist_name=(artists[b.artist_id].stage_name or artists[b.artist_id].name),
            type=str(b.type), status=str(b.status), start=b.start_date, end=b.end_date, timezone=b.timezone,
            location=b.location, amount=b.final_price if b.final_price is not None else b.budget,
            currency=b.currency, payment_status=str(b.payment_status), artist_id=b.artist_id,
            project_id=b.project_id, project_name=projects.get(b.project_id) if b.project_id else None,
            is_remote=bool(b.is_remote)) for b in bookings]
