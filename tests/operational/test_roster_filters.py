"""Roster filters (operational/roster_filters.py): pure logic, no database. Parsing the URL query,
writing it back, options from the tenant's own artists, and every filter on its own and combined."""
from __future__ import annotations

import decimal
from dataclasses import dataclass

import pytest

from operational import roster_filters as rf
from operational.roster_filters import RosterFilter


@dataclass(frozen=True)
class A:
    name: str
    stage_name: str | None = None
    genres: tuple[str, ...] = ()
    skills: tuple[str, ...] = ()
    rating: decimal.Decimal | None = None
    verification_status: str = "PENDING"


LUMEN = A("Lena Holm", "Lumen Vale", ("Jazz", "Soul"), ("vocals",), decimal.Decimal("4.80"), "VERIFIED")
MARISOL = A("Marisol Keys", None, ("jazz", "Latin"), ("piano", "Vocals"), decimal.Decimal("4.20"), "PENDING")
HARBOR = A("Tom Berg", "The Quiet Harbor", ("Folk",), ("guitar",), None, "SUSPENDED")
ROSTER = [LUMEN, MARISOL, HARBOR]


def names(filters: RosterFilter) -> list[str]:
    return [a.name for a in rf.apply(ROSTER, filters)]


def test_parse_query_reads_every_key_and_drops_what_it_cannot_read():
    query = {"genre": ["Jazz", "jazz", "  Soul  ", ""], "skill": "vocals", "verification": ["verified", "BOGUS", "PENDING"],
             "min_rating": "4.5", "q": "  lumen  vale ", "other": "ignored"}
    assert rf.parse_query(query) == RosterFilter(genres=("Jazz", "Soul"), skills=("vocals",),
                                                 verification=("PENDING", "VERIFIED"),
                                                 min_rating=decimal.Decimal("4.5"), search="lumen vale")
    for bad in ("abc", "-1", "0", "5.5", "NaN", "Infinity", ""):
        assert rf.parse_query({"min_rating": bad}).min_rating is None, bad
    assert rf.parse_query({}) == RosterFilter() and RosterFilter().is_empty
    assert len(rf.parse_query({"q": "x" * 500}).search) == rf.MAX_SEARCH_LENGTH


def test_to_query_is_the_inverse_of_parse_query():
    filters = RosterFilter(genres=("Jazz",), skills=("piano", "vocals"), verification=("VERIFIED",),
                           min_rating=decimal.Decimal("4.50"), search="keys")
    query = rf.to_query(filters)
    assert query == {"genre": ["Jazz"], "skill": ["piano", "vocals"], "verification": ["VERIFIED"],
                     "min_rating": "4.5", "q": "keys"}
    assert rf.parse_query(query) == RosterFilter(genres=("Jazz",), skills=("piano", "vocals"),
                                                 verification=("VERIFIED",), min_rating=decimal.Decimal("4.5"),
                                                 search="keys")
    assert rf.to_query(RosterFilter()) == {}
    assert rf.to_query(RosterFilter(min_rating=decimal.Decimal("4"))) == {"min_rating": "4"}


def test_options_come_only_from_the_given_artists_and_foreign_values_are_dropped():
    available = rf.options(ROSTER)
    assert available.genres == ("Folk", "Jazz", "Latin", "Soul")  # "jazz" repeats "Jazz"
    assert available.skills == ("guitar", "piano", "vocals")
    wanted = RosterFilter(genres=("JAZZ", "Canary Genre"), skills=("Canary Skill",), search="x")
    assert rf.within_options(wanted, available) == RosterFilter(genres=("Jazz",), skills=(), search="x")
    assert rf.options([]) == rf.FilterOptions((), ())


@pytest.mark.parametrize("filters, expected", [
    (RosterFilter(), ["Lena Holm", "Marisol Keys", "Tom Berg"]),
    (RosterFilter(genres=("jazz",)), ["Lena Holm", "Marisol Keys"]),  # any case
    (RosterFilter(genres=("Soul", "Folk")), ["Lena Holm", "Tom Berg"]),  # any of the genres
    (RosterFilter(skills=("VOCALS",)), ["Lena Holm", "Marisol Keys"]),
    (RosterFilter(verification=("VERIFIED", "SUSPENDED")), ["Lena Holm", "Tom Berg"]),
    (RosterFilter(min_rating=decimal.Decimal("4.2")), ["Lena Holm", "Marisol Keys"]),  # inclusive
    (RosterFilter(min_rating=decimal.Decimal("4.5")), ["Lena Holm"]),  # no rating never passes
    (RosterFilter(search="harbor"), ["Tom Berg"]),  # the stage name
    (RosterFilter(search="KEYS"), ["Marisol Keys"]),  # the name, any case
    (RosterFilter(search="quiet berg"), ["Tom Berg"]),  # every word, across name and stage name
    (RosterFilter(search="quiet lena"), []),
    (RosterFilter(genres=("Jazz",), skills=("piano",), min_rating=decimal.Decimal("4")), ["Marisol Keys"]),
    (RosterFilter(genres=("Jazz",), verification=("SUSPENDED",)), []),
])
def test_each_filter_alone_and_combined(filters, expected):
    assert names(filters) == expected
