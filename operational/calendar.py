"""The booking calendar: what an actor may see of the tenant's bookings over a week or a month.

Reads go through :mod:`operational.booking_reads`, so the calendar permission's scope (tenant,
own artist, as client) becomes the query's filter, inside the actor's tenant. The date arithmetic
(which UTC instants a week or month of the tenant's time zone covers) is pure.
"""
from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from operational.booking_reads import BookingLine, list_bookings, scope_criteria
from operational.booking_rules import BLOCKING_STATUSES, next_free_start, to_local
from operational.bookings import busy_intervals
from operational.enums import BookingStatus
from operational.models import Artist, Booking, Project, validate_timezone
from operational.permissions import (
    Action,
    Actor,
    Resource,
    Row,
    Scope,
    check_permission,
    require_permission,
    scope_for,
)
from operational.repository import TenantRepository

UTC = dt.timezone.utc
CALENDAR_LIMIT = 2000
"""At most this many bookings in one calendar view (a month of a large tenant)."""
DEFAULT_SLOT = dt.timedelta(hours=1)
SLOT_STEP = dt.timedelta(minutes=15)
SLOT_HORIZON = dt.timedelta(days=366)
"""How far ahead a free slot is looked for (the booking service re-checks conflicts anyway)."""
View = Literal["week", "month"]


@dataclass(frozen=True)
class CalendarEntry:
    """One booking on the calendar (no money: the calendar is about time)."""

    id: str
    title: str
    artist_id: str
    artist_name: str
    project_id: str | None
    project_name: str | None
    type: str
    status: str
    start: dt.datetime   # UTC
    end: dt.datetime     # UTC
    timezone: str        # the booking's IANA zone
    location: str | None
    is_remote: bool

    @classmethod
    def of(cls, line: BookingLine) -> CalendarEntry:
        return cls(id=line.id, title=line.title, artist_id=line.artist_id, artist_name=line.artist_name,
                   project_id=line.project_id, project_name=line.project_name, type=line.type,
                   status=line.status, start=line.start, end=line.end, timezone=line.timezone,
                   location=line.location, is_remote=line.is_remote)

    @property
    def blocking(self) -> bool:
        """Does it hold the artist's time (no other blocking booking may overlap it)?"""
        return BookingStatus(self.status) in BLOCKING_STATUSES

    def local_start(self, zone: str | None = None) -> dt.datetime:
        """Wall-clock start in ``zone`` (default: the booking's own zone), naive."""
        return to_local(self.start, zone or self.timezone)

    def local_end(self, zone: str | None = None) -> dt.datetime:
        return to_local(self.end, zone or self.timezone)


def calendar_entries(engine: Engine, actor: Actor, start_utc: dt.datetime, end_utc: dt.datetime, *,
                     artist_id: str | None = None, project_id: str | None = None) -> list[CalendarEntry]:
    """Bookings the actor may see on the calendar that overlap [start_utc, end_utc), soonest first."""
    require_permission(actor, Resource.CALENDAR, Action.READ)
    _check_range(start_utc, end_utc)
    lines = list_bookings(engine, actor, start=start_utc, end=end_utc, artist_id=artist_id, project_id=project_id,
                          limit=CALENDAR_LIMIT, resource=Resource.CALENDAR, action=Action.READ)
    return [CalendarEntry.of(line) for line in lines]


def _check_range(start: dt.datetime | None, end: dt.datetime | None) -> None:
    for moment in (start, end):
        if moment is not None and (not isinstance(moment, dt.datetime) or moment.utcoffset() is None):
            raise ValueError("calendar bounds are aware datetimes (UTC)")
    if start is not None and end is not None and end <= start:
        raise ValueError("the end of a calendar range must be after its start")


# weeks and months in a time zone (pure)

@dataclass(frozen=True)
class CalendarRange:
    view: View
    first_day: dt.date      # local, included
    end_day: dt.date        # local, excluded
    start_utc: dt.datetime  # local midnight of first_day
    end_utc: dt.datetime    # local midnight of end_day
    time_zone: str

    @property
    def label(self) -> str:
        if self.view == "month":
            return f"{self.first_day:%B %Y}"
        last = self.end_day - dt.timedelta(days=1)
        return f"Week of {self.first_day:%a %d %b %Y} – {last:%a %d %b %Y}"


def calendar_range(view: View | str, day: dt.date, time_zone: str) -> CalendarRange:
    """The week (Monday to Sunday) or month holding ``day``, as UTC bounds of ``time_zone``'s days."""
    view = str(view).lower()
    if view == "week":
        first = day - dt.timedelta(days=day.weekday())
        end = first + dt.timedelta(days=7)
    elif view == "month":
        first = day.replace(day=1)
        end = _add_months(first, 1)
    else:
        raise ValueError(f"unknown calendar view {view!r}: 'week' or 'month'")
    zone = zoneinfo.ZoneInfo(validate_timezone(time_zone))
    return CalendarRange(view=view, first_day=first, end_day=end, start_utc=_midnight(first, zone),
                         end_utc=_midnight(end, zone), time_zone=time_zone)


def shift_day(view: View | str, day: dt.date, steps: int) -> dt.date:
    """``day`` moved by ``steps`` weeks or months (a month step lands on the 1st)."""
    if str(view).lower() == "week":
        return day + dt.timedelta(weeks=steps)
    return _add_months(day.replace(day=1), steps)


def _add_months(first: dt.date, months: int) -> dt.date:
    index = first.year * 12 + first.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _midnight(day: dt.date, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    # a zone that skips midnight (DST at 00:00) starts the day at the first instant that exists
    return dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(UTC)


# the tenant's time zone, the filters' choices, a free slot

def tenant_time_zone(engine: Engine, actor: Actor) -> str:
    """The organization's IANA time zone (``settings["timezone"]``, default UTC)."""
    if check_permission(actor, Resource.SETTINGS, Action.READ):
        from operational.organizations import get_organization_settings

        zone = get_organization_settings(engine, actor).time_zone
    else:
        with Session(engine) as session:
            settings = TenantRepository(session, actor.tenant_id, actor_id=actor.user_id, actor_key_id=actor.api_key_id).organization().settings
            zone = (settings or {}).get("timezone") or "UTC"
    try:
        return validate_timezone(str(zone))
    except ValueError:
        return "UTC"


@dataclass(frozen=True)
class CalendarFilters:
    """What the calendar's filters offer: (id, label) pairs, by label."""

    artists: tuple[tuple[str, str], ...]
    projects: tuple[tuple[str, str], ...]


def calendar_filters(engine: Engine, actor: Actor) -> CalendarFilters:
    """The artists and projects the actor may see: the roster / projects when they may read them
    (tenant-wide, or their own artists), otherwise those of the bookings on their calendar."""
    calendar_scope = require_permission(actor, Resource.CALENDAR, Action.READ)
    roster_scope = scope_for(actor, Resource.ROSTER, Action.READ)
    projects_scope = scope_for(actor, Resource.PROJECTS, Action.READ)
    with Session(engine) as session:
        repo = TenantRepository(session, actor.tenant_id, actor_id=actor.user_id, actor_key_id=actor.api_key_id)
        visible: list[Booking] | None = None
        if roster_scope is not Scope.TENANT or projects_scope is not Scope.TENANT:
            visible = repo.list(Booking, *scope_criteria(actor, calendar_scope), limit=None)
        if roster_scope is Scope.TENANT:
            artists = repo.list(Artist)
        elif roster_scope is Scope.OWN_ARTIST:
            artists = repo.list(Artist, Artist.id.in_(sorted(actor.artist_ids) or [""]))
        else:
            artists = repo.list(Artist, Artist.id.in_({b.artist_id for b in visible or ()} or {""}))
        if projects_scope is Scope.TENANT:
            projects = repo.list(Project)
        else:
            ids = {b.project_id for b in visible or () if b.project_id}
            projects = repo.list(Project, Project.id.in_(ids or {""}))
        return CalendarFilters(
            artists=tuple(sorted(((a.id, a.stage_name or a.name) for a in artists), key=lambda o: (o[1].lower(), o[0]))),
            projects=tuple(sorted(((p.id, p.name) for p in projects), key=lambda o: (o[1].lower(), o[0]))))


def next_free_slot(engine: Engine, actor: Actor, artist_id: str, *, after: dt.datetime,
                   duration: dt.timedelta = DEFAULT_SLOT) -> dt.datetime:
    """The earliest start (UTC, on a quarter hour) at or after ``after`` where ``artist_id`` has no
    blocking booking for ``duration``. For someone who may create bookings; it tells a time only,
    never whose booking is in the way. The booking service re-checks conflicts when booking."""
    require_permission(actor, Resource.BOOKINGS, Action.CREATE,
                       row=Row(artist_id=artist_id, client_id=actor.user_id))
    _check_range(after, None)
    if duration <= dt.timedelta(0):
        raise ValueError("a slot lasts more than zero minutes")
    start = _ceil(after.astimezone(UTC), SLOT_STEP)
    with Session(engine) as session:
        repo = TenantRepository(session, actor.tenant_id, actor_id=actor.user_id, actor_key_id=actor.api_key_id)
        repo.require(Artist, artist_id)
        busy = busy_intervals(session, actor.tenant_id, artist_id, start, horizon=SLOT_HORIZON)
    return next_free_start(busy, start, duration)


def _ceil(moment: dt.datetime, step: dt.timedelta) -> dt.datetime:
    epoch = dt.datetime(1970, 1, 1, tzinfo=UTC)
    steps = -((epoch - moment) // step)
    return epoch + steps * step
