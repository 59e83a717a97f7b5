"""`GET /api/v1/analytics/dashboard` for the largest tenant under 50 concurrent clients, next to
the same numbers computed by live SQL on PostgreSQL in the same run.

World: a fresh PostgreSQL database (the operational DB) with ``--tenants`` / ``--bookings`` of
generated data, fully refreshed into a temp folder (published snapshots). The API runs as it is
deployed: ``auditoryx api --workers N`` (uvicorn) in a subprocess, connected as a plain login that
is a member of ``auditoryx_app`` (row-level security applies), an ``analytics:read`` key of the
largest tenant. The tenant's plan would cap the load (WHITE_LABEL: 6,000 requests a minute), so
the benchmark sets its organization setting ``api_requests_per_minute`` to 6,000,000.

Live SQL peer: the same KPIs, revenue by month and type and top performers computed straight from
the operational tables by one PostgreSQL statement (definitions of METRICS.md: local dates from
each booking's time zone, FX conversion with the latest rate on or before the service date, exact
NUMERIC rounded per booking), served the same way: the same app (same auth, rate limit, uvicorn
workers) with one extra route, ``GET /bench/live-dashboard``, that runs the statement through a
connection pool as the row-level-security login. Both answers are compared number by number first.

Load: ``--concurrency`` clients, keep-alive, one request in flight each, in one or more client
processes (``--clients``): asyncio + httpx, or a minimal asyncio HTTP/1.1 client ("raw") that costs
the 2-core machine about a tenth of httpx's CPU per request. Closed loop (each client sends again on
its answer: the saturation throughput; by Little's law the mean latency is then concurrency /
throughput) or paced (``raw:1@500``: an open loop at 500 requests a second in all, latency from
each request's scheduled time). After a warm-up, requests completed inside the measured window
count: req/s = completed / window, p50 / p99 of their latencies. Every timing line carries the
load average and the CPU used in the window by the client(s), the server processes and the
benchmark database's PostgreSQL backends.

Before/after in the same run: ``before_app`` serves the same app with the request's hot path as
it was before this benchmark's changes (the key lookup in an ORM session, then the rate-limit take
as an ORM transaction whose commit waits for the WAL flush while the bucket rows stay locked),
copied below; the in-process profile times both versions of each part. ``--previous-workers``
adds ``previous_app``: the hot path of the 17:45 run (the key's row and the buckets in one psycopg
pipeline of BEGIN / tenant scope / UPDATE / COMMIT on a pinged pooled connection, FastAPI's
per-request telemetry look-up on). Now: a key this process has seen is checked, its last use
stamped and its buckets taken by one prepared autocommit statement (``auditoryx_api_take``, through
``rate_limits.take_for_key``) on connections the process keeps for it; a new key is looked up
first (one autocommit statement).

    .venv/bin/python benchmarks/api_dashboard.py --tenants 50 --bookings 200000 --workers 2 \
        --before-workers "" --previous-workers 2 --clients raw:1,raw:1@500 --live-warmup 2 --live-window 10

    .venv/bin/python benchmarks/api_dashboard.py --tenants 50 --bookings 200000      # small
    .venv/bin/python benchmarks/api_dashboard.py                                     # 1,000 / 10M

Targets (issue #15): >= 500 req/s with p99 < 50 ms, and >= 50x the live-SQL throughput.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

AS_OF = dt.date(2026, 6, 30)
PG_ADMIN_URL = os.environ.get("AUDITORYX_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
RATE_OVERRIDE = 6_000_000  # requests a minute: the bucket holds 1M, the load never meets it
TARGET_RPS, TARGET_P99_MS, TARGET_RATIO = 500.0, 50.0, 50.0
DASHBOARD_PATH = "/api/v1/analytics/dashboard"
LIVE_PATH = "/bench/live-dashboard"
FX_SEED = ROOT / "dbt_project" / "seeds" / "fx_rates.csv"
FX_TABLE = "bench_fx_rates"
REVENUE_MONTHS_BACK, REVENUE_MONTHS_AHEAD, TOP_PERFORMERS = 11, 6, 10  # as warehouse/tenant_analytics.py


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')} load {load()}] {message}", flush=True)


# --- the live-SQL peer -----------------------------------------------------------------------------

LIVE_SQL = f"""
WITH org AS (
    SELECT o.id, o.slug, o.name,
           coalesce(nullif(upper(btrim(o.settings ->> 'base_currency')), ''), 'USD') AS base_currency
    FROM organizations o
    WHERE o.id = %(tenant)s
),
b AS MATERIALIZED (
    -- one row per booking: value, local start and service dates (METRICS.md "Per booking")
    SELECT bk.artist_id,
           bk.type::text AS booking_type,
           bk.status::text AS status,
           bk.payment_status::text AS payment_status,
           bk.currency,
           coalesce(bk.final_price, bk.budget) AS value,
           (bk.start_date AT TIME ZONE bk.timezone)::date AS start_local_date,
           (bk.end_date AT TIME ZONE bk.timezone)::date AS service_date
    FROM bookings bk
    WHERE bk.org_id = %(tenant)s
),
pairs AS (
    -- the (currency, service date) pairs that need a conversion (money is only summed for
    -- recognized and pipeline bookings)
    SELECT DISTINCT b.currency, b.service_date
    FROM b CROSS JOIN org
    WHERE b.value IS NOT NULL AND b.currency <> org.base_currency
      AND b.status IN ('COMPLETED', 'APPROVED', 'CONFIRMED', 'IN_PROGRESS')
),
rates AS (
    -- each currency's own latest rate on or before the service date
    SELECT p.currency, p.service_date,
           (SELECT f.usd_per_unit FROM {FX_TABLE} f
            WHERE f.currency = p.currency AND f.rate_date <= p.service_date
            ORDER BY f.rate_date DESC LIMIT 1) AS usd_per_unit,
           (SELECT f.units_per_usd FROM {FX_TABLE} f
            WHERE f.currency = (SELECT base_currency FROM org) AND f.rate_date <= p.service_date
            ORDER BY f.rate_date DESC LIMIT 1) AS units_per_usd
    FROM pairs p
),
v AS MATERIALIZED (
    -- value in the base currency: exact NUMERIC, rounded per booking half away from zero
    SELECT b.*,
           CASE WHEN b.value IS NULL THEN NULL
                WHEN b.currency = org.base_currency THEN b.value
                ELSE round(b.value * r.usd_per_unit * r.units_per_usd, 2)
           END AS value_base
    FROM b CROSS JOIN org
    LEFT JOIN rates r ON r.currency = b.currency AND r.service_date = b.service_date
),
kpis AS (
    SELECT
        coalesce(sum(value_base) FILTER (WHERE status = 'COMPLETED'
            AND service_date BETWEEN %(as_of)s::date - 29 AND %(as_of)s::date), 0)::numeric(18, 2)
            AS recognized_revenue_30d,
        coalesce(sum(value_base) FILTER (WHERE status = 'COMPLETED'
            AND service_date BETWEEN %(as_of)s::date - 59 AND %(as_of)s::date - 30), 0)::numeric(18, 2)
            AS recognized_revenue_prev_30d,
        count(*) FILTER (WHERE status <> 'DRAFT'
            AND start_local_date BETWEEN %(as_of)s::date - 29 AND %(as_of)s::date) AS bookings_30d,
        count(DISTINCT artist_id) FILTER (WHERE status NOT IN ('DRAFT', 'CANCELLED')
            AND start_local_date BETWEEN %(as_of)s::date - 29 AND %(as_of)s::date) AS active_artists_30d,
        coalesce(sum(value_base) FILTER (WHERE status = 'COMPLETED'
            AND payment_status IN ('PENDING', 'PARTIAL')), 0)::numeric(18, 2) AS outstanding_revenue
    FROM v
),
revenue AS (
    SELECT date_trunc('month', service_date)::date AS month, booking_type,
           coalesce(sum(value_base) FILTER (WHERE status = 'COMPLETED'), 0)::numeric(18, 2) AS recognized_revenue,
           coalesce(sum(value_base) FILTER (WHERE status IN ('APPROVED', 'CONFIRMED', 'IN_PROGRESS')), 0)
               ::numeric(18, 2) AS pipeline_revenue,
           coalesce(sum(value_base) FILTER (WHERE status = 'COMPLETED' AND payment_status = 'PAID'), 0)
               ::numeric(18, 2) AS collected_revenue,
           coalesce(sum(value_base) FILTER (WHERE status = 'COMPLETED'
               AND payment_status IN ('PENDING', 'PARTIAL')), 0)::numeric(18, 2) AS outstanding_revenue,
           count(*) FILTER (WHERE status = 'COMPLETED') AS completed_bookings
    FROM v
    WHERE status IN ('COMPLETED', 'APPROVED', 'CONFIRMED', 'IN_PROGRESS')
      AND service_date >= %(first_month)s::date AND service_date < %(after_last_month)s::date
    GROUP BY 1, 2
),
per_artist AS (
    SELECT artist_id, coalesce(sum(value_base), 0)::numeric(18, 2) AS recognized_revenue,
           count(*) AS completed_bookings
    FROM v
    WHERE status = 'COMPLETED' AND service_date BETWEEN %(as_of)s::date - 89 AND %(as_of)s::date
    GROUP BY artist_id
),
top AS (
    SELECT row_number() OVER (ORDER BY p.recognized_revenue DESC, p.completed_bookings DESC,
                                       p.artist_id COLLATE "C") AS rank,
           p.artist_id, a.name AS artist_name, p.recognized_revenue, p.completed_bookings
    FROM per_artist p
    LEFT JOIN artists a ON a.org_id = %(tenant)s AND a.id = p.artist_id
    ORDER BY rank
    LIMIT {TOP_PERFORMERS}
)
SELECT json_build_object(
    'tenant', (SELECT json_build_object('id', id, 'slug', slug, 'name', name) FROM org),
    'as_of', %(as_of)s::date,
    'base_currency', (SELECT base_currency FROM org),
    'live', true,
    'kpis', (SELECT json_build_object(
        'recognized_revenue_30d', k.recognized_revenue_30d::text,
        'recognized_revenue_prev_30d', k.recognized_revenue_prev_30d::text,
        'revenue_delta_pct', CASE WHEN k.recognized_revenue_prev_30d = 0 THEN NULL
            ELSE (k.recognized_revenue_30d - k.recognized_revenue_prev_30d)::float8
                 / k.recognized_revenue_prev_30d::float8 END,
        'bookings_30d', k.bookings_30d,
        'active_artists_30d', k.active_artists_30d,
        'active_projects', (SELECT count(*) FROM projects
                            WHERE org_id = %(tenant)s AND status = 'IN_PROGRESS'),
        'overdue_milestones', (SELECT count(*) FROM project_milestones
                               WHERE org_id = %(tenant)s AND due_date < %(as_of)s::date AND status <> 'COMPLETED'),
        'outstanding_revenue', k.outstanding_revenue::text) FROM kpis k),
    'revenue_monthly', json_build_object(
        'first_month', %(first_month)s::date, 'last_month', %(last_month)s::date,
        'rows', coalesce((SELECT json_agg(json_build_object(
            'month', r.month, 'booking_type', r.booking_type,
            'recognized_revenue', r.recognized_revenue::text, 'pipeline_revenue', r.pipeline_revenue::text,
            'collected_revenue', r.collected_revenue::text, 'outstanding_revenue', r.outstanding_revenue::text,
            'completed_bookings', r.completed_bookings) ORDER BY r.month, r.booking_type COLLATE "C")
            FROM revenue r), '[]'::json)),
    'top_performers', coalesce((SELECT json_agg(json_build_object(
        'rank', t.rank, 'artist_id', t.artist_id, 'artist_name', t.artist_name,
        'recognized_revenue', t.recognized_revenue::text, 'completed_bookings', t.completed_bookings)
        ORDER BY t.rank) FROM top t), '[]'::json)
)::text
"""


def load_fx_table(conn) -> None:
    """The FX seed as a PostgreSQL table for the live-SQL peer (readable by the app's role)."""
    from sqlalchemy import text

    conn.execute(text(f"CREATE TABLE {FX_TABLE} (rate_date date, currency varchar(3), "
                      "usd_per_unit numeric(18, 8), units_per_usd numeric(18, 8))"))
    with conn.connection.driver_connection.cursor().copy(
            f"COPY {FX_TABLE} FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
        copy.write(FX_SEED.read_bytes())
    conn.execute(text(f"CREATE INDEX ON {FX_TABLE} (currency, rate_date)"))
    conn.execute(text(f"ANALYZE {FX_TABLE}"))
    conn.execute(text(f"GRANT SELECT ON {FX_TABLE} TO auditoryx_app"))


def _add_months(month: dt.date, months: int) -> dt.date:
    index = month.year * 12 + (month.month - 1) + months
    return dt.date(index // 12, index % 12 + 1, 1)


def live_params(tenant_id: str, as_of: dt.date) -> dict:
    this_month = as_of.replace(day=1)
    first, last = _add_months(this_month, -REVENUE_MONTHS_BACK), _add_months(this_month, REVENUE_MONTHS_AHEAD)
    return {"tenant": tenant_id, "as_of": as_of, "first_month": first, "last_month": last,
            "after_last_month": _add_months(last, 1)}


def live_app():
    """The API app plus ``GET /bench/live-dashboard`` (uvicorn factory, for the live-SQL peer):
    the same caller check and rate limit as the dashboard, then the live statement."""
    from fastapi import Depends
    from fastapi.responses import Response
    from sqlalchemy import create_engine

    from api.app import create_app
    from api.context import Principal, principal
    from auditoryx.settings import get_settings
    from operational import rls
    from warehouse.tenant_analytics import TenantAnalytics

    settings = get_settings()
    app = create_app(settings)
    url = settings.web_database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    pool = int(os.environ.get("BENCH_LIVE_POOL", "8"))
    engine = create_engine(url, pool_size=pool, max_overflow=0, pool_timeout=3600, pool_pre_ping=True)
    as_of = settings.effective_as_of()

    @app.get(LIVE_PATH, include_in_schema=False)
    def live_dashboard(caller: Principal = Depends(principal)) -> Response:
        TenantAnalytics._check_dashboard(caller.actor)  # the same permission check
        with engine.begin() as conn:
            rls.tenant_scope(conn, caller.tenant_id)
            body = conn.exec_driver_sql(LIVE_SQL, live_params(caller.tenant_id, as_of)).scalar_one()
        return Response(body.encode("utf-8"), media_type="application/json")

    return app


# --- the hot path before this benchmark's changes (for a same-run comparison) ----------------------

def _authenticate_key_before(engine, secret, *, now=None):
    """operational.api_keys.authenticate_key as it was (an ORM session per lookup)."""
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from operational import api_keys

    now = now or api_keys._utcnow()
    if not secret.startswith(api_keys.KEY_PREFIX) or len(secret) > 200:
        raise api_keys.InvalidApiKey("invalid API key")
    with Session(engine) as session:
        row = session.execute(text("SELECT key_id, org_id, scopes, expires_at, revoked_at, org_active, "
                                   "org_plan FROM auditoryx_api_key_by_hash(:hash)"),
                              {"hash": api_keys.key_hash(secret)}).first()
    if row is None:
        raise api_keys.InvalidApiKey("invalid API key")
    key_id, org_id, scopes, expires_at, revoked_at, org_active, plan = row
    expires_at = api_keys._aware(expires_at)
    if revoked_at is not None or not org_active or (expires_at is not None and expires_at <= now):
        raise api_keys.InvalidApiKey("invalid API key")
    return api_keys.KeyIdentity(key_id=key_id, tenant_id=org_id, scopes=tuple(scopes or ()), plan=str(plan))


def _take_before(engine, tenant_id, limits, *, now=None):
    """operational.rate_limits.take as it was (an ORM transaction: insert, SELECT FOR UPDATE,
    update, commit waiting for the WAL flush)."""
    from sqlalchemy import select
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.orm import Session

    from operational.models import ApiRateBucket
    from operational.rate_limits import decide, refill
    from operational.repository import TenantRepository

    now = time.time() if now is None else now
    limits = sorted(limits, key=lambda limit: limit.bucket)
    names = [limit.bucket for limit in limits]
    with Session(engine) as session, session.begin():
        TenantRepository(session, tenant_id)
        session.execute(postgresql.insert(ApiRateBucket).values(
            [{"bucket": limit.bucket, "org_id": tenant_id, "tokens": limit.capacity, "refilled_at": now}
             for limit in limits]).on_conflict_do_nothing())
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


def _sync_principal(known_key_request):
    """``api.context.principal`` as it was before it became async: a sync dependency (run in the
    thread pool) trying ``known_key_request`` first, then the usual path."""
    from fastapi import Depends, Request

    from api import context

    def principal(request: Request, api_context=Depends(context.get_context)):
        known = known_key_request(request, api_context)
        caller, decision = known if known is not None else context._check_and_take(request, api_context)
        return context._limited(request, caller, decision)

    principal.__annotations__ = {"request": Request}  # not a string: FastAPI resolves it in this module
    return principal


def before_app():
    """The API app with the hot path as it was before (uvicorn factory)."""
    from api import context
    from api.app import create_app
    from operational import api_keys, rate_limits

    api_keys.authenticate_key = _authenticate_key_before
    rate_limits.take = _take_before
    context._db_slots = lambda engine: contextlib.nullcontext()  # every thread to the pool (overflow churn)
    app = create_app()
    # no combined key + bucket statement
    app.dependency_overrides[context.principal] = _sync_principal(lambda request, api_context: None)
    return app


# --- the hot path of the 17:45 run, before auditoryx_api_take (for a same-run comparison) -------------

def _take_for_key_previous(engine, tenant_id, limits, key_hash, *, now=None):
    """operational.rate_limits.take_for_key as it was: BEGIN, the tenant scope, one locking UPDATE
    of the buckets joined with ``auditoryx_api_key_by_hash`` (a SQL function, planned on every call),
    COMMIT, in one psycopg pipeline on a connection of the SQLAlchemy pool (pinged at checkout)."""
    from operational import rate_limits

    sql = rate_limits._TAKE_SQL.replace("""verdict AS MATERIALIZED (
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
    assert "api_key k" in sql and "k.org_plan" in sql
    now = time.time() if now is None else now
    limits = sorted(limits, key=lambda limit: limit.bucket)
    rows = rate_limits._run_take(engine, tenant_id, sql, {
        "buckets": [limit.bucket for limit in limits], "capacities": [limit.capacity for limit in limits],
        "rates": [limit.per_second for limit in limits], "now": now, "count": len(limits), "key_hash": key_hash,
        "tenant": tenant_id})
    levels = {row[0]: row[1] for row in rows}
    if len(levels) != len(limits):
        return None
    return rate_limits.decide(levels, limits), tuple(rows[0][2:])


def _known_key_request_previous(request, api_context):
    """api.context._known_key_request as it was (inside the SQLAlchemy pool's slots, the last-use
    stamp as a separate statement once a minute per key)."""
    from api import context
    from operational import api_keys, rate_limits
    from operational.permissions import api_key_actor

    if api_context.engine.dialect.name != "postgresql":
        return None
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential.startswith(api_keys.KEY_PREFIX) or len(credential) > 200:
        return None
    digest = api_keys.key_hash(credential)
    known = context._KNOWN_KEYS.get(digest)
    if known is None:
        return None
    tenant_id, key_id = known
    with context._db_slots(api_context.engine):
        limits = rate_limits.limits_for(tenant_id, f"api_key:{key_id}", api_context.requests_per_minute(tenant_id))
        result = _take_for_key_previous(api_context.engine, tenant_id, limits, digest)
        if result is None:
            context._KNOWN_KEYS.pop(digest, None)
            return None
        decision, row = result
        identity = api_keys.identity_of_row(row)
        api_context.touch(identity)
    return context.Principal(api_key_actor(identity.tenant_id, identity.key_id, identity.scopes), "api_key",
                             identity.key_id), decision


def previous_app():
    """The API app with the hot path of the 17:45 run (uvicorn factory): a sync caller check (a
    thread-pool hop per request) with the pipelined statement; its server also gets an ``OTEL_*``
    variable, which turns FastAPI's per-request telemetry look-up back on as it was."""
    from api import context
    from api.app import create_app

    app = create_app()
    app.dependency_overrides[context.principal] = _sync_principal(_known_key_request_previous)
    return app


# --- comparing the two answers ---------------------------------------------------------------------

def compare(api: dict, live: dict) -> list[str]:
    """Differences between the API's dashboard and the live statement's (empty: the same numbers)."""
    problems = []

    def same(path: str, a, b) -> None:
        if isinstance(a, str) and isinstance(b, str):
            try:
                if Decimal(a) == Decimal(b):
                    return
            except Exception:  # noqa: BLE001 - not a number: compare as text
                pass
        if isinstance(a, float) or isinstance(b, float):
            if a is not None and b is not None and abs(float(a) - float(b)) <= 1e-12 * max(1.0, abs(float(a))):
                return
        if a != b:
            problems.append(f"{path}: api {a!r} != live {b!r}")

    for key in ("as_of", "base_currency"):
        same(key, api.get(key), live.get(key))
    for key in ("id", "slug", "name"):
        same(f"tenant.{key}", api["tenant"].get(key), live["tenant"].get(key))
    for key, value in api["kpis"].items():
        same(f"kpis.{key}", value, live["kpis"].get(key))
    for key in ("first_month", "last_month"):
        same(f"revenue_monthly.{key}", api["revenue_monthly"][key], live["revenue_monthly"][key])
    for side in ("rows",):
        a_rows, b_rows = api["revenue_monthly"][side], live["revenue_monthly"][side]
        if len(a_rows) != len(b_rows):
            problems.append(f"revenue_monthly.rows: {len(a_rows)} rows != {len(b_rows)}")
        for i, (a, b) in enumerate(zip(a_rows, b_rows)):
            for key, value in a.items():
                same(f"revenue_monthly.rows[{i}].{key}", value, b.get(key))
    if len(api["top_performers"]) != len(live["top_performers"]):
        problems.append(f"top_performers: {len(api['top_performers'])} != {len(live['top_performers'])}")
    for i, (a, b) in enumerate(zip(api["top_performers"], live["top_performers"])):
        for key, value in a.items():
            same(f"top_performers[{i}].{key}", value, b.get(key))
    return problems


# --- CPU accounting from /proc ---------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def _children(pid: int) -> list[int]:
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        try:
            kids = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            kids = []
        for kid in kids:
            found.append(int(kid))
            queue.append(int(kid))
    return found


def tree_cpu(pid: int) -> float:
    return sum(_proc_cpu(p) for p in [pid, *_children(pid)])


def postgres_cpu(pids: list[int]) -> dict[int, float]:
    """CPU seconds of each of these PostgreSQL backends (the benchmark database's connections)."""
    return {pid: _proc_cpu(pid) for pid in pids if Path(f"/proc/{pid}/stat").exists()}


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two readings by the backends alive at both."""
    return sum(after[pid] - before[pid] for pid in before if pid in after and after[pid] >= before[pid])


# --- the load generator (child process) ------------------------------------------------------------

class RawClient:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams (the same GET again and again), to
    measure the server with less client CPU than httpx: status line, headers, Content-Length body."""

    def __init__(self, url: str, headers: dict) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        lines = [f"GET {parts.path} HTTP/1.1", f"Host: {parts.netloc}", *(f"{k}: {v}" for k, v in headers.items())]
        self.request = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
        self.reader = self.writer = None

    async def get(self) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        at = head.lower().find(b"\r\ncontent-length:")
        if at < 0:
            raise RuntimeError("no Content-Length in the answer")
        length = int(head[at + 17:head.index(b"\r\n", at + 2)])
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _drive(kind: str, url: str, secret: str, concurrency: int, start_at: float, warmup: float,
                 window: float, grace: float, rate: float) -> dict:
    """``concurrency`` clients, each with one request in flight at a time. ``rate`` 0: closed loop
    (each sends again as soon as it has its answer: the server's saturation throughput). ``rate`` >
    0: paced (open loop) at ``rate`` requests a second in all, each client on its own schedule;
    latency then counts from the scheduled send time, so a server falling behind is not hidden
    (no coordinated omission)."""
    t0, t1 = start_at + warmup, start_at + warmup + window
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors: list[str] = []
    cpu = {}
    headers = {"Authorization": f"Bearer {secret}"}
    shared = None
    if kind == "httpx":
        import httpx

        shared = httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency,
                                                       max_keepalive_connections=concurrency),
                                   timeout=httpx.Timeout(1800.0))
    await asyncio.sleep(max(0.0, start_at - time.time()))

    async def one_client(number: int) -> None:
        raw = RawClient(url, headers) if kind == "raw" else None
        interval = concurrency / rate if rate else 0.0
        scheduled = time.perf_counter() + (number * interval / concurrency if rate else 0.0)
        try:
            while time.time() < t1:
                if rate:
                    delay = scheduled - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    started = scheduled
                    scheduled += interval
                else:
                    started = time.perf_counter()
                try:
                    if raw is not None:
                        code = await raw.get()
                    else:
                        code = (await shared.get(url, headers=headers)).status_code
                except Exception as exc:  # noqa: BLE001 - counted, reported; a new connection next time
                    code = 0
                    if raw is not None:
                        raw.close()
                        raw.writer = None
                    if len(errors) < 5:
                        errors.append(repr(exc))
                elapsed = time.perf_counter() - started
                done = time.time()
                if t0 <= done <= t1:
                    statuses[code] = statuses.get(code, 0) + 1
                    if code == 200:
                        latencies.append(elapsed)
        finally:
            if raw is not None:
                raw.close()

    async def cpu_marks() -> None:
        await asyncio.sleep(max(0.0, t0 - time.time()))
        cpu["t0"] = time.process_time()
        await asyncio.sleep(max(0.0, t1 - time.time()))
        cpu["t1"] = time.process_time()

    tasks = [asyncio.ensure_future(one_client(number)) for number in range(concurrency)]
    await asyncio.ensure_future(cpu_marks())
    _done, pending = await asyncio.wait(tasks, timeout=max(0.0, t1 + grace - time.time()))
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    if shared is not None:
        await shared.aclose()
    return {"latencies": latencies, "statuses": statuses, "errors": errors,
            "client_cpu": cpu.get("t1", 0.0) - cpu.get("t0", 0.0), "cancelled": len(pending)}


def child_load(args: list[str]) -> None:
    kind, url, secret, concurrency, start_at, warmup, window, grace, rate = args
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(_drive(kind, url, secret, int(concurrency), float(start_at), float(warmup), float(window),
                                float(grace), float(rate)))
    # written by hand: the event loop may leave stdout non-blocking, and an answer over the pipe's
    # 64 KiB buffer was then cut short
    import select

    sys.stdout.flush()
    view = memoryview((json.dumps(result) + "\n").encode("utf-8"))
    while view:
        try:
            view = view[os.write(sys.stdout.fileno(), view):]
        except BlockingIOError:
            select.select([], [sys.stdout.fileno()], [])


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[index]


def run_load(label: str, base_url: str, path: str, secret: str, *, concurrency: int, procs: int, warmup: float,
             window: float, grace: float, server_pid: int, client: str = "httpx", rate: float = 0.0,
             backends=None) -> dict:
    """``concurrency`` clients (``client``: httpx or raw) split over ``procs`` processes against
    ``base_url + path``; closed loop, or paced at ``rate`` requests a second in all. ``backends``:
    a function giving the PostgreSQL backend pids of the benchmark database (their CPU is counted)."""
    start_at = time.time() + 1.5  # the children import httpx first
    shares = [concurrency // procs + (1 if i < concurrency % procs else 0) for i in range(procs)]
    children = [subprocess.Popen([sys.executable, __file__, "--child-load", client, base_url + path, secret, str(share),
                                  repr(start_at), repr(warmup), repr(window), repr(grace),
                                  repr(rate * share / concurrency)],
                                 stdout=subprocess.PIPE, text=True, cwd=ROOT) for share in shares]
    time.sleep(max(0.0, start_at + warmup - time.time()))
    pids, sessions0 = backends() if backends else ([], 0)
    server0, pg0, load0 = tree_cpu(server_pid), postgres_cpu(pids), os.getloadavg()[0]
    time.sleep(max(0.0, start_at + warmup + window - time.time()))
    server1, pg1, load1 = tree_cpu(server_pid), postgres_cpu(pids), os.getloadavg()[0]
    sessions1 = backends()[1] if backends else 0
    results = []
    for child in children:
        out, _ = child.communicate()
        if child.returncode != 0:
            raise RuntimeError(f"load child failed ({child.returncode})")
        results.append(json.loads(out.strip().splitlines()[-1]))
    latencies = [x for r in results for x in r["latencies"]]
    statuses: dict[str, int] = {}
    for r in results:
        for code, count in r["statuses"].items():
            statuses[str(code)] = statuses.get(str(code), 0) + count
    errors = [e for r in results for e in r["errors"]]
    summary = {
        "label": label, "requests": len(latencies), "rps": len(latencies) / window,
        "p50_ms": percentile(latencies, 50) * 1000, "p99_ms": percentile(latencies, 99) * 1000,
        "mean_ms": (statistics.fmean(latencies) * 1000) if latencies else float("nan"),
        "statuses": statuses, "errors": errors[:3], "window_s": window,
        "client_cpu_pct": 100 * sum(r["client_cpu"] for r in results) / window,
        "server_cpu_pct": 100 * (server1 - server0) / window, "postgres_cpu_pct": 100 * cpu_delta(pg0, pg1) / window,
        "load_start": load0, "load_end": load1, "client_procs": procs, "concurrency": concurrency, "client": client,
        "rate": rate, "new_connections_per_s": (sessions1 - sessions0) / window,
    }
    non_ok = {code: n for code, n in statuses.items() if code != "200"}
    say(f"{label}: {summary['rps']:,.1f} req/s, p50 {summary['p50_ms']:.1f} ms, p99 {summary['p99_ms']:.1f} ms "
        f"({summary['requests']:,} OK in {window:.0f} s{', other: ' + str(non_ok) if non_ok else ''}); "
        f"CPU: {client} client {summary['client_cpu_pct']:.0f}% ({procs} proc), server {summary['server_cpu_pct']:.0f}%, "
        f"postgres backends {summary['postgres_cpu_pct']:.0f}% (alive through the window; new connections "
        f"{summary['new_connections_per_s']:.0f}/s); load {load0:.2f}→{load1:.2f}"
        + (f"; errors {errors[:2]}" if errors else ""))
    return summary


# --- servers ---------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``auditoryx api --workers N`` (kind "api") or the same app with the live route (kind "live")."""

    def __init__(self, kind: str, workers: int, env: dict) -> None:
        self.kind, self.workers, self.port = kind, workers, free_port()
        if kind == "api":
            command = [str(ROOT / ".venv" / "bin" / "auditoryx"), "api", "--workers", str(workers),
                       "--port", str(self.port)]
        else:
            factory = {"live": "api_dashboard:live_app", "before": "api_dashboard:before_app",
                       "previous": "api_dashboard:previous_app"}[kind]
            if kind == "previous":
                env = {**env, "OTEL_SDK_DISABLED": "false"}
            command = [sys.executable, "-m", "uvicorn", factory, "--factory",
                       "--app-dir", str(ROOT / "benchmarks"), "--workers", str(workers), "--host", "127.0.0.1",
                       "--port", str(self.port), "--log-level", "warning", "--no-access-log"]
        self.process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, secret: str, path: str, timeout: float = 120.0) -> dict:
        import httpx

        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} server exited: {self.process.stderr.read()[-2000:]}")
            try:
                response = httpx.get(self.url + path, headers={"Authorization": f"Bearer {secret}"}, timeout=600)
                if response.status_code == 200:
                    return response.json()
                raise RuntimeError(f"{self.kind} server answered {response.status_code}: {response.text[:500]}")
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.kind} server not ready after {timeout} s")

    def warm(self, secret: str, path: str, requests: int) -> None:
        """Some requests on fresh connections so that every worker process has answered once."""
        import httpx

        for _ in range(requests):
            with httpx.Client(timeout=600) as client:
                client.get(self.url + path, headers={"Authorization": f"Bearer {secret}"})

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)  # our own session: uvicorn and its workers
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()


# --- profiling one request's parts (in-process) ----------------------------------------------------

def profile(app_url: str, published_dir: Path, secret: str, tenant_id: str, rounds: int) -> dict:
    """Median time of each part of the dashboard request's work, called directly."""
    from api.context import ApiContext, Principal
    from operational import api_keys, rate_limits
    from operational.db import make_engine
    from operational.permissions import api_key_actor
    from warehouse.tenant_analytics import TenantAnalytics

    engine = make_engine(app_url)
    analytics = TenantAnalytics(published_dir)
    context = ApiContext(settings=None, engine=engine, analytics=analytics, token_secret=b"x" * 32)
    identity = api_keys.authenticate_key(engine, secret)
    caller = Principal(api_key_actor(identity.tenant_id, identity.key_id, identity.scopes), "api_key",
                       identity.key_id)
    per_minute = context.requests_per_minute(caller.tenant_id)
    limits = rate_limits.limits_for(caller.tenant_id, caller.name, per_minute)
    analytics.dashboard_json(caller.actor)

    def timed(fn) -> float:
        samples = []
        for _ in range(rounds):
            started = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - started)
        return statistics.median(samples) * 1000

    def select_one():
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1").scalar_one()

    parts = {
        "pooled connection + SELECT 1 (floor)": timed(select_one),
        "authenticate_key (key lookup), before": timed(lambda: _authenticate_key_before(engine, secret)),
        "authenticate_key (key lookup), now": timed(lambda: api_keys.authenticate_key(engine, secret)),
        "requests_per_minute (cached)": timed(lambda: context.requests_per_minute(caller.tenant_id)),
        "rate_limits.take (bucket transaction), before": timed(lambda: _take_before(engine, caller.tenant_id, limits)),
        "rate_limits.take (bucket transaction), now": timed(lambda: rate_limits.take(engine, caller.tenant_id,
                                                                                     limits)),
        "take_for_key (key row + buckets, pipeline on a pinged pooled connection), 17:45": timed(
            lambda: _take_for_key_previous(engine, caller.tenant_id, limits, api_keys.key_hash(secret))),
        "rate_limits.take_for_key (auditoryx_api_take: key + last use + buckets, one statement), now": timed(
            lambda: rate_limits.take_for_key(engine, caller.tenant_id, limits, api_keys.key_hash(secret))),
        "dashboard_json (cached answer)": timed(lambda: analytics.dashboard_json(caller.actor)),
    }
    body = analytics.dashboard_json(caller.actor)
    parts["json.loads of the answer (what a client pays)"] = timed(lambda: json.loads(body))
    analytics.close()
    engine.dispose()
    for name, ms in parts.items():
        say(f"profile: {name}: {ms:.3f} ms (median of {rounds})")
    return parts


def sequential(base_url: str, path: str, secret: str, requests: int) -> float:
    """Median latency of one client's requests, one after the other (no concurrency)."""
    import httpx

    samples = []
    with httpx.Client(timeout=600) as client:
        for _ in range(requests):
            started = time.perf_counter()
            response = client.get(base_url + path, headers={"Authorization": f"Bearer {secret}"})
            samples.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
    return statistics.median(samples) * 1000


# --- the world -------------------------------------------------------------------------------------

def build_world(options, folder: Path, database_url: str, app_url: str, env: dict) -> dict:
    from sqlalchemy import select, text
    from sqlalchemy.orm import Session

    from operational.api_keys import create_key
    from operational.db import create_schema, ensure_app_login, make_engine
    from operational.generator import generate
    from operational.models import Organization
    from operational.permissions import command_line_operator

    owner = make_engine(database_url)
    create_schema(owner)
    started = time.perf_counter()
    generate(owner, tenants=options.tenants, seed=options.seed, as_of=AS_OF, password="bench-password",
             target_bookings=options.bookings)
    say(f"generated {options.tenants:,} tenants / {options.bookings:,} bookings into PostgreSQL in "
        f"{time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    subprocess.run([str(ROOT / ".venv" / "bin" / "auditoryx"), "refresh", "--full"], env=env, cwd=ROOT,
                   check=True, stdout=subprocess.DEVNULL)
    say(f"full refresh (extract, dbt build, publish) in {time.perf_counter() - started:.1f} s")
    with owner.begin() as conn:
        tenant_id, bookings = conn.execute(text(
            "SELECT org_id, count(*) FROM bookings GROUP BY org_id ORDER BY 2 DESC, 1 LIMIT 1")).one()
        load_fx_table(conn)
        conn.execute(text("ANALYZE"))
    with Session(owner) as session, session.begin():
        org = session.scalar(select(Organization).where(Organization.id == tenant_id))
        slug, plan = org.slug, str(org.plan)
        org.settings = {**(org.settings or {}), "api_requests_per_minute": RATE_OVERRIDE}
    _summary, secret = create_key(owner, command_line_operator(tenant_id), name="benchmark",
                                  scopes=["analytics:read"])
    login = ensure_app_login(owner, app_url)
    owner.dispose()
    say(f"largest tenant: {slug} ({bookings:,} bookings, plan {plan}); api_requests_per_minute set to "
        f"{RATE_OVERRIDE:,}; API key of scope analytics:read; app login {login} (member of auditoryx_app)")
    return {"tenant_id": tenant_id, "slug": slug, "plan": plan, "bookings": bookings, "secret": secret}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--bookings", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workers", default="1,2", help="API worker counts to measure (comma-separated)")
    parser.add_argument("--before-workers", default="2", help="worker counts for the old hot path ('' : skip)")
    parser.add_argument("--live-workers", type=int, default=2)
    parser.add_argument("--live-pool", type=int, default=8, help="connections per live-SQL worker process")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--clients", default="httpx:1,httpx:2,raw:1,raw:1@500,raw:1@250",
                        help="load generators for the API side, comma-separated: kind (httpx or raw) : processes, "
                             "and @rate for a paced (open-loop) run at that many requests a second in all")
    parser.add_argument("--before-clients", default="httpx:1,raw:1", help="the same for the old hot path")
    parser.add_argument("--previous-workers", default="",
                        help="worker counts for the hot path of the 17:45 run, before auditoryx_api_take ('' : skip)")
    parser.add_argument("--previous-clients", default="raw:1,raw:1@500", help="the same for that hot path")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--window", type=float, default=15.0)
    parser.add_argument("--live-warmup", type=float, default=90.0)
    parser.add_argument("--live-window", type=float, default=180.0)
    parser.add_argument("--live-sequential", type=int, default=3, help="one-client live-SQL requests timed")
    parser.add_argument("--profile-rounds", type=int, default=300)
    parser.add_argument("--keep", action="store_true", help="keep the database and folder (prints them)")
    parser.add_argument("--child-load", nargs=9, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child_load:
        child_load(options.child_load)
        return

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    say(f"api_dashboard benchmark: {options.tenants:,} tenants / {options.bookings:,} bookings, as of {AS_OF}, "
        f"{options.concurrency} concurrent clients; {os.cpu_count()} CPUs")
    folder = Path(tempfile.mkdtemp(prefix="auditoryx-api-bench-"))
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    suffix = uuid.uuid4().hex[:8]
    database = f"bench_api_{suffix}"
    login = f"auditoryx_bench_api_{suffix}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    database_url = admin.url.set(database=database).render_as_string(hide_password=False)
    app_url = make_url(database_url).set(username=login, password=None).render_as_string(hide_password=False)
    env = {**os.environ, "AUDITORYX_VAR_DIR": str(folder), "AUDITORYX_OPERATIONAL_URL": database_url,
           "AUDITORYX_APP_DATABASE_URL": app_url, "AUDITORYX_AS_OF": AS_OF.isoformat(),
           "AUDITORYX_API_TOKEN_SECRET": "benchmark-token-secret-" + "x" * 32,
           "BENCH_LIVE_POOL": str(options.live_pool), "PYTHONPATH": str(ROOT)}
    servers: list[Server] = []
    results: dict = {"api": [], "before": [], "previous": [], "live": None}
    try:
        world = build_world(options, folder, database_url, app_url, env)
        secret = world["secret"]
        published = folder / "warehouse" / "published"

        # 1. the same numbers?
        live = Server("live", options.live_workers, env)
        servers.append(live)
        api_answer = live.wait_ready(secret, DASHBOARD_PATH)
        started = time.perf_counter()
        live_answer = live.wait_ready(secret, LIVE_PATH)
        say(f"one live-SQL answer: {(time.perf_counter() - started) * 1000:.0f} ms (cold); "
            f"{len(live_answer['revenue_monthly']['rows'])} revenue rows, "
            f"{len(live_answer['top_performers'])} top performers")
        differences = compare(api_answer, live_answer)
        results["same_numbers"] = not differences
        say("live SQL and API answers: " + ("the same numbers (KPIs, revenue by month and type, top performers)"
                                           if not differences else f"{len(differences)} DIFFERENCES:"))
        for line in differences[:20]:
            print("   ", line)

        # 2. one request's parts
        results["profile"] = profile(app_url, published, secret, world["tenant_id"], options.profile_rounds)
        results["sequential_api_ms"] = sequential(live.url, DASHBOARD_PATH, secret, 200)
        say(f"one client, sequential: dashboard {results['sequential_api_ms']:.2f} ms median (200 requests)")
        live_one = sequential(live.url, LIVE_PATH, secret, options.live_sequential)
        results["sequential_live_ms"] = live_one
        say(f"one client, sequential: live SQL {live_one:.0f} ms median ({options.live_sequential} requests)")

        def backends() -> tuple[list[int], int]:
            """The benchmark database's backends now, and the sessions opened on it so far."""
            with admin.connect() as conn:
                pids = list(conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = :db "
                                              "AND pid <> pg_backend_pid()"), {"db": database}).scalars())
                sessions = conn.execute(text("SELECT sessions FROM pg_stat_database WHERE datname = :db"),
                                        {"db": database}).scalar_one()
            return pids, sessions

        # 3. live SQL under the same concurrency
        results["live"] = run_load(f"live SQL, {options.live_workers} workers x pool {options.live_pool}",
                                   live.url, LIVE_PATH, secret, concurrency=options.concurrency, procs=1,
                                   warmup=options.live_warmup, window=options.live_window, grace=5.0,
                                   server_pid=live.process.pid, backends=backends)
        live.stop()
        servers.remove(live)
        with admin.connect() as conn:  # queries of cancelled requests: let them go
            conn.execute(text("SELECT pg_cancel_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :db AND pid <> pg_backend_pid()"), {"db": database})
        time.sleep(2)

        def parse(specs: str) -> list[tuple[str, int, float]]:
            found = []
            for spec in filter(None, specs.split(",")):
                spec, _, rate = spec.partition("@")
                kind, _, procs = spec.partition(":")
                found.append((kind, int(procs or 1), float(rate or 0)))
            return found

        def measure(kind_of_server: str, workers: int, specs, into: list) -> None:
            server = Server(kind_of_server, workers, env)
            servers.append(server)
            server.wait_ready(secret, DASHBOARD_PATH)
            server.warm(secret, DASHBOARD_PATH, 4 * workers)
            name = "API dashboard" + {"before": " BEFORE (old hot path)",
                                      "previous": " PREVIOUS (17:45 hot path)"}.get(kind_of_server, "")
            for kind, procs, rate in specs:
                pacing = f", paced at {rate:.0f} req/s" if rate else ", closed loop"
                into.append(run_load(
                    f"{name}, {workers} worker(s), {kind} client x {procs} proc(s){pacing}", server.url,
                    DASHBOARD_PATH, secret, concurrency=options.concurrency, procs=procs, warmup=options.warmup,
                    window=options.window, grace=5.0, server_pid=server.process.pid, client=kind, rate=rate,
                    backends=backends) | {"workers": workers, "before": kind_of_server == "before",
                                          "previous": kind_of_server == "previous"})
            server.stop()
            servers.remove(server)

        # 4. the API with the request's hot path as it was before this benchmark's changes, then as it is
        for workers in [int(w) for w in options.before_workers.split(",") if w]:
            measure("before", workers, parse(options.before_clients), results["before"])
        for workers in [int(w) for w in options.previous_workers.split(",") if w]:
            measure("previous", workers, parse(options.previous_clients), results["previous"])
        for workers in [int(w) for w in options.workers.split(",") if w]:
            measure("api", workers, parse(options.clients), results["api"])

        # 5. summary
        closed = [r for r in results["api"] if not r["rate"]]
        httpx_runs = [r for r in closed if r["client"] == "httpx"] or closed
        best_any = max(closed, key=lambda r: r["rps"])
        best = max(httpx_runs, key=lambda r: r["rps"])
        live_rps = results["live"]["rps"]
        ratio = best["rps"] / live_rps if live_rps else float("inf")
        print()
        print("| side | workers | client x procs | load shape | req/s | p50 | p99 | CPU % client / server / "
              "postgres backends | load avg (1 min) |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in results["before"] + results["previous"] + results["api"]:
            side = ", before" if r["before"] else ", previous (17:45)" if r["previous"] else ""
            print(f"| API dashboard{side} | {r['workers']} | {r['client']} x "
                  f"{r['client_procs']} | {'paced ' + format(r['rate'], '.0f') + ' req/s' if r['rate'] else 'closed loop'}"
                  f" | {r['rps']:,.0f} | {r['p50_ms']:.1f} ms | {r['p99_ms']:.1f} ms | {r['client_cpu_pct']:.0f} / "
                  f"{r['server_cpu_pct']:.0f} / {r['postgres_cpu_pct']:.0f} | {r['load_start']:.2f}→{r['load_end']:.2f} |")
        r = results["live"]
        print(f"| live SQL | {options.live_workers} (pool {options.live_pool}) | httpx x 1 | closed loop | "
              f"{r['rps']:,.2f} | {r['p50_ms']:,.0f} ms | {r['p99_ms']:,.0f} ms | {r['client_cpu_pct']:.0f} / "
              f"{r['server_cpu_pct']:.0f} / {r['postgres_cpu_pct']:.0f} | {r['load_start']:.2f}→{r['load_end']:.2f} |")
        say(f"best closed-loop run with httpx clients: {best['label']}: {best['rps']:,.0f} req/s (target "
            f"{TARGET_RPS:.0f}: {'met' if best['rps'] >= TARGET_RPS else 'MISSED'}), p99 {best['p99_ms']:.1f} ms; "
            f"{ratio:,.0f}x the live-SQL throughput ({live_rps:.2f} req/s; target {TARGET_RATIO:.0f}x: "
            f"{'met' if ratio >= TARGET_RATIO else 'MISSED'}); same numbers: {results['same_numbers']}")
        say(f"best closed-loop run with any client: {best_any['label']}: {best_any['rps']:,.0f} req/s, "
            f"p99 {best_any['p99_ms']:.1f} ms; {best_any['rps'] / live_rps if live_rps else float('inf'):,.0f}x "
            f"the live-SQL throughput")
        for r in results["api"]:
            if r["rate"]:
                kept_up = r["rps"] >= 0.98 * r["rate"]
                verdict = kept_up and r["p99_ms"] < TARGET_P99_MS
                say(f"paced: {r['label']}: {r['rps']:,.0f} req/s served ({'kept up' if kept_up else 'fell behind'}), "
                    f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms: p99 < {TARGET_P99_MS:.0f} ms at "
                    f"{r['rate']:.0f} req/s {'met' if verdict else 'MISSED'}"
                    + (f" (the target's {TARGET_RPS:.0f} req/s)" if r["rate"] >= TARGET_RPS else ""))
        print(json.dumps({"tenants": options.tenants, "bookings": options.bookings, "tenant": world["slug"],
                          "tenant_bookings": world["bookings"], "ratio": ratio, **results}, default=str))
    finally:
        for server in servers:
            server.stop()
        if options.keep:
            say(f"kept: database {database}, folder {folder}, login {login}")
        else:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
                conn.execute(text(f'DROP ROLE IF EXISTS "{login}"'))
            shutil.rmtree(folder, ignore_errors=True)
        admin.dispose()


if __name__ == "__main__":
    main()
