"""Report periods (pure): what a report's "period" means and how it is written in a folder name.

Accepted forms (relative ones resolve against the snapshot's as-of date D):
``last-12-months`` (default; the as-of month and the N−1 before it, N = 1…36), ``last-N-days``
(D−N+1…D, N = 1…366), ``previous-month``, ``YYYY`` (a calendar year), ``YYYY-Qn`` (a quarter),
``YYYY-MM`` (a month), ``YYYY-MM-DD..YYYY-MM-DD`` (inclusive dates).
"""
from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from auditoryx.errors import AuditoryxError

DEFAULT_PERIOD = "last-12-months"
PERIOD_HELP = ("last-12-months (default), last-N-months, last-N-days, previous-month, YYYY, YYYY-Qn, YYYY-MM, "
               "YYYY-MM-DD..YYYY-MM-DD")

_LAST_MONTHS = re.compile(r"^last-(\d{1,2})-months?$")
_LAST_DAYS = re.compile(r"^last-(\d{1,3})-days?$")
_YEAR = re.compile(r"^(\d{4})$")
_QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")


class InvalidPeriod(AuditoryxError):
    """A period that cannot be read (the message lists the accepted forms)."""


@dataclass(frozen=True)
class Period:
    first: dt.date          # inclusive
    last: dt.date           # inclusive
    spec: str               # as given (normalised), e.g. "last-12-months"
    label: str              # for folder and file names: [0-9A-Za-z_-] only, e.g. "2025-07_2026-06"

    @property
    def first_month(self) -> dt.date:
        return self.first.replace(day=1)

    @property
    def last_month(self) -> dt.date:
        return self.last.replace(day=1)

    def describe(self) -> str:
        return f"{self.first:%d %b %Y} – {self.last:%d %b %Y}"

    def as_dict(self) -> dict[str, str]:
        return {"spec": self.spec, "label": self.label, "first": self.first.isoformat(), "last": self.last.isoformat()}


def _month_end(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _add_months(month: dt.date, months: int) -> dt.date:
    index = month.year * 12 + (month.month - 1) + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidPeriod(f"invalid period date {text!r} (YYYY-MM-DD)") from None


def _month_span(first: dt.date, last: dt.date) -> str:
    return f"{first:%Y-%m}" if (first.year, first.month) == (last.year, last.month) else f"{first:%Y-%m}_{last:%Y-%m}"


def validate_period_spec(spec: str | None) -> str:
    """The normalised spec, or :class:`InvalidPeriod` (checked without an as-of date)."""
    text = (spec or DEFAULT_PERIOD).strip().lower()
    resolve_period(text, dt.date(2000, 1, 31))
    return text


def resolve_period(spec: str | None, as_of: dt.date) -> Period:
    text = (spec or DEFAULT_PERIOD).strip().lower()
    if match := _LAST_MONTHS.match(text):
        n = int(match.group(1))
        if not 1 <= n <= 36:
            raise InvalidPeriod(f"invalid period {spec!r}: last-N-months needs 1 ≤ N ≤ 36")
        last = as_of.replace(day=1)
        first = _add_months(last, -(n - 1))
        return Period(first, as_of, text, _month_span(first, last))
    if match := _LAST_DAYS.match(text):
        n = int(match.group(1))
        if not 1 <= n <= 366:
            raise InvalidPeriod(f"invalid period {spec!r}: last-N-days needs 1 ≤ N ≤ 366")
        first = as_of - dt.timedelta(days=n - 1)
        return Period(first, as_of, text, f"{first:%Y%m%d}_{as_of:%Y%m%d}")
    if text == "previous-month":
        first = _add_months(as_of.replace(day=1), -1)
        return Period(first, _month_end(first), text, f"{first:%Y-%m}")
    if match := _YEAR.match(text):
        year = int(match.group(1))
        return Period(dt.date(year, 1, 1), dt.date(year, 12, 31), text, text)
    if match := _QUARTER.match(text):
        year, quarter = int(match.group(1)), int(match.group(2))
        first = dt.date(year, 3 * quarter - 2, 1)
        return Period(first, _month_end(_add_months(first, 2)), text, f"{year}-Q{quarter}")
    if match := _MONTH.match(text):
        year, month = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12:
            raise InvalidPeriod(f"invalid period {spec!r}: no month {month}")
        first = dt.date(year, month, 1)
        return Period(first, _month_end(first), text, text)
    if match := _RANGE.match(text):
        first, last = _date(match.group(1)), _date(match.group(2))
        if last < first:
            raise InvalidPeriod(f"invalid period {spec!r}: the end is before the start")
        if (last - first).days > 3660:
            raise InvalidPeriod(f"invalid period {spec!r}: at most ten years")
        return Period(first, last, text, f"{first:%Y%m%d}_{last:%Y%m%d}")
    raise InvalidPeriod(f"invalid period {spec!r}: one of {PERIOD_HELP}")
