"""The label dashboard's filters as pure functions: preset → date range, the comparison periods,
and the URL query (``?period=…&from=…&to=…&type=…&artist=…``) parsed and written back.

The URL never names a tenant: the options a query may select (booking types, artists) come from
the logged-in tenant's snapshot, and anything else in the query falls back to the defaults.
"""
from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

PRESETS: dict[str, str] = {
    "last_30_days": "Last 30 days",
    "this_month": "This month",
    "last_month": "Last month",
    "quarter_to_date": "Quarter to date",
    "year_to_date": "Year to date",
    "last_12_months": "Last 12 months",
    "custom": "Custom range",
}
SHORT_LABELS: dict[str, str] = {
    "last_30_days": "30d", "this_month": "MTD", "last_month": "last month", "quarter_to_date": "QTD",
    "year_to_date": "YTD", "last_12_months": "12m", "custom": "range",
}
DEFAULT_PRESET = "last_30_days"
PARAM_PERIOD, PARAM_FROM, PARAM_TO, PARAM_TYPE, PARAM_ARTIST = "period", "from", "to", "type", "artist"
QUERY_KEYS = (PARAM_PERIOD, PARAM_FROM, PARAM_TO, PARAM_TYPE, PARAM_ARTIST)
MAX_YEARS_BACK = 10  # a custom range may start at most this many years before the as-of date
MAX_YEARS_AHEAD = 2  # and end at most this many after it (pipeline months)
MAX_SELECTED = 50  # values of one multi-value filter kept from a query


@dataclass(frozen=True)
class Filters:
    preset: str
    start: dt.date
    end: dt.date
    booking_types: tuple[str, ...] = ()  # empty: every type
    artist_ids: tuple[str, ...] = ()  # empty: every artist

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


# ----------------------------------------------------------------------------------- dates


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` moved by whole months, clamped to the target month's last day (31 Mar − 1 → 28/29 Feb)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _month_end(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def preset_range(preset: str, as_of: dt.date) -> tuple[dt.date, dt.date]:
    """The dates (both included) a preset covers as of ``as_of``; "to date" presets end on it."""
    month_start = as_of.replace(day=1)
    if preset == "last_30_days":
        return as_of - dt.timedelta(days=29), as_of
    if preset == "this_month":
        return month_start, as_of
    if preset == "last_month":
        start = add_months(month_start, -1)
        return start, _month_end(start)
    if preset == "quarter_to_date":
        return dt.date(as_of.year, 3 * ((as_of.month - 1) // 3) + 1, 1), as_of
    if preset == "year_to_date":
        return dt.date(as_of.year, 1, 1), as_of
    if preset == "last_12_months":
        return add_months(month_start, -11), as_of
    raise ValueError(f"unknown preset: {preset!r}")


def _months_spanned(start: dt.date, end: dt.date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month + 1


def _shift(start: dt.date, end: dt.date, months: int) -> tuple[dt.date, dt.date]:
    new_end = add_months(end, months)
    if end == _month_end(end):  # a whole last month stays whole (31 Mar → 28 Feb, 28 Feb → 31 Jan)
        new_end = _month_end(new_end)
    return add_months(start, months), new_end


def prior_period(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The period just before, of the same span: when ``start`` is the 1st of a month, the same
    days of the month(s) before (1–15 Mar → 1–15 Feb; all of Feb → all of Jan; Q1 to date →
    the three months before, to the same day); otherwise the same number of days right before."""
    if start.day == 1:
        return _shift(start, end, -_months_spanned(start, end))
    days = (end - start).days + 1
    return start - dt.timedelta(days=days), start - dt.timedelta(days=1)


def same_period_last_year(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The same dates a year earlier (29 Feb → 28 Feb; a whole month stays whole)."""
    return _shift(start, end, -12)


# ----------------------------------------------------------------------------------- query


def _first(value: Any) -> str | None:
    if isinstance(value, (list, tuple)):
        value = value[-1] if value else None
    return value if isinstance(value, str) else None


def _parse_date(value: Any) -> dt.date | None:
    text = _first(value)
    try:
        return dt.date.fromisoformat(text.strip()) if text else None
    except ValueError:
        return None


def _values(value: Any) -> list[str]:
    items = value if isinstance(value, (list, tuple)) else [value]
    out: list[str] = []
    for item in items:
        if isinstance(item, str):
            out.extend(part.strip() for part in item.split(",") if part.strip())
    return out


def _selected(value: Any, allowed: Iterable[str]) -> tuple[str, ...]:
    """The query's values that are options (order of the options, no duplicates)."""
    wanted = set(_values(value)[: MAX_SELECTED * 4])
    return tuple(option for option in allowed if option in wanted)[:MAX_SELECTED]


def default_filters(as_of: dt.date) -> Filters:
    start, end = preset_range(DEFAULT_PRESET, as_of)
    return Filters(DEFAULT_PRESET, start, end)


def custom_range_ok(start: dt.date, end: dt.date, as_of: dt.date) -> bool:
    return (start <= end and start >= add_months(as_of, -12 * MAX_YEARS_BACK)
            and end <= add_months(as_of, 12 * MAX_YEARS_AHEAD))


def parse_query(params: Mapping[str, Any], as_of: dt.date, booking_types: Iterable[str] = (),
                artist_ids: Iterable[str] = ()) -> Filters:
    """Filters from a URL query; a missing or invalid value gives its default (last 30 days,
    every type, every artist), values that are not options of this tenant are dropped."""
    preset = _first(params.get(PARAM_PERIOD)) or DEFAULT_PRESET
    if preset not in PRESETS:
        preset = DEFAULT_PRESET
    if preset == "custom":
        start, end = _parse_date(params.get(PARAM_FROM)), _parse_date(params.get(PARAM_TO))
        if start is None or end is None or not custom_range_ok(start, end, as_of):
            preset = DEFAULT_PRESET
    if preset != "custom":
        start, end = preset_range(preset, as_of)
    return Filters(preset, start, end, _selected(params.get(PARAM_TYPE), booking_types),
                   _selected(params.get(PARAM_ARTIST), artist_ids))


def to_query(filters: Filters) -> dict[str, str]:
    """The URL query of ``filters`` (defaults left out, so the plain page URL means the defaults)."""
    query: dict[str, str] = {}
    if filters.preset != DEFAULT_PRESET:
        query[PARAM_PERIOD] = filters.preset
    if filters.preset == "custom":
        query[PARAM_FROM], query[PARAM_TO] = filters.start.isoformat(), filters.end.isoformat()
    if filters.booking_types:
        query[PARAM_TYPE] = ",".join(filters.booking_types)
    if filters.artist_ids:
        query[PARAM_ARTIST] = ",".join(filters.artist_ids)
    return query


def period_caption(start: dt.date, end: dt.date) -> str:
    return f"{start.isoformat()} – {end.isoformat()}"
