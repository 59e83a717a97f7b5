"""Smart artist matching: which of the tenant's artists fit a booking slot, best first, and why.

Two layers, as elsewhere in ``operational/``:

- :func:`score_artist` is pure (no database): one :class:`ArtistProfile` against one
  :class:`MatchRequest` gives an :class:`ArtistMatch` with a 0–100 score and short reasons.
  :func:`rank_matches` orders matches.
- :func:`rank_artists` reads the actor's tenant (three queries, whatever the roster size: the
  artists, their blocking bookings that overlap the slot, their historical hourly prices) and
  returns the best matches.

Ranking (``rank_matches``): available artists first, then the share of requested skills the
artist has, then the share of requested genres, then rating (unrated last), then price fit;
ties by name. The order is lexicographic, so an artist with more of the requested skills ranks
higher even with a lower score. The score summarises the same criteria with weights — skills 45,
genres 25, rating 20, price fit 10 — over the criteria that apply (no skills requested: skills do
not count; no budget: price does not count), so it is comparable between artists of one request.

Price: the **median hourly price** (``final_price`` × 60 / ``duration_minutes``) of the artist's
COMPLETED bookings in the request's currency (bookings in other currencies are ignored, never
converted), times the slot's length, is the artist's *typical price* for the slot. Within the
budget: full price fit; above it, the fit falls linearly to 0 at twice the budget; no history in
that currency: half.

Matching of skills and genres is case-insensitive (and ignores surrounding spaces).

Disclosure follows the permission matrix: ``rank_artists`` needs ``roster:read``; a CREATOR
(own-artist scope) only ever gets their own artist. Booking times behind "busy …" are shown to
actors who may read bookings or the calendar (others read "busy during this slot"), and prices
only to actors who may read bookings or artist earnings (for others the budget plays no part).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import statistics
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from sqlalchemy import Engine, Float, cast, func, select
from sqlalchemy.orm import Session

from auditoryx.errors import AuditoryxError
from operational import booking_rules as rules
from operational.booking_rules import Interval, overlaps
from operational.enums import BookingStatus
from operational.models import ISO_4217_CODES, Artist, Booking
from operational.permissions import Action, Actor, Resource, Scope, check_permission, require_permission
from operational.repository import TenantRepository

__all__ = [
    "ArtistMatch", "ArtistProfile", "InvalidMatchRequest", "MatchRequest", "WEIGHTS", "rank_artists",
    "rank_matches", "score_artist",
]

WEIGHTS: Mapping[str, int] = {"skills": 45, "genres": 25, "rating": 20, "price": 10}
MAX_TERMS = 30        # skills or genres in one request
MAX_TERM_LENGTH = 40
MAX_LIMIT = 500
NO_HISTORY_FIT = 0.5  # price fit of an artist without completed bookings in the currency
CENTS = decimal.Decimal("0.01")
UTC = dt.timezone.utc


class InvalidMatchRequest(AuditoryxError):
    """A match request that cannot be answered (the message says which field and why)."""


def _terms(values: Iterable[str] | str | None, what: str) -> tuple[str, ...]:
    """Stripped, non-blank, de-duplicated (case-insensitively) terms, in the order given."""
    if values is None:
        return ()
    if isinstance(values, str):
        values = values.split(",")
    seen: set[str] = set()
    terms: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise InvalidMatchRequest(f"{what}: {value!r} is not text")
        text = " ".join(value.split())
        if not text or text.casefold() in seen:
            continue
        if len(text) > MAX_TERM_LENGTH:
            raise InvalidMatchRequest(f"{what}: {text[:20]!r}… is longer than {MAX_TERM_LENGTH} characters")
        seen.add(text.casefold())
        terms.append(text)
    if len(terms) > MAX_TERMS:
        raise InvalidMatchRequest(f"{what}: at most {MAX_TERMS}")
    return tuple(terms)


@dataclass(frozen=True)
class MatchRequest:
    """What the booking needs: a UTC slot, skills and genres wanted, an optional budget."""

    slot: Interval
    skills: tuple[str, ...] = ()
    genres: tuple[str, ...] = ()
    budget: decimal.Decimal | None = None
    currency: str = "USD"

    def __post_init__(self) -> None:
        slot = self.slot
        if not isinstance(slot, Interval) or not isinstance(slot.start, dt.datetime) \
                or not isinstance(slot.end, dt.datetime):
            raise InvalidMatchRequest("slot: an Interval of two datetimes is required")
        if slot.start.tzinfo is None or slot.end.tzinfo is None:
            raise InvalidMatchRequest("slot: times must be time-zone aware (UTC)")
        if slot.end <= slot.start:
            raise InvalidMatchRequest("slot: the end must be after the start")
        object.__setattr__(self, "slot", Interval(slot.start.astimezone(UTC), slot.end.astimezone(UTC)))
        object.__setattr__(self, "skills", _terms(self.skills, "skills"))
        object.__setattr__(self, "genres", _terms(self.genres, "genres"))
        currency = str(self.currency or "").strip().upper()
        if currency not in ISO_4217_CODES:
            raise InvalidMatchRequest(f"currency: unknown currency {self.currency!r}: an ISO 4217 code such as 'USD'")
        object.__setattr__(self, "currency", currency)
        try:
            budget = rules.parse_amount(self.budget)
        except ValueError as exc:
            raise InvalidMatchRequest(f"budget: {exc}") from None
        object.__setattr__(self, "budget", budget)

    @classmethod
    def for_booking(cls, booking: rules.ValidBooking, *, skills: Iterable[str] = (),
                    genres: Iterable[str] = ()) -> MatchRequest:
        """The request for a checked booking: its UTC slot, budget and currency."""
        return cls(slot=booking.interval, skills=tuple(skills), genres=tuple(genres), budget=booking.budget,
                   currency=booking.currency)

    @property
    def minutes(self) -> int:
        return int(self.slot.duration.total_seconds() // 60)


@dataclass(frozen=True)
class ArtistProfile:
    """What matching knows of one artist (built by :func:`rank_artists`, or by hand in tests)."""

    id: str
    name: str                                   # stage name, else name
    skills: tuple[str, ...] = ()
    genres: tuple[str, ...] = ()
    rating: decimal.Decimal | None = None       # 0–5, None: not rated yet
    active: bool = True
    busy: tuple[Interval, ...] = ()             # blocking bookings overlapping the slot
    hourly_price: decimal.Decimal | None = None  # median of completed bookings, request currency
    show_busy_times: bool = True                # False: "busy during this slot" only


@dataclass(frozen=True)
class ArtistMatch:
    artist_id: str
    name: str
    score: int                                  # 0–100
    available: bool
    reasons: tuple[str, ...]
    skills_matched: tuple[str, ...] = ()        # as requested
    skills_missing: tuple[str, ...] = ()
    genres_matched: tuple[str, ...] = ()
    rating: decimal.Decimal | None = None
    typical_price: decimal.Decimal | None = None  # for this slot, in the request currency
    busy: tuple[Interval, ...] = field(default=(), repr=False)
    _rank: tuple = field(default=(), repr=False, compare=False)

    @property
    def sort_key(self) -> tuple:
        return self._rank


# pure scoring

def _fold(values: Iterable[str] | None) -> dict[str, str]:
    return {" ".join(str(v).split()).casefold(): str(v) for v in values or () if str(v).strip()}


def _money(amount: decimal.Decimal) -> str:
    return f"{amount.quantize(CENTS, rounding=decimal.ROUND_HALF_UP):,.2f}"


def _span(interval: Interval, slot: Interval) -> str:
    start, end = interval.start.astimezone(UTC), interval.end.astimezone(UTC)
    day = slot.start.date()
    if start.date() == day and (end.date() == day or end == dt.datetime.combine(day, dt.time(), UTC)
                                + dt.timedelta(days=1)):
        return f"{start:%H:%M}–{end:%H:%M} UTC"
    return f"{start:%Y-%m-%d %H:%M}–{end:%Y-%m-%d %H:%M} UTC"


def typical_price(hourly: decimal.Decimal | None, minutes: int) -> decimal.Decimal | None:
    if hourly is None:
        return None
    return (hourly * minutes / 60).quantize(CENTS, rounding=decimal.ROUND_HALF_UP)


def score_artist(candidate: ArtistProfile, request: MatchRequest) -> ArtistMatch:
    """How well ``candidate`` fits ``request``: score, availability and the reasons, in the ranking's order."""
    reasons: list[str] = []
    busy = tuple(sorted((i for i in candidate.busy if overlaps(i, request.slot)), key=lambda i: (i.start, i.end)))
    available = bool(candidate.active) and not busy
    if not candidate.active:
        reasons.append("inactive")
    if busy:
        if candidate.show_busy_times:
            reasons.extend(f"busy {_span(interval, request.slot)}" for interval in busy)
        else:
            reasons.append("busy during this slot")
    elif candidate.active:
        reasons.append("free for this slot")

    points = weight = 0.0
    has_skills, has_genres = _fold(candidate.skills), _fold(candidate.genres)

    skills_matched: tuple[str, ...] = ()
    skills_missing: tuple[str, ...] = ()
    skill_share = 0.0
    if request.skills:
        skills_matched = tuple(s for s in request.skills if s.casefold() in has_skills)
        skills_missing = tuple(s for s in request.skills if s.casefold() not in has_skills)
        skill_share = len(skills_matched) / len(request.skills)
        text = f"{len(skills_matched)} of {len(request.skills)} skills match"
        if skills_matched:
            text += f" ({', '.join(skills_matched)})"
        if skills_missing:
            text += f", missing {', '.join(skills_missing)}"
        reasons.append(text)
        points += WEIGHTS["skills"] * skill_share
        weight += WEIGHTS["skills"]

    genres_matched: tuple[str, ...] = ()
    genre_share = 0.0
    if request.genres:
        genres_matched = tuple(g for g in request.genres if g.casefold() in has_genres)
        genre_share = len(genres_matched) / len(request.genres)
        if genres_matched:
            reasons.append(f"genre{'s' if len(genres_matched) > 1 else ''}: {', '.join(genres_matched)}")
        else:
            reasons.append(f"no requested genre ({', '.join(request.genres)})")
        points += WEIGHTS["genres"] * genre_share
        weight += WEIGHTS["genres"]

    rating = candidate.rating
    if rating is not None:
        rating = decimal.Decimal(str(rating))
        reasons.append(f"rating {rating.quantize(decimal.Decimal('0.1'), rounding=decimal.ROUND_HALF_UP)}")
        points += WEIGHTS["rating"] * float(min(max(rating, decimal.Decimal(0)), decimal.Decimal(5))) / 5
    else:
        reasons.append("no rating yet")
    weight += WEIGHTS["rating"]

    price = typical_price(candidate.hourly_price, request.minutes)
    price_fit = 0.0
    if request.budget is not None:
        budget = request.budget
        if price is None:
            price_fit = NO_HISTORY_FIT
            reasons.append(f"no completed {request.currency} bookings to price from")
        elif price <= budget:
            price_fit = 1.0
            reasons.append(f"typical price {_money(price)} {request.currency}, within the budget of {_money(budget)}")
        else:
            price_fit = max(0.0, 1.0 - float((price - budget) / budget)) if budget > 0 else 0.0
            reasons.append(f"typical price {_money(price)} {request.currency}, {_money(price - budget)} over "
                           f"the budget of {_money(budget)}")
        points += WEIGHTS["price"] * price_fit
        weight += WEIGHTS["price"]
    elif price is not None:
        reasons.append(f"typical price {_money(price)} {request.currency}")

    score = int(round(100 * points / weight)) if weight else 0
    rank = (not available, -skill_share, -genre_share, -(rating if rating is not None else decimal.Decimal(-1)),
            -price_fit, candidate.name.casefold(), candidate.name, candidate.id)
    return ArtistMatch(artist_id=candidate.id, name=candidate.name, score=max(0, min(100, score)),
                       available=available, reasons=tuple(reasons), skills_matched=skills_matched,
                       skills_missing=skills_missing, genres_matched=genres_matched, rating=rating,
                       typical_price=price, busy=busy, _rank=rank)


def rank_matches(matches: Iterable[ArtistMatch]) -> list[ArtistMatch]:
    """Best first: available, skill share, genre share, rating, price fit, then name."""
    return sorted(matches, key=lambda match: match.sort_key)


# the database

def rank_artists(engine: Engine | Session, actor: Actor, request: MatchRequest, *, limit: int = 10,
                 exclude_artist_ids: Iterable[str] = ()) -> list[ArtistMatch]:
    """The actor's tenant's active artists ranked for ``request`` (at most ``limit``).

    ``engine`` may also be an open Session (e.g. the booking service's write transaction): it
    is then only read. ``exclude_artist_ids`` drops artists (e.g. the one already booked); ids
    of other tenants are simply never there.
    """
    scope = require_permission(actor, Resource.ROSTER, Action.READ)
    if not isinstance(request, MatchRequest):
        raise InvalidMatchRequest("a MatchRequest is required")
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidMatchRequest(f"limit: between 1 and {MAX_LIMIT}")
    if isinstance(exclude_artist_ids, str):
        exclude_artist_ids = (exclude_artist_ids,)
    excluded = sorted({str(i) for i in exclude_artist_ids if i})
    show_busy = (check_permission(actor, Resource.BOOKINGS, Action.READ)
                 or check_permission(actor, Resource.CALENDAR, Action.READ))
    show_price = (check_permission(actor, Resource.BOOKINGS, Action.READ)
                  or check_permission(actor, Resource.ARTIST_EARNINGS, Action.READ))
    if not show_price and request.budget is not None:
        request = dataclasses.replace(request, budget=None)

    if isinstance(engine, Session):
        return _rank(engine, actor, scope, request, limit, excluded, show_busy, show_price)
    with Session(engine) as session:
        return _rank(session, actor, scope, request, limit, excluded, show_busy, show_price)


def _rank(session: Session, actor: Actor, scope: Scope, request: MatchRequest, limit: int,
          excluded: Sequence[str], show_busy: bool, show_price: bool) -> list[ArtistMatch]:
    repo = TenantRepository(session, actor.tenant_id, actor_id=actor.user_id, actor_key_id=actor.api_key_id)  # scopes the transaction (PG)
    tenant = repo.tenant_id
    criteria = [Artist.org_id == tenant, Artist.is_active.is_(True)]
    if scope is Scope.OWN_ARTIST:
        criteria.append(Artist.id.in_(sorted(actor.artist_ids) or [""]))
    if excluded:
        criteria.append(Artist.id.not_in(excluded))
    candidates = select(Artist.id).where(*criteria)

    # 1. the artists
    artists = session.execute(select(Artist.id, Artist.name, Artist.stage_name, Artist.skills, Artist.genres,
                                      Artist.rating).where(*criteria)).all()
    if not artists:
        return []

    # 2. their blocking bookings that overlap the slot (half-open: touching ones do not)
    busy: dict[str, list[Interval]] = {}
    rows = session.execute(select(Booking.artist_id, Booking.start_date, Booking.end_date).where(
        Booking.org_id == tenant, Booking.artist_id.in_(candidates),
        Booking.status.in_([s.value for s in rules.BLOCKING_STATUSES]),
        Booking.start_date < request.slot.end, Booking.end_date > request.slot.start))
    for artist_id, start, end in rows:
        busy.setdefault(artist_id, []).append(Interval(start, end))

    # 3. their median hourly price of completed bookings, in the request currency only
    hourly = _median_hourly_prices(session, tenant, candidates, request.currency) if show_price else {}

    matches = [score_artist(ArtistProfile(
        id=a.id, name=a.stage_name or a.name, skills=tuple(_strings(a.skills)), genres=tuple(_strings(a.genres)),
        rating=a.rating, active=True, busy=tuple(busy.get(a.id, ())), hourly_price=hourly.get(a.id),
        show_busy_times=show_busy), request) for a in artists]
    return rank_matches(matches)[:limit]


def _strings(values) -> list[str]:
    return [v for v in values if isinstance(v, str)] if isinstance(values, list) else []


def _median_hourly_prices(session: Session, tenant: str, candidates, currency: str) -> dict[str, decimal.Decimal]:
    """``{artist_id: median hourly price}`` over COMPLETED bookings in ``currency``.

    Only the middle booking(s) of each artist leave the database; their hourly prices are then
    computed exactly in Python. The database orders by a double-precision rate (cheap to sort;
    SQLite keeps money as text anyway), which picks the right middle rows: rates that differ do so
    by far more than a double's rounding, and equal rates give the same value whichever row is picked.
    """
    rate = cast(Booking.final_price, Float) * 60 / Booking.duration_minutes
    ranked = (select(Booking.artist_id, Booking.final_price, Booking.duration_minutes,
                     func.row_number().over(partition_by=Booking.artist_id, order_by=rate).label("n"),
                     func.count().over(partition_by=Booking.artist_id).label("total"))
              .where(Booking.org_id == tenant, Booking.artist_id.in_(candidates),
                     Booking.status == BookingStatus.COMPLETED.value, Booking.currency == currency,
                     Booking.final_price.is_not(None), Booking.duration_minutes > 0)
              .subquery())
    middle = select(ranked.c.artist_id, ranked.c.final_price, ranked.c.duration_minutes).where(
        ranked.c.n.in_([(ranked.c.total + 1) // 2, (ranked.c.total + 2) // 2]))
    rates: dict[str, list[decimal.Decimal]] = {}
    for artist_id, price, minutes in session.execute(middle):
        rates.setdefault(artist_id, []).append(decimal.Decimal(price) * 60 / minutes)
    return {artist_id: statistics.median(values) for artist_id, values in rates.items()}
