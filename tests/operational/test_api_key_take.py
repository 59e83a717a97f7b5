"""PostgreSQL: an API key's check, last-use stamp and rate-limit take in one statement
(``rate_limits.take_for_key`` through ``auditoryx_api_take``, migration 0009), as the row-level
security login the API runs as, on the process's own connections (``DirectConnections``)."""
from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from operational import rate_limits
from operational.api_keys import create_key, identity_of_row, key_hash, revoke_key
from operational.db import create_schema, ensure_app_login, make_engine
from operational.models import ApiKey, ApiRateBucket, Organization
from operational.permissions import command_line_operator

APP_LOGIN = "auditoryx_api_take_test"


@pytest.fixture
def world(pg_url):
    owner = make_engine(pg_url)
    create_schema(owner)
    with Session(owner) as session, session.begin():
        orgs = [Organization(name=f"Org {slug}", slug=slug, type="RECORD_LABEL", plan="FREE")
                for slug in ("take-a", "take-b")]
        session.add_all(orgs)
        session.flush()
        tenant_a, tenant_b = (org.id for org in orgs)
    app_url = make_url(pg_url).set(username=APP_LOGIN, password=None).render_as_string(hide_password=False)
    ensure_app_login(owner, app_url)
    app = make_engine(app_url)
    yield owner, app, tenant_a, tenant_b
    app.dispose()
    owner.dispose()


def _key(owner, tenant_id: str) -> tuple[str, str]:
    summary, secret = create_key(owner, command_line_operator(tenant_id), name="take", scopes=["analytics:read"])
    return summary.id, secret


def _limits(tenant_id: str, key_id: str, per_minute: int = 6) -> list[rate_limits.Limit]:
    return rate_limits.limits_for(tenant_id, f"api_key:{key_id}", per_minute)  # buckets of 10


def _tokens(owner, bucket: str) -> float | None:
    with Session(owner) as session:
        return session.scalar(select(ApiRateBucket.tokens).where(ApiRateBucket.bucket == bucket))


def test_a_working_key_takes_one_token_from_each_bucket_until_the_limit(world):
    owner, app, tenant_a, _ = world
    key_id, secret = _key(owner, tenant_a)
    limits = _limits(tenant_a, key_id)
    now = time.time()
    decisions = []
    for i in range(11):
        decision, row = rate_limits.take_for_key(app, tenant_a, limits, key_hash(secret), now=now + i * 0.001)
        identity = identity_of_row(row)
        assert (identity.key_id, identity.tenant_id, identity.scopes) == (key_id, tenant_a, ("analytics:read",))
        decisions.append(decision)
    assert [d.allowed for d in decisions] == [True] * 10 + [False]  # the buckets were created full (10)
    assert decisions[9].remaining == 0 and decisions[10].retry_after > 0
    for limit in limits:  # the refused request took nothing: 10 taken, a few ms of refill at 0.1/s
        assert _tokens(owner, limit.bucket) == pytest.approx(0.0, abs=0.01)
    later, _row = rate_limits.take_for_key(app, tenant_a, limits, key_hash(secret), now=now + 11)
    assert later.allowed  # 11 s at 0.1 token/s: one token again


def test_two_processes_share_the_buckets(world):
    """Two engines (as two worker processes) with their own connections: 10 requests in all."""
    owner, app, tenant_a, _ = world
    key_id, secret = _key(owner, tenant_a)
    other = make_engine(app.url.render_as_string(hide_password=False))
    try:
        limits, now = _limits(tenant_a, key_id), time.time()
        allowed = [rate_limits.take_for_key(engine, tenant_a, limits, key_hash(secret), now=now)[0].allowed
                   for engine in [app, other] * 6]
        assert allowed == [True] * 10 + [False] * 2
    finally:
        other.dispose()


def test_a_revoked_key_is_refused_at_once_and_takes_nothing(world):
    owner, app, tenant_a, _ = world
    key_id, secret = _key(owner, tenant_a)
    limits = _limits(tenant_a, key_id)
    assert rate_limits.take_for_key(app, tenant_a, limits, key_hash(secret))[0].allowed
    before = {limit.bucket: _tokens(owner, limit.bucket) for limit in limits}
    revoke_key(owner, command_line_operator(tenant_a), key_id)
    decision, row = rate_limits.take_for_key(app, tenant_a, limits, key_hash(secret))
    assert decision is None and row[4] is not None  # revoked_at
    assert {limit.bucket: _tokens(owner, limit.bucket) for limit in limits} == before


def test_an_expired_key_or_inactive_organization_takes_nothing(world):
    owner, app, tenant_a, _ = world
    key_id, secret = _key(owner, tenant_a)
    limits = _limits(tenant_a, key_id)
    with Session(owner) as session, session.begin():
        session.get(ApiKey, key_id).expires_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    assert rate_limits.take_for_key(app, tenant_a, limits, key_hash(secret))[0] is None
    with Session(owner) as session, session.begin():
        session.get(ApiKey, key_id).expires_at = None
        session.get(Organization, tenant_a).is_active = False
    decision, row = rate_limits.take_for_key(app, tenant_a, limits, key_hash(secret))
    assert decision is None and row[5] is False  # org_active
    assert all(_tokens(owner, limit.bucket) is None for limit in limits)  # no bucket was even created


def test_unknown_key_or_another_tenants_key_returns_nothing(world):
    owner, app, tenant_a, tenant_b = world
    key_id, secret = _key(owner, tenant_a)
    assert rate_limits.take_for_key(app, tenant_a, _limits(tenant_a, key_id), key_hash(secret + "x")) is None
    # the key's tenant is A: asked as B (a forged pairing), nothing is read or taken
    assert rate_limits.take_for_key(app, tenant_b, _limits(tenant_b, key_id), key_hash(secret)) is None
    with Session(owner) as session:
        assert session.scalar(select(ApiRateBucket).where(ApiRateBucket.org_id == tenant_b)) is None


def test_last_use_is_stamped_at_most_once_a_minute(world):
    owner, app, tenant_a, _ = world
    key_id, secret = _key(owner, tenant_a)
    limits = _limits(tenant_a, key_id, per_minute=600)

    def last_used():
        with Session(owner) as session:
            return session.scalar(select(ApiKey.last_used_at).where(ApiKey.id == key_id))

    assert last_used() is None
    now = time.time()
    rate_limits.take_for_key(app, tenant_a, limits, key_hash(secret), now=now)
    first = last_used()
    assert first is not None and abs(first.timestamp() - now) < 0.001
    rate_limits.take_for_key(app, tenant_a, limits, key_hash(secret), now=now + 30)
    assert last_used() == first
    rate_limits.take_for_key(app, tenant_a, limits, key_hash(secret), now=now + 61)
    assert abs(last_used().timestamp() - (now + 61)) < 0.001


def test_a_connection_closed_by_the_server_is_replaced(world):
    owner, app, tenant_a, _ = world
    key_id, secret = _key(owner, tenant_a)
    limits = _limits(tenant_a, key_id, per_minute=600)
    assert rate_limits.take_for_key(app, tenant_a, limits, key_hash(secret))[0].allowed
    with owner.connect() as conn:
        killed = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                   "WHERE usename = :login AND datname = current_database()"),
                              {"login": APP_LOGIN}).scalar_one()
    assert killed >= 1
    assert rate_limits.take_for_key(app, tenant_a, limits, key_hash(secret))[0].allowed


def test_disposing_the_engine_closes_its_direct_connections(world):
    owner, app, tenant_a, _ = world
    key_id, secret = _key(owner, tenant_a)
    engine = make_engine(app.url.render_as_string(hide_password=False))
    rate_limits.take_for_key(engine, tenant_a, _limits(tenant_a, key_id), key_hash(secret))

    def sessions() -> int:
        with owner.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE usename = :login "
                                     "AND datname = current_database() AND pid <> pg_backend_pid()"),
                                {"login": APP_LOGIN}).scalar_one()

    assert sessions() >= 1
    app.dispose()  # the fixture's engine made none on its own here
    engine.dispose()
    deadline = time.time() + 5
    while sessions() and time.time() < deadline:
        time.sleep(0.05)
    assert sessions() == 0


def test_lease_size_is_one_at_low_rates_and_bounded_by_the_bucket():
    small = rate_limits.limits_for("t", "api_key:k", 60)         # 1 a second, buckets of 10
    large = rate_limits.limits_for("t", "api_key:k", 6_000_000)  # buckets of 1,000,000
    assert rate_limits.lease_size(0.0, large) == 1
    assert rate_limits.lease_size(5.0, large) == 1              # half a request in LEASE_SECONDS (0.1 s)
    assert rate_limits.lease_size(1000.0, large) == 100
    assert rate_limits.lease_size(1000.0, small) == 1           # 2 % of 10 tokens: below one
    medium = rate_limits.limits_for("t", "api_key:k", 600)      # buckets of 100: at most 2 ahead
    assert rate_limits.lease_size(1000.0, medium) == 2


def _leased_calls(engine, tenant_id, limits, secret, start: float, calls: int, step: float):
    return [rate_limits.take_for_key(engine, tenant_id, limits, key_hash(secret), now=start + i * step)[0]
            for i in range(calls)]


def test_at_high_rates_tokens_are_leased_and_the_database_is_charged_ahead(world):
    owner, app, tenant_a, _ = world
    key_id, secret = _key(owner, tenant_a)
    limits = _limits(tenant_a, key_id, per_minute=600_000)  # buckets of 100,000; a lease of up to 2,000
    start, step, calls = time.time(), 0.001, 400            # 1,000 requests a second
    assert rate_limits.take_for_key(app, tenant_a, limits, key_hash(secret), now=start - 1)[0].allowed
    with Session(owner) as session, session.begin():  # half full: the refill below is not capped
        for row in session.scalars(select(ApiRateBucket).where(ApiRateBucket.org_id == tenant_a)):
            row.tokens, row.refilled_at = 50_000.0, start
    decisions = _leased_calls(app, tenant_a, limits, secret, start, calls, step)
    assert all(d.allowed for d in decisions)
    lease = rate_limits.direct_connections(app).leases[tuple(sorted(limit.bucket for limit in limits))]
    assert lease.rate > 500 and lease.left + lease.used > 1  # tokens were taken ahead
    # every token handed out came from the shared buckets: what they lost (less their refill) is at
    # least what was handed out, and at most that plus one lease of 100
    for limit in limits:
        with Session(owner) as session:
            row = session.get(ApiRateBucket, limit.bucket)
            tokens, refilled = row.tokens, row.refilled_at  # as of the last time a lease was taken
        charged = 50_000.0 + (refilled - start) * limit.per_second - tokens
        assert calls - 0.01 <= charged <= calls + 100 + 0.01, (limit.bucket, charged)


def test_leases_keep_the_limit_across_processes(world):
    """Two engines (two processes), 1,000 requests a second in all on buckets of 100 refilled at
    10 a second: about 100 + 4 admitted in 0.4 s, never more, whatever the leases."""
    owner, app, tenant_a, _ = world
    key_id, secret = _key(owner, tenant_a)
    other = make_engine(app.url.render_as_string(hide_password=False))
    try:
        limits, start, step = _limits(tenant_a, key_id, per_minute=600), time.time(), 0.001
        allowed = 0
        for i in range(400):
            engine = app if i % 2 else other
            decision, _row = rate_limits.take_for_key(engine, tenant_a, limits, key_hash(secret), now=start + i * step)
            allowed += decision.allowed
        refill = 399 * step * limits[0].per_second
        assert 100 - 2 * 2 <= allowed <= 100 + refill + 1e-6, allowed  # each process holds at most 2 ahead
        for limit in limits:
            assert _tokens(owner, limit.bucket) >= -1e-9
    finally:
        other.dispose()


def test_a_revoked_key_is_refused_at_once_even_with_tokens_leased(world):
    owner, app, tenant_a, _ = world
    key_id, secret = _key(owner, tenant_a)
    limits = _limits(tenant_a, key_id, per_minute=600_000)
    start = time.time()
    decisions = _leased_calls(app, tenant_a, limits, secret, start, 300, 0.001)
    assert all(d.allowed for d in decisions)
    lease = rate_limits.direct_connections(app).leases[tuple(sorted(limit.bucket for limit in limits))]
    assert lease.left > 0  # this process holds tokens ahead
    revoke_key(owner, command_line_operator(tenant_a), key_id)
    decision, row = rate_limits.take_for_key(app, tenant_a, limits, key_hash(secret), now=start + 0.3)
    assert decision is None and row[4] is not None
    with pytest.raises(Exception):
        identity_of_row(row)


def test_leased_tokens_expire(world):
    owner, app, tenant_a, _ = world
    key_id, secret = _key(owner, tenant_a)
    limits = _limits(tenant_a, key_id, per_minute=600_000)
    start = time.time()
    _leased_calls(app, tenant_a, limits, secret, start, 300, 0.001)
    names = tuple(sorted(limit.bucket for limit in limits))
    lease = rate_limits.direct_connections(app).leases[names]
    assert lease.left > 0
    before = _tokens(owner, limits[0].bucket)
    later = start + 0.3 + rate_limits.LEASE_TTL_SECONDS + 1
    decision, _row = rate_limits.take_for_key(app, tenant_a, limits, key_hash(secret), now=later)
    assert decision.allowed
    assert _tokens(owner, limits[0].bucket) != before  # the buckets were charged again, not the old lease


def test_the_async_take_on_an_event_loop_shares_the_buckets_and_refuses_a_revoked_key(world):
    """More concurrent callers than connections (they wait for one), each loop its own (as a
    test client's), the same buckets as the threads' calls."""
    import asyncio

    owner, app, tenant_a, _ = world
    key_id, secret = _key(owner, tenant_a)
    limits, now = _limits(tenant_a, key_id), time.time()

    async def many(count: int):
        return await asyncio.gather(*(rate_limits.take_for_key_async(app, tenant_a, limits, key_hash(secret),
                                                                     now=now) for _ in range(count)))

    first = asyncio.run(many(3 * rate_limits.ASYNC_CONNECTIONS))
    assert sum(decision.allowed for decision, _row in first) == 10  # buckets of 10, whoever asks
    assert not rate_limits.take_for_key(app, tenant_a, limits, key_hash(secret), now=now)[0].allowed
    revoke_key(owner, command_line_operator(tenant_a), key_id)
    [(decision, row)] = asyncio.run(many(1))
    assert decision is None and row[4] is not None
    assert asyncio.run(rate_limits.take_for_key_async(app, tenant_a, limits, key_hash(secret + "x"))) is None
    direct = rate_limits.direct_connections(app)
    assert direct._async_open <= rate_limits.ASYNC_CONNECTIONS and not direct._async_waiters


def test_cancelled_callers_lose_no_connection(world):
    """Requests cancelled while waiting for a connection or for the answer (a client gone):
    every connection is given back or closed and counted, and the next callers are served."""
    import asyncio

    owner, app, tenant_a, _ = world
    key_id, secret = _key(owner, tenant_a)
    limits = _limits(tenant_a, key_id, per_minute=600_000)
    direct = rate_limits.direct_connections(app)

    async def scenario():
        tasks = [asyncio.ensure_future(rate_limits.take_for_key_async(app, tenant_a, limits, key_hash(secret)))
                 for _ in range(3 * rate_limits.ASYNC_CONNECTIONS)]
        await asyncio.sleep(0.005)  # some are waiting for an answer, some for a connection
        for task in tasks[::2]:
            task.cancel()
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = asyncio.run(scenario())
    served = [r for r in results if not isinstance(r, BaseException)]
    assert served and all(decision.allowed for decision, _row in served)
    assert all(isinstance(r, (tuple, asyncio.CancelledError)) for r in results)
    assert direct._async_open == len(direct._async_idle) <= rate_limits.ASYNC_CONNECTIONS
    assert all(waiter.done() for waiter in direct._async_waiters)
    async def after():
        return await asyncio.wait_for(asyncio.gather(*(
            rate_limits.take_for_key_async(app, tenant_a, limits, key_hash(secret))
            for _ in range(2 * rate_limits.ASYNC_CONNECTIONS))), timeout=30)

    assert all(decision.allowed for decision, _row in asyncio.run(after()))
