"""API rate limits: token buckets per tenant and per key, shared by every API process.

The arithmetic is pure (:func:`refill`, :func:`decide`); the buckets live in the operational
database (``api_rate_buckets``), read and written in one transaction that locks them, so limits
hold across worker processes. On PostgreSQL that transaction is one statement sent with its
``BEGIN``/``COMMIT`` in a single round trip (psycopg pipeline): the rows stay locked only while the
server runs it, and its commit does not wait for the WAL flush (``synchronous_commit = off`` for
this transaction only: a crash may forget the last fraction of a second of bucket levels, which
only ever hands back a few requests). Limits come from the organization's plan; an organization's
settings may raise or lower them (``api_requests_per_minute``, for custom contracts).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Mapping

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from operational.enums import Plan
from operational.models import ApiRateBucket
from operational.repository import TenantRepository

REQUESTS_PER_MINUTE: Mapping[str, int] = {
    Plan.FREE: 60,
    Plan.STUDIO_PRO: 600,
    Plan.LABEL_ENTERPRISE: 6_000,
    Plan.WHITE_LABEL: 6_000,
    Plan.CUSTOM: 60_000,
}
"""Sustained requests a minute for a whole tenant, by plan; each key gets the same limit, so one
key can use the tenant's whole budget but several keys share it."""
BURST_SECONDS = 10  # a bucket holds this many seconds of the sustained rate (at least 10 requests)
SETTING = "api_requests_per_minute"


@dataclass(frozen=True)
class Limit:
    bucket: str
    capacity: float
    per_second: float

    @property
    def per_minute(self) -> int:
        return round(self.per_second * 60)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: Limit              # the most constraining bucket
    remaining: int            # whole requests left in it after this one
    retry_after: float        # seconds until one request is possible again (0 when allowed)
    reset_after: float        # seconds until that bucket is full again


def limit_for(plan: str, settings: Mapping | None = None) -> int:
    """Requests a minute for a tenant on ``plan`` (its settings may say otherwise)."""
    override = (settings or {}).get(SETTING)
    if isinstance(override, int) and not isinstance(override, bool) and override > 0:
        return override
    return REQUESTS_PER_MINUTE.get(str(plan), REQUESTS_PER_MINUTE[Plan.FREE])


def limits_for(tenant_id: str, key_id: str | None, per_minute: int) -> list[Limit]:
    per_second = per_minute / 60
    capacity = max(10.0, per_second * BURST_SECONDS)
    limits = [Limit(f"tenant:{tenant_id}", capacity, per_second)]
    if key_id:
        limits.append(Limit(f"key:{key_id}", capacity, per_second))
    return limits


def refill(tokens: float, refilled_at: float, now: float, limit: Limit) -> float:
    """Tokens in the bucket at ``now`` (never above its capacity; a clock going back adds none)."""
    return min(limit.capacity, tokens + max(0.0, now - refilled_at) * limit.per_second)


def decide(levels: Mapping[str, float], limits: list[Limit]) -> Decision:
    """Take one token from every bucket, or from none: allowed only if each holds one."""
    allowed = all(levels[limit.bucket] >= 1 for limit in limits)
    after = {limit.bucket: levels[limit.bucket] - (1 if allowed else 0) for limit in limits}
    tightest = min(limits, key=lambda limit: after[limit.bucket] / limit.capacity)
    left = after[tightest.bucket]
    retry = 0.0 if allowed else max((1 - levels[lim.bucket]) / lim.per_second for lim in limits
                                    if levels[lim.bucket] < 1)
    return Decision(allowed=allowed, limit=tightest, remaining=max(0, math.floor(left)),
                    retry_after=retry, reset_after=(tightest.capacity - left) / tightest.per_second)


def take(engine: Engine, tenant_id: str, limits: list[Limit], *, now: float | None = None) -> Decision:
    """Apply :func:`decide` to the stored buckets in one locking transaction."""
    now = time.time() if now is None else now
    limits = sorted(limits, key=lambda limit: limit.bucket)  # one lock order: no deadlock
    if engine.dialect.name == "postgresql":
        levels = _take_postgresql(engine, tenant_id, limits, now)
        if levels is None:  # a bucket did not exist yet: create it, then take
            _create_buckets(engine, tenant_id, limits, now)
            levels = _take_postgresql(engine, tenant_id, limits, now)
        if levels is not None:
            return decide(levels, limits)
    names = [limit.bucket for limit in limits]
    with Session(engine) as session, session.begin():
        TenantRepository(session, tenant_id)  # row-level security scope (PostgreSQL)
        dialect = session.get_bind().dialect.name
        # the first statement writes: SQLite takes its write lock here, PostgreSQL then locks the rows
        insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(ApiRateBucket)
        session.execute(insert.values([{"bucket": limit.bucket, "org_id": tenant_id, "tokens": limit.capacity,
                                        "refilled_at": now} for limit in limits]).on_conflict_do_nothing())
        rows = session.execute(select(ApiRateBucket).where(ApiRateBucket.bucket.in_(names))
                               .order_by(ApiRateBucket.bucket).with_for_update()).scalars().all()
        stored = {row.bucket: row for row in rows}
        levels = {limit.bucket: refill(stored[limit.bucket].tokens, stored[limit.bucket].refilled_at, now, limit)
                  for limit in limits}
        decision = decide(levels, limits)
        for limit in limits:
            row = stored[limit.bucket]
            row.tokens = levels[limit.bucket] - (1 if decision.allowed else 0)
            row.refilled_at = max(now, row.refilled_at)
        return decision


# PostgreSQL: lock, refill, decide and write every bucket in one statement. The decision is the
# one of decide() (all buckets hold a token, or none is taken); the levels it returns feed decide()
# for the headers. A concurrent request waits on the row locks (FOR UPDATE) and then reads the
# newest levels (READ COMMITTED re-reads locked rows).
_TAKE_SQL = """
WITH wanted (bucket, capacity, per_second) AS (
    SELECT * FROM unnest(%(buckets)s::text[], %(capacities)s::float8[], %(rates)s::float8[])
),
locked AS MATERIALIZED (
    SELECT b.bucket, b.tokens, b.refilled_at, w.capacity, w.per_second
    FROM api_rate_buckets b JOIN wanted w ON w.bucket = b.bucket
    ORDER BY b.bucket
    FOR UPDATE OF b
),
levels AS MATERIALIZED (
    SELECT bucket, refilled_at,
           least(capacity, tokens + greatest(0.0, %(now)s::float8 - refilled_at) * per_second) AS level
    FROM locked
),
verdict AS MATERIALIZED (
    SELECT count(*) = %(count)s AND coalesce(bool_and(level >= 1), false) AS allowed FROM levels
)
UPDATE api_rate_buckets b
SET tokens = l.level - CASE WHEN v.allowed THEN 1 ELSE 0 END,
    refilled_at = greatest(%(now)s::float8, l.refilled_at)
FROM levels l CROSS JOIN verdict v
WHERE b.bucket = l.bucket
RETURNING b.bucket, l.level
"""


def _take_postgresql(engine: Engine, tenant_id: str, limits: list[Limit], now: float) -> dict[str, float] | None:
    """The buckets' levels before this request (None when one is missing: nothing was taken)."""
    rows = _run_take(engine, tenant_id, _TAKE_SQL, {
        "buckets": [limit.bucket for limit in limits], "capacities": [limit.capacity for limit in limits],
        "rates": [limit.per_second for limit in limits], "now": now, "count": len(limits)})
    levels = {bucket: level for bucket, level in rows}
    return levels if len(levels) == len(limits) else None


def _run_take(engine: Engine, tenant_id: str, statement: str, params: dict) -> list[tuple]:
    raw = engine.raw_connection()
    try:
        connection = raw.driver_connection
        try:
            with connection.cursor() as scope, connection.cursor() as cursor:
                with connection.pipeline():
                    # BEGIN, the tenant scope (row-level security), the statement, COMMIT: one round trip
                    scope.execute("SELECT set_config('app.tenant_id', %s, true), "
                                  "set_config('synchronous_commit', 'off', true)", (tenant_id,))
                    cursor.execute(statement, params)
                    connection.commit()
                return cursor.fetchall()
        except BaseException:
            raw.invalidate()  # whatever state it is in (aborted, mid-pipeline), it is not reused
            raise
    finally:
        raw.close()


# The same statement for an API key's request whose tenant and key id are known (from an earlier
# lookup of the same secret): the key's row is read in the same transaction, returned with the
# levels, and a token is taken only if the key still works at ``now`` (not revoked, organization
# active, not expired). Nothing is returned when the key's row or a bucket is missing.
_TAKE_FOR_KEY_SQL = _TAKE_SQL.replace("""verdict AS MATERIALIZED (
    SELECT count(*) = %(count)s AND coalesce(bool_and(level >= 1), false) AS allowed FROM levels
)""", """api_key AS MATERIALIZED (
    SELECT key_id, org_id, scopes, expires_at, revoked_at, org_active, org_plan
    FROM auditoryx_api_key_by_hash(%(key_hash)s)
),
verdict AS MATERIALIZED (
    SELECT count(*) = %(count)s AND coalesce(bool_and(level >= 1), false)
           AND EXISTS (SELECT 1 FROM api_key k WHERE k.org_id = %(tenant)s AND k.revoked_at IS NULL
                       AND k.org_active AND (k.expires_at IS NULL OR k.expires_at > to_timestamp(%(now)s::float8)))
           AS allowed
    FROM levels
)""").replace("FROM levels l CROSS JOIN verdict v", "FROM levels l CROSS JOIN verdict v CROSS JOIN api_key k").replace(
    "RETURNING b.bucket, l.level",
    "RETURNING b.bucket, l.level, k.key_id, k.org_id, k.scopes, k.expires_at, k.revoked_at, k.org_active, k.org_plan")
assert "api_key k" in _TAKE_FOR_KEY_SQL and "k.org_plan" in _TAKE_FOR_KEY_SQL


def take_for_key(engine: Engine, tenant_id: str, limits: list[Limit], key_hash: str, *,
                 now: float | None = None) -> tuple[Decision, tuple] | None:
    """PostgreSQL only: :func:`take` and the API key's row (``auditoryx_api_key_by_hash``) in one
    transaction and one round trip. A token is taken only if the key still works; the caller
    checks the row (:func:`operational.api_keys.identity_of_row`) before using the decision.
    None when the key's row or a bucket is missing (use the separate lookup and :func:`take`)."""
    now = time.time() if now is None else now
    limits = sorted(limits, key=lambda limit: limit.bucket)
    rows = _run_take(engine, tenant_id, _TAKE_FOR_KEY_SQL, {
        "buckets": [limit.bucket for limit in limits], "capacities": [limit.capacity for limit in limits],
        "rates": [limit.per_second for limit in limits], "now": now, "count": len(limits), "key_hash": key_hash,
        "tenant": tenant_id})
    levels = {row[0]: row[1] for row in rows}
    if len(levels) != len(limits):
        return None
    return decide(levels, limits), tuple(rows[0][2:])


def _create_buckets(engine: Engine, tenant_id: str, limits: list[Limit], now: float) -> None:
    with Session(engine) as session, session.begin():
        TenantRepository(session, tenant_id)
        session.execute(postgresql.insert(ApiRateBucket).values(
            [{"bucket": limit.bucket, "org_id": tenant_id, "tokens": limit.capacity, "refilled_at": now}
             for limit in limits]).on_conflict_do_nothing())
