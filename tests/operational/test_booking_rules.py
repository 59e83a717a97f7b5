"""Pure booking rules: time zones and DST, overlap, free slots, transitions, validation, plans."""
from __future__ import annotations

import datetime as dt
import decimal

import pytest

from operational import booking_rules as rules
from operational.booking_rules import BookingDraft, BookingError, Interval

UTC = dt.timezone.utc


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def test_local_times_in_different_zones_collide_in_utc():
    berlin = Interval(rules.to_utc(dt.datetime(2026, 6, 1, 10), "Europe/Berlin"),
                      rules.to_utc(dt.datetime(2026, 6, 1, 12), "Europe/Berlin"))   # 08:00–10:00 UTC
    new_york = Interval(rules.to_utc(dt.datetime(2026, 6, 1, 5), "America/New_York"),
                        rules.to_utc(dt.datetime(2026, 6, 1, 6), "America/New_York"))  # 09:00–10:00 UTC
    assert rules.overlaps(berlin, new_york)
    tokyo = Interval(rules.to_utc(dt.datetime(2026, 6, 1, 19), "Asia/Tokyo"),
                     rules.to_utc(dt.datetime(2026, 6, 1, 20), "Asia/Tokyo"))        # 10:00–11:00 UTC
    assert not rules.overlaps(berlin, tokyo)  # touching at 10:00 UTC


def test_touching_intervals_do_not_overlap_and_contained_ones_do():
    a = Interval(utc(2026, 1, 1, 10), utc(2026, 1, 1, 12))
    assert not rules.overlaps(a, Interval(utc(2026, 1, 1, 12), utc(2026, 1, 1, 13)))
    assert not rules.overlaps(a, Interval(utc(2026, 1, 1, 9), utc(2026, 1, 1, 10)))
    assert rules.overlaps(a, Interval(utc(2026, 1, 1, 11), utc(2026, 1, 1, 11, 30)))
    assert rules.overlaps(a, Interval(utc(2026, 1, 1, 9), utc(2026, 1, 1, 13)))


def test_dst_gap_is_refused_and_repeated_hour_means_the_first():
    with pytest.raises(ValueError, match="does not exist in Europe/Berlin"):
        rules.to_utc(dt.datetime(2026, 3, 29, 2, 30), "Europe/Berlin")  # clocks jump 02:00 → 03:00
    first = rules.to_utc(dt.datetime(2026, 10, 25, 2, 30), "Europe/Berlin")  # 02:30 happens twice
    assert first == utc(2026, 10, 25, 0, 30)
    # a session across the spring-forward night lasts one hour less than the wall clocks say
    start = rules.to_utc(dt.datetime(2026, 3, 29, 1, 0), "Europe/Berlin")
    end = rules.to_utc(dt.datetime(2026, 3, 29, 4, 0), "Europe/Berlin")
    assert end - start == dt.timedelta(hours=2)


def test_next_free_start():
    busy = [Interval(utc(2026, 1, 1, 10), utc(2026, 1, 1, 12)), Interval(utc(2026, 1, 1, 13), utc(2026, 1, 1, 14)),
            Interval(utc(2026, 1, 1, 14), utc(2026, 1, 1, 15))]
    two_hours = dt.timedelta(hours=2)
    assert rules.next_free_start(busy, utc(2026, 1, 1, 8), two_hours) == utc(2026, 1, 1, 8)    # fits before
    assert rules.next_free_start(busy, utc(2026, 1, 1, 11), two_hours) == utc(2026, 1, 1, 15)  # 12–13 too short
    assert rules.next_free_start(busy, utc(2026, 1, 1, 11), dt.timedelta(hours=1)) == utc(2026, 1, 1, 12)
    assert rules.next_free_start([], utc(2026, 1, 1, 11), two_hours) == utc(2026, 1, 1, 11)


@pytest.mark.parametrize("change,source,target", [
    ("submit", "DRAFT", "PENDING_APPROVAL"), ("approve", "PENDING_APPROVAL", "APPROVED"),
    ("confirm", "APPROVED", "CONFIRMED"), ("start", "CONFIRMED", "IN_PROGRESS"),
    ("complete", "IN_PROGRESS", "COMPLETED"), ("cancel", "CONFIRMED", "CANCELLED"),
    ("dispute", "COMPLETED", "DISPUTE"), ("resolve", "DISPUTE", "COMPLETED"),
])
def test_allowed_transitions(change, source, target):
    assert rules.transition(change, source).target.value == target


@pytest.mark.parametrize("change,source", [("approve", "DRAFT"), ("complete", "CANCELLED"), ("cancel", "COMPLETED"),
                                           ("start", "PENDING_APPROVAL")])
def test_refused_transitions_say_what_is_possible(change, source):
    with pytest.raises(ValueError, match="cannot"):
        rules.transition(change, source)
    assert rules.transitions_from("CANCELLED") == []


def test_payment_changes():
    assert rules.payment_change("PENDING", "PAID").value == "PAID"
    with pytest.raises(ValueError):
        rules.payment_change("REFUNDED", "PAID")


def _draft(**overrides) -> BookingDraft:
    values = dict(artist_id="artist-1", title="Tracking day", type="RECORDING_SESSION",
                  start_local=dt.datetime(2026, 6, 1, 10), end_local=dt.datetime(2026, 6, 1, 14),
                  timezone="Europe/Berlin", location="Studio A", budget="1200.50", currency="eur")
    values.update(overrides)
    return BookingDraft(**values)


def test_a_valid_draft():
    valid = rules.validate_draft(_draft())
    assert (valid.start, valid.end) == (utc(2026, 6, 1, 8), utc(2026, 6, 1, 12))
    assert valid.currency == "EUR" and valid.budget == decimal.Decimal("1200.50") and valid.duration_minutes == 240


def test_every_invalid_field_is_named_at_once():
    with pytest.raises(BookingError) as caught:
        rules.validate_draft(_draft(title=" ", type="KARAOKE", end_local=dt.datetime(2026, 6, 1, 9),
                                    currency="EURO", budget="12.345", location=None, timezone="Mars/Base"))
    errors = caught.value.errors
    assert set(errors) == {"title", "type", "currency", "budget", "location", "timezone"}
    with pytest.raises(BookingError) as caught:
        rules.validate_draft(_draft(end_local=dt.datetime(2026, 6, 1, 9)))
    assert caught.value.errors == {"end": "the end must be after the start"}


@pytest.mark.parametrize("plan,active,message", [
    ("FREE", 5, "the FREE plan allows 5 active artists and you have 5; the STUDIO_PRO plan allows 25"),
    ("STUDIO_PRO", 25, "the LABEL_ENTERPRISE plan allows 100"),
    ("LABEL_ENTERPRISE", 100, "the WHITE_LABEL plan allows as many as you need"),
])
def test_plan_limits_name_the_plan_that_allows_more(plan, active, message):
    rules.check_artist_limit(plan, active - 1)
    with pytest.raises(ValueError, match=message):
        rules.check_artist_limit(plan, active)


def test_white_label_limit_comes_from_settings():
    rules.check_artist_limit("WHITE_LABEL", 10_000)
    with pytest.raises(ValueError):
        rules.check_artist_limit("WHITE_LABEL", 3, settings={"artist_limit": 3})
    assert rules.artist_limit("CUSTOM", {"artist_limit": "40"}) == 40
    assert rules.artist_limit("CUSTOM", {"artist_limit": True}) is None  # not a number
