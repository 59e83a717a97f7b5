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

import datetime as dt
import json
import math
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass, replace
from typing import Mapping

from sqlalchemy import Engine, event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from operational.api_keys import TOUCH_EVERY
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


# An API key's request whose tenant and key id are known (from an earlier lookup of the same
# secret): ``auditoryx_api_take`` (migration 0009) checks the key, stamps its last use and takes
# the buckets' tokens in one autocommit statement, on a connection of this process kept for it.
# Text in, text out, through libpq directly (prepared once per connection): psycopg's cursor
# layer cost about 0.4 ms of CPU a call, four times the rest of the call on this side. The outer
# SELECT turns times into epoch seconds and arrays into comma-separated text, so reading the
# answer needs no type parsing.
_API_TAKE_NAME = b"auditoryx_api_take_v2"
_API_TAKE_SQL = (b"SELECT key_id, org_id, scopes::text, extract(epoch FROM expires_at)::float8, "
                 b"extract(epoch FROM revoked_at)::float8, org_active, org_plan, "
                 b"usable, taken, array_to_string(buckets, ','), array_to_string(levels, ',') "
                 b"FROM auditoryx_api_take($1::text, $2::text, $3::text[], $4::float8[], $5::float8[], "
                 b"$6::float8, $7::float8, $8::integer)")
TOUCH_EVERY_SECONDS = TOUCH_EVERY.total_seconds()  # last_used_at moves at most this often
DIRECT_CONNECTIONS = 4      # per process and database, for threads: the statement takes well under a millisecond
ASYNC_CONNECTIONS = 8       # …and for the event loop, where a connection stays taken until the loop gets back
                            # to the request that sent the statement (the loop serves every other request meanwhile)


def _text_array(values) -> bytes:
    return ("{" + ",".join('"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
                           for value in values) + "}").encode("utf-8")


def _epoch(value: bytes | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromtimestamp(float(value), dt.timezone.utc)


LEASE_SECONDS = 0.1      # a lease holds about this long of the process's recent requests…
LEASE_MAX_SHARE = 0.02   # …and never more than this share of the smallest bucket (at least one token)
LEASE_TTL_SECONDS = 0.5  # leased tokens not used by then are dropped (never handed back)
RATE_WINDOW_SECONDS = 0.2


@dataclass
class _Lease:
    """Tokens this process took from a key's shared buckets ahead of its requests."""

    left: int = 0
    levels: dict[str, float] | None = None  # the buckets' levels before the lease was taken
    used: int = 0                           # tokens of the lease already handed out
    expires: float = 0.0
    window_start: float = 0.0
    window_count: int = 0
    rate: float = 0.0                       # this process's recent requests a second on these buckets
    refilling_until: float = 0.0            # a call is taking a new lease (until then at the latest)


def lease_size(rate: float, limits: list[Limit]) -> int:
    """How many tokens to take at once for a process asking ``rate`` times a second. Pure. One at
    low rates (the exact, token-per-request behaviour); at high rates about LEASE_SECONDS of them,
    at most LEASE_MAX_SHARE of the smallest bucket, so the tokens one process holds ahead can
    refuse another process only within that share."""
    cap = max(1, math.floor(min(limit.capacity for limit in limits) * LEASE_MAX_SHARE))
    return max(1, min(cap, math.ceil(rate * LEASE_SECONDS)))


def take_for_key(engine: Engine, tenant_id: str, limits: list[Limit], key_hash: str, *,
                 now: float | None = None) -> tuple[Decision | None, tuple] | None:
    """PostgreSQL only: the API key of ``key_hash`` checked and its last use stamped (at most once
    a minute) on every call, and one token taken from each of ``limits``' buckets, in one
    statement and one round trip (``auditoryx_api_take``).

    At high request rates the tokens come from a lease: the statement takes several at once
    (:func:`lease_size`) and the next calls of this process hand them out, sending the key's
    check alone. The buckets stay the only source of tokens for every process, so a limit still
    holds across processes (a lease can only make a process refuse a little early, never admit
    more); a lease lasts LEASE_TTL_SECONDS at most.

    Returns ``(decision, key_row)`` with the key's row as :func:`operational.api_keys.identity_of_row`
    takes it, which the caller checks before using the decision; a key that no longer works took
    no token (``decision`` is then None). None when the key is unknown or belongs to another
    tenant (use the separate lookup and :func:`take`)."""
    state = _take_start(engine, tenant_id, limits, key_hash, now)
    try:
        result = _take_finish(state, state.direct.run(_API_TAKE_NAME, _API_TAKE_SQL, state.params))
    finally:
        _take_done(state)
    if result is _TAKE_AGAIN:
        state = _take_start(engine, tenant_id, limits, key_hash, state.now, borrow=False)
        try:
            result = _take_finish(state, state.direct.run(_API_TAKE_NAME, _API_TAKE_SQL, state.params))
        finally:
            _take_done(state)
    return result


async def take_for_key_async(engine: Engine, tenant_id: str, limits: list[Limit], key_hash: str, *,
                             now: float | None = None) -> tuple[Decision | None, tuple] | None:
    """:func:`take_for_key` for an event loop: the statement is sent and its answer awaited on the
    loop (libpq's asynchronous calls), without a thread."""
    state = _take_start(engine, tenant_id, limits, key_hash, now)
    try:
        result = _take_finish(state, await state.direct.run_async(_API_TAKE_NAME, _API_TAKE_SQL, state.params))
    finally:
        _take_done(state)
    if result is _TAKE_AGAIN:
        state = _take_start(engine, tenant_id, limits, key_hash, state.now, borrow=False)
        try:
            result = _take_finish(state, await state.direct.run_async(_API_TAKE_NAME, _API_TAKE_SQL, state.params))
        finally:
            _take_done(state)
    return result


@dataclass
class _Take:
    direct: "DirectConnections"
    names: tuple[str, ...]
    limits: list[Limit]
    lease: _Lease
    local: dict[str, float] | None  # the levels to decide on, when the token comes from the lease
    now: float
    params: list[bytes]
    refills: bool   # this call takes a new lease
    borrows: bool   # another call is taking one: check the key only, then use that lease if it came


_TAKE_AGAIN = object()


def _take_start(engine: Engine, tenant_id: str, limits: list[Limit], key_hash: str, now: float | None, *,
                borrow: bool = True) -> _Take:
    now = time.time() if now is None else now
    limits = sorted(limits, key=lambda limit: limit.bucket)
    names = tuple(limit.bucket for limit in limits)
    if any("," in name for name in names):
        raise ValueError("a bucket name has no comma")
    direct = direct_connections(engine)
    with direct.lock:
        lease = direct.leases.get(names)
        if lease is None:
            lease = direct.leases[names] = _Lease(window_start=now)
        lease.window_count += 1
        if now - lease.window_start >= RATE_WINDOW_SECONDS:
            lease.rate = lease.window_count / (now - lease.window_start)
            lease.window_start, lease.window_count = now, 0
        local, refills, borrows = _from_lease(lease, now), False, False
        if local is not None:
            want = 0
        elif borrow and lease.refilling_until > now:  # one call at a time takes a lease
            want, borrows = 0, True
        else:
            want, refills = lease_size(lease.rate, limits), True
            lease.refilling_until = now + LEASE_TTL_SECONDS
    params = [key_hash.encode("ascii"), tenant_id.encode("utf-8"), _text_array(names),
              _text_array(repr(float(limit.capacity)) for limit in limits),
              _text_array(repr(float(limit.per_second)) for limit in limits), repr(float(now)).encode("ascii"),
              repr(TOUCH_EVERY_SECONDS).encode("ascii"), str(want).encode("ascii")]
    return _Take(direct, names, limits, lease, local, now, params, refills, borrows)


def _from_lease(lease: _Lease, now: float) -> dict[str, float] | None:
    """Under the lock: one token of the lease (the levels to decide on), or None when it is empty."""
    if lease.left > 0 and now < lease.expires:
        lease.left -= 1
        lease.used += 1
        return {name: level - (lease.used - 1) for name, level in lease.levels.items()}
    lease.left = 0
    return None


def _take_done(state: _Take) -> None:
    if state.refills:
        with state.direct.lock:
            state.lease.refilling_until = 0.0


def _take_finish(state: _Take, rows: list[tuple]) -> tuple[Decision | None, tuple] | None:
    direct, names, limits = state.direct, state.names, state.limits
    if not rows:
        with direct.lock:
            direct.leases.pop(names, None)
        return None
    key_id, org_id, scopes, expires_at, revoked_at, org_active, plan, usable, taken, buckets, levels = rows[0]
    key_row = (key_id.decode("utf-8"), org_id.decode("utf-8"), json.loads(scopes) if scopes is not None else None,
               _epoch(expires_at), _epoch(revoked_at), org_active == b"t", plan.decode("utf-8"))
    if usable != b"t":  # the key no longer works: nothing was taken, and the lease is dropped
        with direct.lock:
            direct.leases.pop(names, None)
        return None, key_row
    if state.local is not None:
        return decide(state.local, limits), key_row
    if state.borrows:  # the key works; a token from the lease just taken, or take one after all
        with direct.lock:
            local = _from_lease(state.lease, state.now)
        return (decide(local, limits), key_row) if local is not None else _TAKE_AGAIN
    levels = dict(zip(buckets.decode("utf-8").split(","), map(float, levels.split(b","))))
    if len(levels) != len(limits) or any(name not in levels for name in names):
        raise RuntimeError("auditoryx_api_take did not return every bucket")
    taken = int(taken)
    if taken > 1:
        with direct.lock:  # the rest for the next calls (tokens of an older lease still left are dropped)
            lease = state.lease
            lease.left, lease.levels, lease.used, lease.expires = taken - 1, levels, 1, state.now + LEASE_TTL_SECONDS
    decision = decide(levels, limits)
    if decision.allowed and taken < 1:  # cannot happen (the same levels, the same rule): refuse
        decision = replace(decision, allowed=False, retry_after=max(1 / limit.per_second for limit in limits))
    return decision, key_row


class DirectConnections:
    """A few psycopg connections of this process for the API's per-request statement, used through
    libpq (``PQprepare`` once per connection, then ``PQexecPrepared``; text parameters and
    results), outside any transaction (a single statement is its own), without a ping before each
    use (a connection found broken is dropped and the statement sent once more on a new one).
    At most ``size`` are open; more callers wait for one."""

    def __init__(self, conninfo: str, size: int = DIRECT_CONNECTIONS, async_size: int | None = None) -> None:
        self._conninfo = conninfo
        self._idle: list = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(size)
        self._closed = False
        self.lock = threading.Lock()  # guards leases
        self.leases: dict[tuple[str, ...], _Lease] = {}
        self._async_size = ASYNC_CONNECTIONS if async_size is None else async_size
        self._async_idle: list = []   # connections for event loops (run_async), apart from the threads'
        self._async_open = 0
        self._async_waiters: deque = deque()

    def run(self, name: bytes, statement: bytes, params: list[bytes | None]) -> list[tuple]:
        """The rows (tuples of bytes or None) of the prepared ``statement`` run with ``params``."""
        import psycopg

        with self._slots:
            for attempt in range(2):
                connection, prepared, reused = self._get()
                try:
                    rows = _run_prepared(connection.pgconn, prepared, name, statement, params)
                except psycopg.OperationalError:
                    connection.close()
                    if reused and attempt == 0:  # closed by the server while idle (restart, timeout)
                        continue
                    raise
                except BaseException:
                    connection.close()
                    raise
                self._put(connection, prepared)
                return rows
        raise AssertionError("unreachable")

    def _get(self):
        import psycopg

        with self._lock:
            while self._idle:
                connection, prepared = self._idle.pop()
                if not connection.closed:
                    return connection, prepared, True
        return psycopg.connect(self._conninfo, autocommit=True), set(), False

    def _put(self, connection, prepared: set) -> None:
        with self._lock:
            if not self._closed:
                self._idle.append((connection, prepared))
                return
        connection.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle + self._async_idle, []
            self._async_idle = []
        for connection, _prepared in idle:
            connection.close()

    async def run_async(self, name: bytes, statement: bytes, params: list[bytes | None]) -> list[tuple]:
        """:meth:`run` on the running event loop: sent, then awaited until the socket is readable."""
        import psycopg

        for attempt in range(2):
            connection, prepared, reused = await self._get_async()
            try:
                rows = await _run_prepared_async(connection.pgconn, prepared, name, statement, params)
            except psycopg.OperationalError:
                self._drop_async(connection)
                if reused and attempt == 0:  # closed by the server while idle (restart, timeout)
                    continue
                raise
            except BaseException:  # including a cancelled request: the connection's state is unknown
                self._drop_async(connection)
                raise
            self._put_async(connection, prepared)
            return rows
        raise AssertionError("unreachable")

    async def _get_async(self):
        """An idle connection, a new one, or (at the limit) the next one given back, first come
        first served: a connection given back goes straight to the longest waiter."""
        import asyncio

        import psycopg

        with self._lock:
            waiter = None
            if not self._async_waiters:
                while self._async_idle:
                    connection, prepared = self._async_idle.pop()
                    if not connection.closed:
                        return connection, prepared, True
                    self._async_open -= 1
            if self._async_open < self._async_size and not self._async_waiters:
                self._async_open += 1
            else:
                waiter = asyncio.get_running_loop().create_future()
                self._async_waiters.append(waiter)
        if waiter is not None:
            try:
                handed = await waiter
            except BaseException:  # cancelled: pass on what it may have been handed meanwhile
                if waiter.done() and not waiter.cancelled():
                    self._give_back(waiter.result())
                raise
            if handed is not None and not handed[0].closed:
                return handed[0], handed[1], True
            if handed is not None:  # broken while idle: its place is this caller's
                handed[0].close()
        try:  # a new connection (rare): connecting blocks, so in a thread
            connection = await asyncio.to_thread(psycopg.connect, self._conninfo, autocommit=True)
        except BaseException:
            self._give_back(None)
            raise
        return connection, set(), False

    def _put_async(self, connection, prepared: set) -> None:
        self._give_back((connection, prepared))

    def _drop_async(self, connection) -> None:
        if connection is not None:
            connection.close()
        self._give_back(None)

    def _give_back(self, handed) -> None:
        """A connection back (``(connection, prepared)``), or its place (None: it was closed): to
        the longest waiter still waiting, else to the idle list."""
        import asyncio

        with self._lock:
            while self._async_waiters:
                waiter = self._async_waiters.popleft()
                if waiter.done():
                    continue
                if waiter.get_loop() is asyncio._get_running_loop():
                    waiter.set_result(handed)
                else:
                    waiter.get_loop().call_soon_threadsafe(self._hand_over, waiter, handed)
                return
            if handed is None or self._closed:
                self._async_open -= 1
            else:
                self._async_idle.append(handed)
                return
        if handed is not None:
            handed[0].close()

    def _hand_over(self, waiter, handed) -> None:
        if waiter.done():
            self._give_back(handed)
        else:
            waiter.set_result(handed)


def _run_prepared(pgconn, prepared: set, name: bytes, statement: bytes, params: list[bytes | None]) -> list[tuple]:
    from psycopg import pq

    if name not in prepared:
        _check(pgconn, pgconn.prepare(name, statement), pq.ExecStatus.COMMAND_OK)
        prepared.add(name)
    result = pgconn.exec_prepared(name, params)
    _check(pgconn, result, pq.ExecStatus.TUPLES_OK)
    columns = range(result.nfields)
    return [tuple(result.get_value(row, column) for column in columns) for row in range(result.ntuples)]


async def _run_prepared_async(pgconn, prepared: set, name: bytes, statement: bytes,
                              params: list[bytes | None]) -> list[tuple]:
    from psycopg import pq

    if name not in prepared:
        pgconn.send_prepare(name, statement)
        _check(pgconn, await _result(pgconn), pq.ExecStatus.COMMAND_OK)
        prepared.add(name)
    pgconn.send_query_prepared(name, params)
    result = await _result(pgconn)
    _check(pgconn, result, pq.ExecStatus.TUPLES_OK)
    columns = range(result.nfields)
    return [tuple(result.get_value(row, column) for column in columns) for row in range(result.ntuples)]


async def _result(pgconn):
    """The result of the statement just sent (libpq's asynchronous protocol: read what the socket
    holds; wait on the loop until it is readable while libpq is still busy; then every result
    up to the end of the statement, of which there is one here)."""
    import asyncio

    from psycopg import pq

    loop = asyncio.get_running_loop()
    results = []
    while True:
        pgconn.consume_input()
        while not pgconn.is_busy():
            result = pgconn.get_result()
            if result is None:
                if not results:
                    raise AssertionError("no result")
                failed = [r for r in results if r.status == pq.ExecStatus.FATAL_ERROR]
                return failed[0] if failed else results[-1]
            results.append(result)
        waiter = loop.create_future()
        fd = pgconn.socket
        loop.add_reader(fd, _set_done, waiter)
        try:
            await waiter
        finally:
            loop.remove_reader(fd)


def _set_done(waiter) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _check(pgconn, result, expected) -> None:
    import psycopg
    from psycopg import pq

    if result.status == expected:
        return
    message = (result.error_message or pgconn.error_message or b"").decode("utf-8", "replace").strip()
    state = result.error_field(pq.DiagnosticField.SQLSTATE)
    if pgconn.status == pq.ConnStatus.BAD:
        raise psycopg.OperationalError(message or "the connection is broken")
    raise psycopg.DatabaseError(f"{message} (SQLSTATE {state.decode() if state else '?'})")


_DIRECT: "weakref.WeakKeyDictionary[Engine, DirectConnections]" = weakref.WeakKeyDictionary()
_DIRECT_LOCK = threading.Lock()


def direct_connections(engine: Engine) -> DirectConnections:
    """The engine's :class:`DirectConnections` in this process (closed with ``engine.dispose()``)."""
    found = _DIRECT.get(engine)
    if found is not None:
        return found
    with _DIRECT_LOCK:
        found = _DIRECT.get(engine)
        if found is None:
            conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            found = _DIRECT[engine] = DirectConnections(conninfo)
            event.listen(engine, "engine_disposed", _forget_direct)
    return found


def _forget_direct(engine: Engine) -> None:
    with _DIRECT_LOCK:
        found = _DIRECT.pop(engine, None)
    if found is not None:
        found.close()


def _create_buckets(engine: Engine, tenant_id: str, limits: list[Limit], now: float) -> None:
    with Session(engine) as session, session.begin():
        TenantRepository(session, tenant_id)
        session.execute(postgresql.insert(ApiRateBucket).values(
            [{"bucket": limit.bucket, "org_id": tenant_id, "tokens": limit.capacity, "refilled_at": now}
             for limit in limits]).on_conflict_do_nothing())
