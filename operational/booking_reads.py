"""Bookings as a user may list them: the permission module's scope becomes the query's filter.

A CREATOR sees their own artist's bookings, a CLIENT the bookings where they are the client,
managers the whole tenant; always inside the actor's tenant (TenantRepository).
"""
from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from operational.models import Artist, Booking
from operational.permissions import Action, Actor, Resource, Scope, require_permission
from operational.repository import TenantRepository

DEFAULT_LIMIT = 500


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


def list_bookings(engine: Engine, actor: Actor, *, start: dt.datetime | None = None, end: dt.datetime | None = None,
                  limit: int = DEFAULT_LIMIT) -> list[BookingLine]:
    """Bookings the actor may read that overlap [start, end), soonest first."""
    scope = require_permission(actor, Resource.BOOKINGS, Action.READ)
    criteria = []
    if scope is Scope.OWN_ARTIST:
        criteria.append(Booking.artist_id.in_(sorted(actor.artist_ids) or [""]))
    elif scope is Scope.OWN_CLIENT:
        criteria.append(Booking.client_id == (actor.user_id or ""))
    if start is not None:
        criteria.append(Booking.end_date > start)
    if end is not None:
        criteria.append(Booking.start_date < end)
    with Session(engine) as session:
        repo = TenantRepository(session, actor.tenant_id, actor_id=actor.user_id)
        bookings = repo.list(Booking, *criteria, order_by=(Booking.start_date, Booking.id), limit=limit)
        artists = {a.id: a for a in repo.list(Artist, Artist.id.in_({b.artist_id for b in bookings} or {""}))}
        return [BookingLine(
            id=b.id, title=b.title, artist_name=(artists[b.artist_id].stage_name or artists[b.artist_id].name),
            type=str(b.type), status=str(b.status), start=b.start_date, end=b.end_date, timezone=b.timezone,
            location=b.location, amount=b.final_price if b.final_price is not None else b.budget,
            currency=b.currency, payment_status=str(b.payment_status)) for b in bookings]
