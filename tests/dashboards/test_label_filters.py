"""dashboards/filters.py: presets, comparison periods and the URL query, as pure functions."""
from __future__ import annotations

import datetime as dt

import pytest

from dashboards import filters as f

D = dt.date
AS_OF = D(2025, 3, 15)


@pytest.mark.parametrize(
    ("preset", "as_of", "expected"),
    [
        ("last_30_days", AS_OF, (D(2025, 2, 14), D(2025, 3, 15))),
        ("this_month", AS_OF, (D(2025, 3, 1), D(2025, 3, 15))),
        ("this_month", D(2025, 3, 1), (D(2025, 3, 1), D(2025, 3, 1))),
        ("last_month", AS_OF, (D(2025, 2, 1), D(2025, 2, 28))),
        ("last_month", D(2025, 1, 10), (D(2024, 12, 1), D(2024, 12, 31))),
        ("quarter_to_date", AS_OF, (D(2025, 1, 1), D(2025, 3, 15))),
        ("quarter_to_date", D(2025, 11, 2), (D(2025, 10, 1), D(2025, 11, 2))),
        ("year_to_date", AS_OF, (D(2025, 1, 1), D(2025, 3, 15))),
        ("last_12_months", AS_OF, (D(2024, 4, 1), D(2025, 3, 15))),
    ],
)
def test_preset_ranges(preset, as_of, expected):
    assert f.preset_range(preset, as_of) == expected


def test_unknown_preset_is_an_error():
    with pytest.raises(ValueError):
        f.preset_range("forever", AS_OF)


@pytest.mark.parametrize(
    ("period", "prior"),
    [
        ((D(2025, 2, 14), D(2025, 3, 15)), (D(2025, 1, 15), D(2025, 2, 13))),  # 30 days right before
        ((D(2025, 3, 1), D(2025, 3, 15)), (D(2025, 2, 1), D(2025, 2, 15))),  # MTD: same days last month
        ((D(2025, 3, 1), D(2025, 3, 31)), (D(2025, 2, 1), D(2025, 2, 28))),  # a whole month stays whole
        ((D(2025, 2, 1), D(2025, 2, 28)), (D(2025, 1, 1), D(2025, 1, 31))),
        ((D(2025, 1, 1), D(2025, 3, 15)), (D(2024, 10, 1), D(2024, 12, 15))),  # QTD: the 3 months before
        ((D(2024, 4, 1), D(2025, 3, 15)), (D(2023, 4, 1), D(2024, 3, 15))),
        ((D(2025, 3, 31), D(2025, 3, 31)), (D(2025, 3, 30), D(2025, 3, 30))),
    ],
)
def test_prior_period(period, prior):
    assert f.prior_period(*period) == prior


@pytest.mark.parametrize(
    ("period", "last_year"),
    [
        ((D(2025, 2, 14), D(2025, 3, 15)), (D(2024, 2, 14), D(2024, 3, 15))),
        ((D(2024, 2, 1), D(2024, 2, 29)), (D(2023, 2, 1), D(2023, 2, 28))),  # leap day
        ((D(2024, 2, 29), D(2024, 2, 29)), (D(2023, 2, 28), D(2023, 2, 28))),
        ((D(2025, 2, 1), D(2025, 2, 28)), (D(2024, 2, 1), D(2024, 2, 29))),  # whole month stays whole
    ],
)
def test_same_period_last_year(period, last_year):
    assert f.same_period_last_year(*period) == last_year


TYPES = ("MIXING", "RECORDING_SESSION")
ARTISTS = ("art-1", "art-2", "art-3")


def parse(params):
    return f.parse_query(params, AS_OF, TYPES, ARTISTS)


def test_empty_query_gives_the_defaults():
    assert parse({}) == f.Filters("last_30_days", D(2025, 2, 14), AS_OF, (), ())
    assert parse({}) == f.default_filters(AS_OF)


@pytest.mark.parametrize(
    "params",
    [
        {"period": "forever"},
        {"period": "custom"},  # no dates
        {"period": "custom", "from": "2025-03-10", "to": "2025-03-01"},  # reversed
        {"period": "custom", "from": "yesterday", "to": "2025-03-01"},
        {"period": "custom", "from": "1900-01-01", "to": "2025-03-01"},  # too far back
        {"period": "custom", "from": "2025-01-01", "to": "2099-01-01"},  # too far ahead
        {"period": ["", None]},
        {"period": 5},
    ],
)
def test_invalid_periods_fall_back_to_the_default(params):
    filters = parse(params)
    assert (filters.preset, filters.start, filters.end) == ("last_30_days", D(2025, 2, 14), AS_OF)


def test_custom_range_and_multi_values():
    filters = parse({"period": "custom", "from": "2025-01-05", "to": "2025-02-10",
                     "type": "RECORDING_SESSION,MIXING,NOT_A_TYPE", "artist": ["art-3", "art-9,art-1"]})
    assert filters == f.Filters("custom", D(2025, 1, 5), D(2025, 2, 10), TYPES, ("art-1", "art-3"))
    assert filters.days == 37


def test_values_that_are_not_options_are_dropped():
    assert parse({"type": "'; DROP TABLE x; --", "artist": "someone-else"}).booking_types == ()
    assert parse({"artist": "other-tenant-artist"}).artist_ids == ()


def test_query_round_trip_leaves_defaults_out():
    assert f.to_query(f.default_filters(AS_OF)) == {}
    filters = f.Filters("custom", D(2025, 1, 5), D(2025, 2, 10), ("MIXING",), ("art-2", "art-3"))
    query = f.to_query(filters)
    assert query == {"period": "custom", "from": "2025-01-05", "to": "2025-02-10", "type": "MIXING",
                     "artist": "art-2,art-3"}
    assert parse(query) == filters
    ytd = parse({"period": "year_to_date"})
    assert f.to_query(ytd) == {"period": "year_to_date"} and parse(f.to_query(ytd)) == ytd
