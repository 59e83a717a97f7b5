"""Artist matching (operational/matching.py): the pure score and order with their reasons, then
rank_artists on both backends — availability from blocking bookings only, median hourly prices in
the request currency, tenant isolation (tenant B's perfect canary never shows for tenant A), the
CREATOR's own artist, what each role is shown, and three queries whatever the roster size."""
from __future__ import annotations

import datetime as dt
import decimal
import threading

import pytest
from sqlalchemy import event, update
from sqlalchemy.orm import Session

from operational.booking_rules import Interval
from operational.matching import (
    ArtistProfile,
    InvalidMatchRequest,
    MatchRequest,
    rank_artists,
    rank_matches,
    score_artist,
)
from operational.models import Artist, Booking
from operational.permissions import Actor, PermissionDenied
from operational.repository import TenantRepository
from tests.operational.conftest import CANARY, booking_values

UTC = dt.timezone.utc
D = decimal.Decimal
SLOT = Interval(dt.datetime(2026, 4, 10, 10, tzinfo=UTC), dt.datetime(2026, 4, 10, 13, tzinfo=UTC))
SKILLS = ("Mixing", "mastering", "vocals")


def at(hour: int, minute: int = 0, day: int = 10) -> dt.datetime:
    return dt.datetime(2026, 4, day, hour, minute, tzinfo=UTC)


def profile(name: str, skills=SKILLS, genres=("Jazz",), rating="4.6", hourly="150", **kw) -> ArtistProfile:
    return ArtistProfile(id=f"id-{name}", name=name, skills=tuple(skills), genres=tuple(genres),
                         rating=None if rating is None else D(rating),
                         hourly_price=None if hourly is None else D(hourly),
                         **kw)


def request_(**kw) -> MatchRequest:
    values = dict(slot=SLOT, skills=("mixing", "MASTERING", " vocals "), genres=["jazz"], budget=D("500"),
                  currency="usd")
    values.update(kw)
    return MatchRequest(**values)


# pure scoring

def test_a_perfect_fit_scores_high_with_its_reasons():
    match = score_artist(profile("Ada", skills=("mixing", "Mastering", "VOCALS", "keys")), request_())
    assert match.available and match.artist_id == "id-Ada" and match.name == "Ada"
    assert match.reasons == ("free for this slot", "3 of 3 skills match (mixing, MASTERING, vocals)", "genre: jazz",
                             "rating 4.6", "typical price 450.00 USD, within the budget of 500.00")
    assert match.score == 98  # 45 + 25 + 20 × 4.6/5 + 10
    assert match.typical_price == D("450.00") and match.skills_missing == ()


def test_order_is_available_then_skills_genres_rating_price_then_name():
    candidates = [
        profile("Busy Perfect", rating="5", busy=(Interval(at(12), at(14)),)),
        profile("Two Skills", skills=("mixing", "vocals"), rating="5", hourly="10"),
        profile("No Genre", genres=("rock",), rating="5"),
        profile("Pricey", hourly="300"),                        # 900 for 3 h: far over the budget
        profile("Unrated", rating=None),
        profile("zed"), profile("Abe"),                          # equal: by name, case-insensitively
        profile("Never Priced", hourly=None),
        profile("Low Rated", rating="3.1"),
    ]
    ranked = rank_matches(score_artist(c, request_()) for c in candidates)
    assert [m.name for m in ranked] == ["Abe", "zed", "Never Priced", "Pricey", "Low Rated", "Unrated",
                                        "No Genre", "Two Skills", "Busy Perfect"]
    by_name = {m.name: m for m in ranked}
    assert by_name["Pricey"].reasons[-1] == "typical price 900.00 USD, 400.00 over the budget of 500.00"
    assert by_name["Never Priced"].reasons[-1] == "no completed USD bookings to price from"
    assert by_name["Unrated"].reasons[3] == "no rating yet"
    assert by_name["No Genre"].reasons[2] == "no requested genre (jazz)"
    assert by_name["Two Skills"].reasons[1] == "2 of 3 skills match (mixing, vocals), missing MASTERING"
    assert by_name["Two Skills"].skills_missing == ("MASTERING",)
    busy = by_name["Busy Perfect"]
    assert not busy.available and busy.reasons[0] == "busy 12:00–14:00 UTC"
    # the score weighs the same criteria (it may disagree with the strict order: Pricey vs Low Rated)
    assert by_name["Abe"].score == by_name["zed"].score == 98 > by_name["Never Priced"].score == 93
    assert (by_name["Pricey"].score, by_name["Low Rated"].score, by_name["Busy Perfect"].score) == (90, 92, 100)
    assert all(0 <= m.score <= 100 for m in ranked)


def test_touching_intervals_do_not_make_an_artist_busy_and_long_ones_show_their_dates():
    touching = profile("T", busy=(Interval(at(8), at(10)), Interval(at(13), at(15))))
    assert score_artist(touching, request_()).available
    long = score_artist(profile("L", busy=(Interval(at(20, day=9), at(11)),)), request_())
    assert not long.available and long.reasons[0] == "busy 2026-04-09 20:00–2026-04-10 11:00 UTC"
    hidden = score_artist(profile("H", busy=(Interval(at(9), at(11)),), show_busy_times=False), request_())
    assert hidden.reasons[0] == "busy during this slot"
    inactive = score_artist(profile("I", active=False), request_())
    assert not inactive.available and inactive.reasons[0] == "inactive"


def test_only_the_criteria_asked_for_count():
    bare = MatchRequest(slot=SLOT)  # no skills, no genres, no budget: the rating alone
    match = score_artist(profile("R", rating="4.0"), bare)
    assert match.score == 80 and match.reasons == ("free for this slot", "rating 4.0", "typical price 450.00 USD")
    assert score_artist(profile("N", rating=None, hourly=None), bare).score == 0
    cheap = score_artist(profile("C", hourly="400"), request_(budget=D("0")))   # a zero budget: anything is over
    assert cheap.reasons[-1].startswith("typical price 1,200.00 USD, 1,200.00 over")


def test_a_request_is_checked():
    naive = Interval(dt.datetime(2026, 4, 10, 10), dt.datetime(2026, 4, 10, 12))
    for kwargs, field in [({"slot": naive}, "slot"), ({"slot": Interval(at(12), at(12))}, "slot"),
                          ({"currency": "XYZ"}, "currency"), ({"budget": D("-1")}, "budget"),
                          ({"budget": "12.345"}, "budget"), ({"skills": [f"s{i}" for i in range(31)]}, "skills"),
                          ({"genres": ["x" * 41]}, "genres"), ({"skills": [3]}, "skills")]:
        with pytest.raises(InvalidMatchRequest, match=f"^{field}"):
            request_(**kwargs)
    parsed = request_(skills="mixing, Mixing , ,keys", budget="250.50",
                      slot=Interval(dt.datetime(2026, 4, 10, 12, tzinfo=dt.timezone(dt.timedelta(hours=2))),
                                    at(13)))
    assert parsed.skills == ("mixing", "keys") and parsed.budget == D("250.50") and parsed.slot.start == at(10)


# the database

def add_artist(session, org_id: str, name: str, *, skills=SKILLS, genres=("jazz",), rating="4.5", **kw) -> str:
    artist = Artist(org_id=org_id, name=name, skills=list(skills), genres=list(genres),
                    rating=None if rating is None else D(rating), **kw)
    session.add(artist)
    session.flush()
    return artist.id


def add_booking(session, org_id: str, artist_id: str, start: dt.datetime, end: dt.datetime, status="CONFIRMED",
                price: str | None = None, currency="USD") -> None:
    session.add(Booking(org_id=org_id, **booking_values(
        artist_id, start_date=start, end_date=end, duration_minutes=int((end - start).total_seconds() // 60),
        status=status, final_price=None if price is None else D(price), currency=currency)))


@pytest.fixture
def world(migrated, tenants):
    """Tenant A: free, busy, touching, cancelled/draft-only and priced artists; tenant B: a canary
    that fits every request perfectly and is always free."""
    a, b = tenants
    ids = {}
    with Session(migrated) as session, session.begin():
        for name in ("Free Fay", "Busy Bea", "Pending Pat", "Touching Tom", "Cancelled Cal", "Priced Pia"):
            ids[name] = add_artist(session, a.id, name)
        ids["Gone Gil"] = add_artist(session, a.id, "Gone Gil", is_active=False, rating="5")
        add_booking(session, a.id, ids["Busy Bea"], at(11), at(12, 30))
        add_booking(session, a.id, ids["Pending Pat"], at(9), at(10, 30), status="PENDING_APPROVAL")
        add_booking(session, a.id, ids["Touching Tom"], at(8), at(10))
        add_booking(session, a.id, ids["Touching Tom"], at(13), at(15), status="IN_PROGRESS")
        add_booking(session, a.id, ids["Cancelled Cal"], at(10), at(13), status="CANCELLED")
        add_booking(session, a.id, ids["Cancelled Cal"], at(10), at(13), status="DRAFT")
        add_booking(session, a.id, ids["Cancelled Cal"], at(11), at(12), status="COMPLETED")
        # hourly 100, 150, 200, 250 in USD → median 175 → 525.00 for the 3-hour slot
        for day, hours, price in ((1, 2, "200"), (2, 1, "150"), (3, 4, "800"), (4, 2, "500")):
            add_booking(session, a.id, ids["Priced Pia"], at(10, day=day), at(10 + hours, day=day), "COMPLETED",
                        price)
        add_booking(session, a.id, ids["Priced Pia"], at(10, day=5), at(11, day=5), "COMPLETED", "9000", "EUR")
        add_booking(session, a.id, ids["Priced Pia"], at(10, day=6), at(11, day=6), "CANCELLED", "9000")
        add_booking(session, a.id, ids["Priced Pia"], at(10, day=7), at(11, day=7), "CONFIRMED", "9000")
        ids["canary"] = add_artist(session, b.id, CANARY, skills=SKILLS, genres=("jazz",), rating="5")
        session.execute(update(Artist).where(Artist.id == b.artist_id).values(skills=list(SKILLS), rating=D("5")))
        for day in (1, 2):
            add_booking(session, b.id, ids["canary"], at(10, day=day), at(11, day=day), "COMPLETED", "1")
    return migrated, a, b, ids


def actor(tenant, role="ORG_ADMIN", **kw) -> Actor:
    return Actor.of(user_id=tenant.user_id, tenant_id=tenant.id, role=role, **kw)


def test_busy_artists_rank_after_free_ones_and_only_blocking_bookings_count(world):
    engine, a, _, ids = world
    ranked = rank_artists(engine, actor(a), request_(budget=None), limit=50)
    names = [m.name for m in ranked]
    assert names[-2:] == ["Busy Bea", "Pending Pat"]  # busy last, among them by name
    assert set(names) == {"Free Fay", "Busy Bea", "Pending Pat", "Touching Tom", "Cancelled Cal", "Priced Pia",
                          "Alpha Artist"}  # active only: not Gone Gil
    by_name = {m.name: m for m in ranked}
    assert by_name["Touching Tom"].available and by_name["Cancelled Cal"].available
    assert by_name["Busy Bea"].reasons[0] == "busy 11:00–12:30 UTC"
    assert by_name["Pending Pat"].reasons[0] == "busy 09:00–10:30 UTC"
    assert names[-3] == "Alpha Artist"  # no skills: after every free artist that has them


def test_typical_price_is_the_median_hourly_price_in_the_request_currency(world):
    engine, a, _, ids = world
    ranked = rank_artists(engine, actor(a), request_(budget=D("500")), limit=50)
    pia = next(m for m in ranked if m.name == "Priced Pia")
    assert pia.typical_price == D("525.00")
    assert "typical price 525.00 USD, 25.00 over the budget of 500.00" in pia.reasons
    # 5 % over the budget fits better than no price history at all
    assert [m.name for m in ranked][:5] == ["Priced Pia", "Cancelled Cal", "Free Fay", "Touching Tom", "Alpha Artist"]
    in_eur = rank_artists(engine, actor(a), request_(currency="EUR", budget=D("50000")), limit=50)
    assert next(m for m in in_eur if m.name == "Priced Pia").typical_price == D("27000.00")
    in_gbp = rank_artists(engine, actor(a), request_(currency="GBP", budget=D("500")), limit=50)
    assert next(m for m in in_gbp if m.name == "Priced Pia").reasons[-1] == "no completed GBP bookings to price from"


def test_another_tenants_perfect_artist_never_appears(world):
    engine, a, b, ids = world
    foreign = {ids["canary"], b.artist_id}
    for kwargs in ({}, {"exclude_artist_ids": sorted(foreign)}, {"exclude_artist_ids": ids["canary"]}):
        ranked = rank_artists(engine, actor(a), request_(), limit=500, **kwargs)
        assert not foreign & {m.artist_id for m in ranked} and CANARY not in {m.name for m in ranked}
        assert len(ranked) == 7
    creator = actor(a, role="CREATOR", artist_ids=foreign)  # a forged link to B's artists
    assert rank_artists(engine, creator, request_()) == []
    excluded = rank_artists(engine, actor(a), request_(), exclude_artist_ids=[ids["Free Fay"], ids["canary"]])
    assert ids["Free Fay"] not in {m.artist_id for m in excluded}
    # B sees its canary, priced from its own bookings only
    canary = rank_artists(engine, actor(b), request_(budget=D("10")))[0]
    assert canary.name == CANARY and canary.typical_price == D("3.00")


def test_a_creator_gets_only_their_own_artist(world):
    engine, a, _, ids = world
    creator = actor(a, role="CREATOR", artist_ids={ids["Busy Bea"]})
    ranked = rank_artists(engine, creator, request_())
    assert [m.name for m in ranked] == ["Busy Bea"] and ranked[0].reasons[0] == "busy 11:00–12:30 UTC"
    assert rank_artists(engine, actor(a, role="CREATOR"), request_()) == []
    assert rank_artists(engine, actor(a, role="CREATOR", artist_ids={ids["Gone Gil"]}), request_()) == []


def test_roles_without_roster_read_are_refused_and_viewers_see_no_bookings_or_prices(world):
    engine, a, _, ids = world
    for role in ("CLIENT", "ACCOUNTANT"):
        with pytest.raises(PermissionDenied):
            rank_artists(engine, actor(a, role=role), request_())
    with pytest.raises(PermissionDenied):
        rank_artists(engine, actor(a, permissions=["!roster:read"]), request_())
    viewer = {m.name: m for m in rank_artists(engine, actor(a, role="VIEWER"), request_(), limit=50)}
    assert viewer["Busy Bea"].reasons[0] == "busy during this slot" and not viewer["Busy Bea"].available
    assert viewer["Priced Pia"].typical_price is None
    assert not any("price" in reason for m in viewer.values() for reason in m.reasons)
    studio = {m.name: m for m in rank_artists(engine, actor(a, role="STUDIO_MANAGER"), request_(), limit=50)}
    assert studio["Priced Pia"].typical_price == D("525.00") and studio["Busy Bea"].reasons[0].startswith("busy 11")


def test_three_queries_whatever_the_roster_size(world):
    engine, a, _, _ = world
    with Session(engine) as session, session.begin():
        for i in range(40):
            artist_id = add_artist(session, a.id, f"Extra {i:02d}")
            add_booking(session, a.id, artist_id, at(9, day=1), at(11, day=1), "COMPLETED", "100")
            add_booking(session, a.id, artist_id, at(11), at(12))
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        if "set_config" not in statement and "SET LOCAL" not in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        ranked = rank_artists(engine, actor(a), request_(), limit=500)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(ranked) == 47
    assert len([s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))]) == 3, statements


def test_rank_artists_runs_under_row_level_security_in_a_callers_session(world):
    """PostgreSQL: as the application role (row-level security applies); SQLite: the same answer."""
    engine, a, _, ids = world
    expected = rank_artists(engine, actor(a), request_(), limit=50)
    with Session(engine) as session:
        TenantRepository(session, a.id, as_app_role=True)
        assert rank_artists(session, actor(a), request_(), limit=50) == expected
    assert expected[0].name == "Priced Pia" and expected[0].typical_price == D("525.00")


def test_limit_and_arguments_are_checked(world):
    engine, a, _, _ = world
    assert len(rank_artists(engine, actor(a), request_(), limit=2)) == 2
    for bad in (0, 501, True):
        with pytest.raises(InvalidMatchRequest, match="limit"):
            rank_artists(engine, actor(a), request_(), limit=bad)


def test_concurrent_rankings_in_threads_agree(world):
    engine, a, _, _ = world
    expected = [m.artist_id for m in rank_artists(engine, actor(a), request_(), limit=50)]
    results, errors = [], []

    def run():
        try:
            results.append([m.artist_id for m in rank_artists(engine, actor(a), request_(), limit=50)])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and results == [expected] * 4
