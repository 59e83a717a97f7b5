"""Booking rules, pure (no database): times and time zones, overlap, free slots, the status
transition table, field validation and plan limits. The booking service (operational/bookings.py)
applies them inside its transactions; pages, the API and bulk entry only call the service.
"""
from __future__ import annotations

import datetime as dt
import decimal
import zoneinfo
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from operational.enums import BookingStatus, BookingType, PaymentStatus, Plan, Priority
from operational.models import ISO_4217_CODES, validate_timezone
from operational.permissions import Action

UTC = dt.timezone.utc
BLOCKING_STATUSES = frozenset({BookingStatus.PENDING_APPROVAL, BookingStatus.APPROVED, BookingStatus.CONFIRMED,
                               BookingStatus.IN_PROGRESS})
"""An artist cannot hold two overlapping bookings in these statuses."""
MAX_DURATION = dt.timedelta(days=14)
MAX_TITLE, MAX_LOCATION, MAX_NOTES = 200, 200, 5000
MAX_AMOUNT = decimal.Decimal("1000000000")


class BookingError(ValueError):
    """Invalid booking input: ``errors`` maps each field to a readable message."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{name}: {message}" for name, message in self.errors.items()))


# time

def to_utc(local: dt.datetime, zone: str) -> dt.datetime:
    """A wall-clock time in an IANA zone → UTC. A time skipped by a DST change does not exist
    (refused); a repeated one (clocks going back) means its first occurrence."""
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    tz = zoneinfo.ZoneInfo(validate_timezone(zone))
    aware = local.replace(tzinfo=tz, fold=0)
    back = aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if back != local:
        raise ValueError(f"{local:%Y-%m-%d %H:%M} does not exist in {zone} (the clocks skip it)")
    return aware.astimezone(UTC)


def to_local(moment: dt.datetime, zone: str) -> dt.datetime:
    """UTC → the wall-clock time in ``zone`` (naive)."""
    return moment.astimezone(zoneinfo.ZoneInfo(zone)).replace(tzinfo=None)


@dataclass(frozen=True)
class Interval:
    start: dt.datetime  # UTC, aware
    end: dt.datetime

    @property
    def duration(self) -> dt.timedelta:
        return self.end - self.start


def overlaps(a: Interval, b: Interval) -> bool:
    """Half-open intervals [start, end): touching intervals do not overlap."""
    return a.start < b.end and b.start < a.end


def next_free_start(busy: Iterable[Interval], start: dt.datetime, duration: dt.timedelta) -> dt.datetime:
    """The earliest start at or after ``start`` where ``duration`` fits between ``busy`` intervals."""
    candidate = start
    for interval in sorted(busy, key=lambda i: (i.start, i.end)):
        if interval.end <= candidate:
            continue
        if interval.start >= candidate + duration:
            break
        candidate = max(candidate, interval.end)
    return candidate


# status changes

@dataclass(frozen=True)
class Transition:
    name: str
    sources: frozenset[BookingStatus]
    target: BookingStatus
    action: Action  # the permission it needs on bookings (approve: managers only)


TRANSITIONS: Mapping[str, Transition] = {t.name: t for t in (
    Transition("submit", frozenset({BookingStatus.DRAFT}), BookingStatus.PENDING_APPROVAL, Action.UPDATE),
    Transition("approve", frozenset({BookingStatus.PENDING_APPROVAL}), BookingStatus.APPROVED, Action.APPROVE),
    Transition("confirm", frozenset({BookingStatus.APPROVED}), BookingStatus.CONFIRMED, Action.APPROVE),
    Transition("start", frozenset({BookingStatus.CONFIRMED}), BookingStatus.IN_PROGRESS, Action.UPDATE),
    Transition("complete", frozenset({BookingStatus.CONFIRMED, BookingStatus.IN_PROGRESS}),
               BookingStatus.COMPLETED, Action.UPDATE),
    Transition("cancel", frozenset({BookingStatus.DRAFT, BookingStatus.PENDING_APPROVAL, BookingStatus.APPROVED,
                                    BookingStatus.CONFIRMED}), BookingStatus.CANCELLED, Action.UPDATE),
    Transition("dispute", frozenset({BookingStatus.IN_PROGRESS, BookingStatus.COMPLETED}),
               BookingStatus.DISPUTE, Action.UPDATE),
    Transition("resolve", frozenset({BookingStatus.DISPUTE}), BookingStatus.COMPLETED, Action.APPROVE),
)}

PAYMENT_TRANSITIONS: Mapping[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.PENDING: frozenset({PaymentStatus.PARTIAL, PaymentStatus.PAID, PaymentStatus.DISPUTED}),
    PaymentStatus.PARTIAL: frozenset({PaymentStatus.PAID, PaymentStatus.REFUNDED, PaymentStatus.DISPUTED}),
    PaymentStatus.PAID: frozenset({PaymentStatus.REFUNDED, PaymentStatus.DISPUTED}),
    PaymentStatus.DISPUTED: frozenset({PaymentStatus.PENDING, PaymentStatus.PARTIAL, PaymentStatus.PAID,
                                       PaymentStatus.REFUNDED}),
    PaymentStatus.REFUNDED: frozenset(),
}


def transition(name: str, current: BookingStatus | str) -> Transition:
    """The transition ``name`` from ``current``, or ValueError saying what is possible."""
    found = TRANSITIONS.get(name)
    if found is None:
        raise ValueError(f"unknown status change {name!r}: one of {', '.join(TRANSITIONS)}")
    current = BookingStatus(str(current))
    if current not in found.sources:
        allowed = [t.name for t in TRANSITIONS.values() if current in t.sources]
        raise ValueError(f"a {current.value.lower().replace('_', ' ')} booking cannot {name}"
                         + (f" (it can: {', '.join(allowed)})" if allowed else " (it is final)"))
    return found


def transitions_from(current: BookingStatus | str) -> list[str]:
    current = BookingStatus(str(current))
    return [t.name for t in TRANSITIONS.values() if current in t.sources]


def payment_change(current: PaymentStatus | str, target: PaymentStatus | str) -> PaymentStatus:
    current, target = PaymentStatus(str(current)), PaymentStatus(str(target))
    if target not in PAYMENT_TRANSITIONS[current]:
        raise ValueError(f"payment status cannot go from {current.value} to {target.value}")
    return target


# input

@dataclass
class BookingDraft:
    """What a person types for one booking (local times in ``timezone``)."""

    artist_id: str
    title: str
    type: str
    start_local: dt.datetime
    end_local: dt.datetime
    timezone: str
    location: str | None = None
    is_remote: bool = False
    budget: decimal.Decimal | str | None = None
    currency: str = "USD"
    priority: str = Priority.MEDIUM
    project_id: str | None = None
    notes: str | None = None
    client_id: str | None = None
    status: str = BookingStatus.PENDING_APPROVAL
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ValidBooking:
    """A checked draft: UTC interval and typed values, ready for the conflict check."""

    artist_id: str
    title: str
    type: BookingType
    start: dt.datetime
    end: dt.datetime
    timezone: str
    location: str | None
    is_remote: bool
    budget: decimal.Decimal | None
    currency: str
    priority: Priority
    project_id: str | None
    notes: str | None
    client_id: str | None
    status: BookingStatus

    @property
    def interval(self) -> Interval:
        return Interval(self.start, self.end)

    @property
    def duration_minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


CREATE_STATUSES = (BookingStatus.DRAFT, BookingStatus.PENDING_APPROVAL, BookingStatus.CONFIRMED)


def parse_amount(value: Any) -> decimal.Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        amount = decimal.Decimal(str(value).strip().replace(",", ""))
    except decimal.InvalidOperation:
        raise ValueError(f"{value!r} is not an amount") from None
    if not amount.is_finite() or amount < 0 or amount >= MAX_AMOUNT:
        raise ValueError("an amount must be between 0 and 1,000,000,000")
    if amount != amount.quantize(decimal.Decimal("0.01")):
        raise ValueError("an amount has at most 2 decimals")
    return amount


def validate_draft(draft: BookingDraft) -> ValidBooking:
    """Check every field; BookingError lists all problems at once."""
    errors: dict[str, str] = {}

    def check(name: str, fn):
        try:
            return fn()
        except (ValueError, TypeError) as exc:
            errors[name] = str(exc)
            return None

    title = (draft.title or "").strip()
    if not title:
        errors["title"] = "a title is required"
    elif len(title) > MAX_TITLE:
        errors["title"] = f"at most {MAX_TITLE} characters"
    if not draft.artist_id:
        errors["artist_id"] = "choose an artist"
    kind = check("type", lambda: BookingType(str(draft.type).strip().upper()))
    priority = check("priority", lambda: Priority(str(draft.priority or "MEDIUM").strip().upper()))
    status = check("status", lambda: BookingStatus(str(draft.status).strip().upper()))
    if status is not None and status not in CREATE_STATUSES:
        errors["status"] = "a new booking is a draft, a request (pending approval) or confirmed"
    zone = check("timezone", lambda: validate_timezone(str(draft.timezone or "").strip()))
    start = end = None
    if zone is not None:
        start = check("start", lambda: to_utc(_datetime(draft.start_local), zone))
        end = check("end", lambda: to_utc(_datetime(draft.end_local), zone))
    if start is not None and end is not None:
        if end <= start:
            errors["end"] = "the end must be after the start"
        elif end - start > MAX_DURATION:
            errors["end"] = f"a booking lasts at most {MAX_DURATION.days} days"
        elif (end - start) < dt.timedelta(minutes=1):
            errors["end"] = "a booking lasts at least a minute"
    currency = str(draft.currency or "").strip().upper()
    if currency not in ISO_4217_CODES:
        errors["currency"] = f"unknown currency {draft.currency!r}: an ISO 4217 code such as 'USD'"
    budget = check("budget", lambda: parse_amount(draft.budget))
    location = (draft.location or "").strip() or None
    if location and len(location) > MAX_LOCATION:
        errors["location"] = f"at most {MAX_LOCATION} characters"
    if not location and not draft.is_remote:
        errors["location"] = "give a location, or mark the booking as remote"
    notes = (draft.notes or "").strip() or None
    if notes and len(notes) > MAX_NOTES:
        errors["notes"] = f"at most {MAX_NOTES} characters"
    if errors:
        raise BookingError(errors)
    return ValidBooking(artist_id=draft.artist_id, title=title, type=kind, start=start, end=end, timezone=zone,
                        location=location, is_remote=bool(draft.is_remote), budget=budget, currency=currency,
                        priority=priority, project_id=draft.project_id or None, notes=notes,
                        client_id=draft.client_id or None, status=status)


def _datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return dt.datetime.fromisoformat(value.strip().replace("T", " "))
        except ValueError:
            raise ValueError(f"{value!r} is not a date and time (YYYY-MM-DD HH:MM)") from None
    raise ValueError("a date and time is required")


# plans

PLAN_ARTIST_LIMITS: Mapping[Plan, int | None] = {
    Plan.FREE: 5,
    Plan.STUDIO_PRO: 25,
    Plan.LABEL_ENTERPRISE: 100,
    Plan.WHITE_LABEL: None,  # from the organization's settings (artist_limit), else unlimited
    Plan.CUSTOM: None,
}
PLAN_ORDER: Sequence[Plan] = (Plan.FREE, Plan.STUDIO_PRO, Plan.LABEL_ENTERPRISE, Plan.WHITE_LABEL, Plan.CUSTOM)


def artist_limit(plan: Plan | str, settings: Mapping[str, Any] | None = None) -> int | None:
    """Active artists a plan allows (None: no limit)."""
    plan = Plan(str(plan))
    limit = PLAN_ARTIST_LIMITS[plan]
    if limit is None:
        configured = (settings or {}).get("artist_limit")
        if isinstance(configured, str) and configured.strip().isdigit():
            configured = int(configured.strip())
        valid = isinstance(configured, int) and not isinstance(configured, bool) and configured >= 0
        return configured if valid else None
    return limit


def check_artist_limit(plan: Plan | str, active_artists: int, adding: int = 1,
                       settings: Mapping[str, Any] | None = None) -> None:
    """ValueError naming the plan that allows more when ``adding`` artists would pass the limit."""
    plan = Plan(str(plan))
    limit = artist_limit(plan, settings)
    if limit is None or active_artists + adding <= limit:
        return
    bigger = next((p for p in PLAN_ORDER[PLAN_ORDER.index(plan) + 1:]
                   if (PLAN_ARTIST_LIMITS[p] is None or PLAN_ARTIST_LIMITS[p] >= active_artists + adding)), None)
    upgrade = ""
    if bigger is not None:
        allows = PLAN_ARTIST_LIMITS[bigger]
        upgrade = f"; the {bigger.value} plan allows " + (f"{allows}" if allows else "as many as you need")
    raise ValueError(f"the {plan.value} plan allows {limit} active artists and you have {active_artists}{upgrade}")
