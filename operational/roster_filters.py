"""Roster filters: what a person picks on the roster page, read from and written to the URL query.

Pure functions (no database, no Streamlit). A filter narrows a list of
:class:`~operational.roster.ArtistSummary` rows the actor was already allowed to list; its options
(genres, skills) come from that same list, so a value of another tenant can never be offered, and a
value in the URL that matches nothing of the tenant's is dropped when the options are applied.

URL keys: ``genre`` and ``skill`` (repeatable), ``verification`` (repeatable, a
:class:`~operational.enums.VerificationStatus`), ``min_rating`` (0 to 5), ``q`` (name or stage name,
case-insensitive, every word must match).
"""
from __future__ import annotations

import decimal
from dataclasses import dataclass, replace
from typing import Iterable, Mapping, Protocol, Sequence

from operational.enums import VerificationStatus

GENRE, SKILL, VERIFICATION, MIN_RATING, SEARCH = "genre", "skill", "verification", "min_rating", "q"
QUERY_KEYS = (GENRE, SKILL, VERIFICATION, MIN_RATING, SEARCH)
MAX_SEARCH_LENGTH = 100
MAX_RATING = decimal.Decimal(5)
VERIFICATION_STATUSES = tuple(status.value for status in VerificationStatus)


class FilterableArtist(Protocol):
    name: str
    stage_name: str | None
    genres: Sequence[str]
    skills: Sequence[str]
    rating: decimal.Decimal | None
    verification_status: str


@dataclass(frozen=True)
class RosterFilter:
    genres: tuple[str, ...] = ()          # any of them (case-insensitive)
    skills: tuple[str, ...] = ()          # any of them (case-insensitive)
    verification: tuple[str, ...] = ()    # any of these statuses
    min_rating: decimal.Decimal | None = None  # an artist without a rating never passes a minimum
    search: str = ""                      # every word in the name or the stage name

    @property
    def is_empty(self) -> bool:
        return self == RosterFilter()


@dataclass(frozen=True)
class FilterOptions:
    genres: tuple[str, ...]
    skills: tuple[str, ...]


def _values(query: Mapping[str, str | Sequence[str]], key: str) -> list[str]:
    raw = query.get(key)
    if raw is None:
        return []
    items = [raw] if isinstance(raw, str) else list(raw)
    return [" ".join(str(item).split()) for item in items if str(item).strip()]


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    seen: set[str] = set()
    out = []
    for value in values:
        if value.casefold() not in seen:
            seen.add(value.casefold())
            out.append(value)
    return tuple(out)


def parse_rating(text: str | None) -> decimal.Decimal | None:
    """``"4.5"`` → Decimal('4.5'); anything that is not a number between 0 and 5 → None (no minimum)."""
    if text is None:
        return None
    try:
        value = decimal.Decimal(str(text).strip())
    except decimal.InvalidOperation:
        return None
    if not value.is_finite() or value <= 0 or value > MAX_RATING:
        return None
    return value


def parse_query(query: Mapping[str, str | Sequence[str]]) -> RosterFilter:
    """A filter from URL query values (a key maps to one string or a list of them); anything
    unreadable is left out rather than refused (a shared link never breaks the page)."""
    search_values = _values(query, SEARCH)
    ratings = _values(query, MIN_RATING)
    wanted_status = {value.upper() for value in _values(query, VERIFICATION)}
    return RosterFilter(
        genres=_unique(_values(query, GENRE)),
        skills=_unique(_values(query, SKILL)),
        verification=tuple(status for status in VERIFICATION_STATUSES if status in wanted_status),
        min_rating=parse_rating(ratings[0]) if ratings else None,
        search=search_values[0][:MAX_SEARCH_LENGTH] if search_values else "",
    )


def to_query(filters: RosterFilter) -> dict[str, str | list[str]]:
    """The URL query of a filter (empty parts left out), the inverse of :func:`parse_query`."""
    query: dict[str, str | list[str]] = {}
    if filters.genres:
        query[GENRE] = list(filters.genres)
    if filters.skills:
        query[SKILL] = list(filters.skills)
    if filters.verification:
        query[VERIFICATION] = list(filters.verification)
    if filters.min_rating is not None:
        query[MIN_RATING] = format(filters.min_rating.normalize(), "f")
    if filters.search:
        query[SEARCH] = filters.search
    return query


def options(artists: Iterable[FilterableArtist]) -> FilterOptions:
    """The genres and skills the given artists have (case-insensitive repeats once, sorted)."""
    artists = list(artists)

    def collect(values: Iterable[str]) -> tuple[str, ...]:
        return tuple(sorted(_unique(values), key=lambda v: (v.casefold(), v)))

    return FilterOptions(genres=collect(g for a in artists for g in a.genres),
                         skills=collect(s for a in artists for s in a.skills))


def within_options(filters: RosterFilter, available: FilterOptions) -> RosterFilter:
    """The filter with genres and skills the options do not hold dropped, and the rest spelled as
    in the options (a URL may say ``jazz`` for ``Jazz``)."""
    def keep(chosen: tuple[str, ...], offered: tuple[str, ...]) -> tuple[str, ...]:
        by_fold = {value.casefold(): value for value in offered}
        return _unique(by_fold[value.casefold()] for value in chosen if value.casefold() in by_fold)

    return replace(filters, genres=keep(filters.genres, available.genres),
                   skills=keep(filters.skills, available.skills))


def matches(artist: FilterableArtist, filters: RosterFilter) -> bool:
    """Does one artist pass every part of the filter?"""
    if filters.genres and not {g.casefold() for g in artist.genres} & {g.casefold() for g in filters.genres}:
        return False
    if filters.skills and not {s.casefold() for s in artist.skills} & {s.casefold() for s in filters.skills}:
        return False
    if filters.verification and str(artist.verification_status) not in filters.verification:
        return False
    if filters.min_rating is not None and (artist.rating is None or artist.rating < filters.min_rating):
        return False
    words = filters.search.casefold().split()
    if words:
        haystack = f"{artist.name} {artist.stage_name or ''}".casefold()
        if not all(word in haystack for word in words):
            return False
    return True


def apply(artists: Iterable[FilterableArtist], filters: RosterFilter) -> list:
    """The artists that pass the filter, in their given order."""
    return [artist for artist in artists if matches(artist, filters)]
