"""Vectorised time-zone arithmetic over the IANA database (zoneinfo), for whole seconds.

For each zone, the UTC offset changes inside a span of days are found once (a probe a day, then
bisection to the second) and cached; converting millions of local times is then a searchsorted.
"""
from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

SECONDS_PER_DAY = 86_400
_UTC = dt.timezone.utc


def _offset(zone: ZoneInfo, instant: int) -> int:
    return int(dt.datetime.fromtimestamp(instant, tz=_UTC).astimezone(zone).utcoffset().total_seconds())


@lru_cache(maxsize=256)
def offset_changes(zone_name: str, first_day: int, last_day: int) -> tuple[np.ndarray, np.ndarray]:
    """(instants, offsets): from ``instants[i]`` (UTC seconds) on, the zone is ``offsets[i]`` seconds
    ahead of UTC; ``instants[0]`` is the start of the span, later entries are the changes in it."""
    zone = ZoneInfo(zone_name)
    starts = [(first_day - 2) * SECONDS_PER_DAY]
    offsets = [_offset(zone, starts[0])]
    for day in range(first_day - 1, last_day + 3):
        instant = day * SECONDS_PER_DAY
        current = _offset(zone, instant)
        if current == offsets[-1]:
            continue
        low, high = instant - SECONDS_PER_DAY, instant  # offset at low is the old one, at high the new one
        while high - low > 1:
            middle = (low + high) // 2
            if _offset(zone, middle) == current:
                high = middle
            else:
                low = middle
        starts.append(high)
        offsets.append(current)
    return np.array(starts, dtype=np.int64), np.array(offsets, dtype=np.int64)


def utc_offsets(zone_name: str, utc_seconds: np.ndarray, first_day: int, last_day: int) -> np.ndarray:
    starts, offsets = offset_changes(zone_name, first_day, last_day)
    return offsets[np.searchsorted(starts, utc_seconds, side="right") - 1]


def local_to_utc(zone_name: str, local_seconds: np.ndarray, first_day: int, last_day: int) -> np.ndarray:
    """UTC seconds of local wall-clock times (seconds since the epoch as if local were UTC).

    Ambiguous times (autumn) resolve to one of their two instants, times in a spring gap to a
    nearby instant: the booking is stored in UTC and its local time is derived, never stored.
    """
    first_guess = local_seconds - utc_offsets(zone_name, local_seconds, first_day, last_day)
    return local_seconds - utc_offsets(zone_name, first_guess, first_day, last_day)


def transitions(zone_name: str, first_day: int, last_day: int) -> np.ndarray:
    """UTC instants of the offset changes (DST starts and ends) inside the span of days."""
    starts, _ = offset_changes(zone_name, first_day, last_day)
    inside = starts[1:]
    return inside[(inside >= first_day * SECONDS_PER_DAY) & (inside < (last_day + 1) * SECONDS_PER_DAY)]
