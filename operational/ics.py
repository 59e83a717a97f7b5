"""An artist's bookings as an iCalendar file (RFC 5545), for calendar applications.

Times are written in UTC (``DTSTART:…Z``); each event names its booking's IANA zone in
``X-AUDITORYX-TZ`` and says the local time in its description. Only bookings the actor may
export are in it (the calendar permission's scope), only for an artist of the actor's tenant.
"""
from __future__ import annotations

import datetime as dt
from typing import Mapping

import icalendar
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from operational.booking_reads import BookingLine, list_bookings
from operational.booking_rules import to_local
from operational.enums import BookingStatus
from operational.models import Artist
from operational.permissions import Action, Actor, PermissionDenied, Resource, Scope, require_permission
from operational.repository import TenantRepository

UTC = dt.timezone.utc
PRODID = "-//AuditoryX Analytics//Booking calendar//EN"
UID_DOMAIN = "auditoryx"
TZ_PROPERTY = "X-AUDITORYX-TZ"
ICS_STATUS: Mapping[BookingStatus, str] = {
    BookingStatus.CONFIRMED: "CONFIRMED",
    BookingStatus.IN_PROGRESS: "CONFIRMED",
    BookingStatus.COMPLETED: "CONFIRMED",
    BookingStatus.DISPUTE: "CONFIRMED",  # it took place; the dispute is about money
    BookingStatus.PENDING_APPROVAL: "TENTATIVE",
    BookingStatus.APPROVED: "TENTATIVE",
    BookingStatus.DRAFT: "TENTATIVE",
    BookingStatus.CANCELLED: "CANCELLED",
}
MEDIA_TYPE = "text/calendar"


def artist_calendar_ics(engine: Engine, actor: Actor, artist_id: str, *, start_utc: dt.datetime | None = None,
                        end_utc: dt.datetime | None = None) -> bytes:
    """The bookings of ``artist_id`` the actor may export that overlap [start_utc, end_utc), as
    an .ics file. An artist of another tenant is :class:`NotFoundError`, like a missing one; a
    creator asking for an artist that is not theirs is :class:`PermissionDenied`."""
    scope = require_permission(actor, Resource.CALENDAR, Action.EXPORT)
    for moment in (start_utc, end_utc):
        if moment is not None and moment.utcoffset() is None:
            raise ValueError("calendar bounds are aware datetimes (UTC)")
    with Session(engine) as session:
        artist = TenantRepository(session, actor.tenant_id, actor_id=actor.user_id, actor_key_id=actor.api_key_id).require(Artist, artist_id)
        artist_name = artist.stage_name or artist.name
    if scope is Scope.OWN_ARTIST and artist_id not in actor.artist_ids:
        raise PermissionDenied(f"not allowed: {Action.EXPORT} {Resource.CALENDAR}")
    lines = list_bookings(engine, actor, start=start_utc, end=end_utc, artist_id=artist_id, limit=None,
                          resource=Resource.CALENDAR, action=Action.EXPORT)
    return calendar_ics(lines, name=f"{artist_name} · bookings")


def calendar_ics(lines: list[BookingLine], *, name: str, stamp: dt.datetime | None = None) -> bytes:
    """Bookings → iCalendar bytes (pure)."""
    stamp = (stamp or dt.datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    for line in lines:
        calendar.add_component(_event(line, stamp))
    return calendar.to_ical()


def _event(line: BookingLine, stamp: dt.datetime) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", f"{line.id}@{UID_DOMAIN}")
    event.add("dtstamp", stamp)
    event.add("dtstart", line.start.astimezone(UTC))
    event.add("dtend", line.end.astimezone(UTC))
    event.add("summary", line.title)
    location = line.location or ("Remote" if line.is_remote else None)
    if location:
        event.add("location", location)
    event.add("status", ICS_STATUS.get(BookingStatus(line.status), "TENTATIVE"))
    event.add(TZ_PROPERTY, line.timezone)
    event.add("description", _description(line))
    return event


def _description(line: BookingLine) -> str:
    start, end = to_local(line.start, line.timezone), to_local(line.end, line.timezone)
    until = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%Y-%m-%d %H:%M}"
    parts = [f"Local time: {start:%Y-%m-%d %H:%M} – {until} ({line.timezone})",
             f"Artist: {line.artist_name}",
             f"Type: {line.type.replace('_', ' ').capitalize()}",
             f"Status: {line.status.replace('_', ' ').capitalize()}"]
    if line.project_name:
        parts.append(f"Project: {line.project_name}")
    return "\n".join(parts)
