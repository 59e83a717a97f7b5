"""Each executive page's data from the tenant's published version, uncached and cached, next to the
same numbers computed by live SQL on the PostgreSQL operational database, for the largest, a
median and the smallest tenant, in one run; optionally the same page calls with the code of an
earlier commit (``--baseline REV``) against the same published folder, as the "before".

Generates N tenants / M bookings (default 1,000 / 10M, seed 7) into a fresh PostgreSQL database,
refreshes once (extract → dbt → publish), then per tenant and page:
- first view ("uncached"): every cache of the page data emptied (``queries.clear_caches()``: the
  readers, results, composed answers, remembered pointers and the blank DuckDB databases kept
  ready; with the baseline's code, Streamlit's caches), then the page's data call
  (`dashboards.queries.label_dashboard`, `project_health`, `quality_queries.data_quality_details`,
  `roster_queries.artist_analytics` for the tenant's first artist): opening the tenant's snapshot
  and its queries;
- first view, blank database ready: the same, but with the blank DuckDB databases the app keeps
  ready (`warehouse.reader.keep_connections_warm`, `queries.WARM_CONNECTIONS` of them) made before
  the call, as when a person opens a page a moment after the previous one (since the pages read
  the version's Parquet files the app keeps none: the same as the first view);
- cached: the same call again (what every later rerun pays);
- the number of statements the first view runs (uncached ÷ statements: the time per query): the
  statements run on a DuckDB reader plus the statements answered from the version's Parquet files
  (`dashboards.parquet_pages`, one file read each: the pages' data since the change of #17's first
  views);
- live SQL: the page's numbers from the operational tables on an analyzed database (label
  dashboard: `api_dashboard.LIVE_SQL`, its KPIs, 18 months of revenue and top performers; projects:
  every project's health (budget and spend in the base currency at the as-of date, milestones,
  at-risk flags: fct_project_health's definitions); data and quality: the tenant's row count per
  operational source table (meta.row_counts; quarantined rows and ingestion runs live in the build
  database, not in PostgreSQL); roster artist: the artist's lifetime totals and monthly
  performance (dim_artists, fct_artist_performance_monthly)). Each peer is checked against the
  page's own numbers before it is timed.
- with the Parquet pages: each page's answer from the files is checked to equal the answer of the
  same page with every statement run on the DuckDB reader (values, types, order) before timing.
Medians of --rounds; the load average is printed.

    .venv/bin/python benchmarks/page_data.py [--tenants 1000] [--bookings 10000000] [--rounds 5]
        [--baseline 40e8641]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent

AS_OF = dt.date(2026, 10, 15)
PAGES = ("label dashboard", "projects", "data and quality", "roster: artist")


def _say(message: str) -> None:
    load = "/".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"[{time.strftime('%H:%M:%S')} load {load}] {message}", flush=True)


def _median_ms(call, rounds: int, before=None) -> float:
    times = []
    for _ in range(rounds):
        if before:
            before()
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


# --- live SQL peers (PostgreSQL, psycopg's named parameters) -----------------------------------------

def _fx_table() -> str:
    from api_dashboard import FX_TABLE

    return FX_TABLE


def _org_cte() -> str:
    return """
org AS (
    SELECT o.id, o.slug, o.name,
           coalesce(nullif(upper(btrim(o.settings ->> 'base_currency')), ''), 'USD') AS base_currency
    FROM organizations o
    WHERE o.id = %(tenant)s
)"""


def projects_sql() -> str:
    """fct_project_health from the operational tables: budget and spend converted at the as-of
    date (each currency's latest rate on or before it, exact NUMERIC rounded per amount),
    milestones done / overdue, the at-risk flags; at-risk first, then by name."""
    fx = _fx_table()
    return f"""
WITH {_org_cte()},
m AS (
    SELECT project_id, count(*) AS total, count(*) FILTER (WHERE status = 'COMPLETED') AS completed,
           count(*) FILTER (WHERE due_date < %(as_of)s::date AND status <> 'COMPLETED') AS overdue
    FROM project_milestones WHERE org_id = %(tenant)s GROUP BY project_id
),
p AS (
    SELECT p.id, p.name, p.status::text AS status, p.deadline,
           CASE WHEN p.budget IS NULL THEN NULL WHEN p.currency = org.base_currency THEN p.budget
                ELSE round(p.budget * rp.usd_per_unit * rb.units_per_usd, 2) END AS budget,
           CASE WHEN p.spent IS NULL THEN NULL WHEN p.currency = org.base_currency THEN p.spent
                ELSE round(p.spent * rp.usd_per_unit * rb.units_per_usd, 2) END AS spent,
           CASE WHEN p.budget IS NULL OR p.budget = 0 THEN NULL ELSE p.spent::float8 / p.budget::float8 END
               AS budget_used_pct,
           coalesce(m.total, 0) AS milestones_total, coalesce(m.completed, 0) AS milestones_completed,
           coalesce(m.overdue, 0) AS milestones_overdue,
           coalesce(p.budget > 0 AND p.spent > p.budget, false) AS is_over_budget,
           coalesce(p.deadline < %(as_of)s::date AND p.status::text NOT IN ('COMPLETED', 'CANCELLED'), false)
               AS is_past_deadline
    FROM projects p
    CROSS JOIN org
    LEFT JOIN LATERAL (SELECT f.usd_per_unit FROM {fx} f WHERE f.currency = p.currency
                       AND f.rate_date <= %(as_of)s::date ORDER BY f.rate_date DESC LIMIT 1) rp ON true
    LEFT JOIN LATERAL (SELECT f.units_per_usd FROM {fx} f WHERE f.currency = org.base_currency
                       AND f.rate_date <= %(as_of)s::date ORDER BY f.rate_date DESC LIMIT 1) rb ON true
    LEFT JOIN m ON m.project_id = p.id
    WHERE p.org_id = %(tenant)s
)
SELECT coalesce(json_agg(json_build_object(
    'project_id', id, 'name', name, 'status', status, 'budget', budget::text, 'spent', spent::text,
    'budget_used_pct', budget_used_pct, 'milestones_total', milestones_total,
    'milestones_completed', milestones_completed, 'milestones_overdue', milestones_overdue,
    'is_over_budget', is_over_budget, 'is_past_deadline', is_past_deadline,
    'is_at_risk', milestones_overdue > 0 OR is_over_budget OR is_past_deadline, 'deadline', deadline)
    ORDER BY (milestones_overdue > 0 OR is_over_budget OR is_past_deadline) DESC, name COLLATE "C", id COLLATE "C"),
    '[]'::json)::text
FROM p
"""


def quality_sql() -> str:
    """The tenant and its row count per operational source table (meta.row_counts)."""
    from ingestion.raw_schema import RAW_TABLES, TENANT_COLUMN

    # table and column names from the code's own catalog (identifiers, not values)
    counts = ", ".join(f"'{table}', (SELECT count(*) FROM {table} WHERE {TENANT_COLUMN[table]} = %(tenant)s)"
                       for table in sorted(RAW_TABLES))
    return f"""
WITH {_org_cte()}
SELECT json_build_object(
    'tenant', (SELECT json_build_object('id', id, 'slug', slug, 'name', name, 'base_currency', base_currency)
               FROM org),
    'row_counts', json_build_object({counts}))::text
"""


def artist_sql() -> str:
    """dim_artists' row and fct_artist_performance_monthly's months of one artist: COMPLETED
    bookings, value in the base currency at the service date (METRICS.md, as api_dashboard.LIVE_SQL)."""
    fx = _fx_table()
    return f"""
WITH {_org_cte()},
b AS MATERIALIZED (
    SELECT bk.currency, coalesce(bk.final_price, bk.budget) AS value, bk.duration_minutes,
           (bk.end_date AT TIME ZONE bk.timezone)::date AS service_date
    FROM bookings bk
    WHERE bk.org_id = %(tenant)s AND bk.artist_id = %(artist)s AND bk.status = 'COMPLETED'
),
v AS (
    SELECT b.*,
           CASE WHEN b.value IS NULL THEN NULL
                WHEN b.currency = org.base_currency THEN b.value
                ELSE round(b.value
                     * (SELECT f.usd_per_unit FROM {fx} f WHERE f.currency = b.currency
                        AND f.rate_date <= b.service_date ORDER BY f.rate_date DESC LIMIT 1)
                     * (SELECT f.units_per_usd FROM {fx} f WHERE f.currency = org.base_currency
                        AND f.rate_date <= b.service_date ORDER BY f.rate_date DESC LIMIT 1), 2)
           END AS value_base
    FROM b CROSS JOIN org
),
monthly AS (
    SELECT date_trunc('month', service_date)::date AS month, count(*) AS completed_bookings,
           coalesce(sum(value_base), 0)::numeric(18, 2) AS recognized_revenue,
           coalesce(sum(duration_minutes), 0)::float8 / 60 AS hours_delivered
    FROM v GROUP BY 1
)
SELECT json_build_object(
    'lifetime', (SELECT json_build_object(
        'artist_id', a.id, 'artist_name', a.name, 'stage_name', a.stage_name,
        'verification_status', a.verification_status::text, 'rating', a.rating::text, 'is_active', a.is_active,
        'base_currency', (SELECT base_currency FROM org),
        'completed_bookings', (SELECT count(*) FROM v),
        'recognized_revenue', (SELECT coalesce(sum(value_base), 0)::numeric(18, 2) FROM v)::text,
        'hours_delivered', (SELECT coalesce(sum(duration_minutes), 0)::float8 / 60 FROM v),
        'first_service_date', (SELECT min(service_date) FROM v),
        'last_service_date', (SELECT max(service_date) FROM v))
        FROM artists a WHERE a.org_id = %(tenant)s AND a.id = %(artist)s),
    'monthly', coalesce((SELECT json_agg(json_build_object(
        'month', month, 'completed_bookings', completed_bookings,
        'recognized_revenue', recognized_revenue::text, 'hours_delivered', hours_delivered) ORDER BY month)
        FROM monthly), '[]'::json))::text
"""


def check_projects(live: str, page) -> str:
    rows = json.loads(live)
    frame = page.projects
    assert len(rows) == frame.height, (len(rows), frame.height)
    live_budget = sum(Decimal(r["budget"]) for r in rows if r["budget"] is not None)
    page_budget = sum((b for b in frame["budget"].to_list() if b is not None), Decimal(0))
    assert live_budget == page_budget, (live_budget, page_budget)
    at_risk = sum(1 for r in rows if r["is_at_risk"])
    assert at_risk == int(frame["is_at_risk"].sum()), (at_risk, frame["is_at_risk"].sum())
    assert [r["project_id"] for r in rows] == frame["project_id"].to_list(), "projects in another order"
    return f"{len(rows)} projects, {at_risk} at risk, budgets {live_budget} in both"


def check_quality(live: str, page) -> str:
    answer = json.loads(live)
    # meta.row_counts holds the tables where the tenant has rows (publishing counts by GROUP BY)
    counts = {table: int(n) for table, n in answer["row_counts"].items() if int(n)}
    assert counts == {t: n for t, n in page.row_counts.items() if n}, (counts, page.row_counts)
    return f"row counts equal ({counts.get('bookings', 0):,} bookings)"


def check_artist(live: str, page) -> str:
    answer = json.loads(live)
    lifetime, mine = answer["lifetime"], page.lifetime
    assert lifetime["completed_bookings"] == mine["completed_bookings"], (lifetime, mine)
    assert Decimal(lifetime["recognized_revenue"]) == mine["recognized_revenue"], (lifetime, mine)
    assert len(answer["monthly"]) == page.monthly.height, (len(answer["monthly"]), page.monthly.height)
    assert sum(Decimal(m["recognized_revenue"]) for m in answer["monthly"]) == \
        sum(page.monthly["recognized_revenue"].to_list(), Decimal(0))
    return (f"{lifetime['completed_bookings']} completed bookings, {lifetime['recognized_revenue']} recognized, "
            f"{len(answer['monthly'])} months in both")


def check_label(live: str, page) -> str:
    answer = json.loads(live)
    kpis = answer["kpis"]
    # the default period is the last 30 days up to the as-of date, as the API's 30-day KPIs
    assert Decimal(kpis["recognized_revenue_30d"]) == page.current.recognized_revenue, (kpis, page.current)
    assert int(kpis["bookings_30d"]) == page.current.bookings, (kpis, page.current)
    return f"30-day recognized revenue {kpis['recognized_revenue_30d']} and {kpis['bookings_30d']} bookings in both"


# --- the page calls (this code or the baseline's, in a subprocess) ------------------------------------

def measure_pages(picks: list[dict], rounds: int) -> list[dict]:
    """Time each page of each pick with whatever ``dashboards`` is importable (this tree or the
    baseline's); returns rows of milliseconds and statement counts."""
    import logging

    import streamlit as st

    logging.getLogger("streamlit").setLevel(logging.ERROR)  # "no runtime": its caches still work
    from dashboards import quality_queries, queries, roster_queries
    from warehouse import reader

    clear_all = getattr(queries, "clear_caches", None)

    def clear() -> None:
        if clear_all is not None:
            clear_all()
        else:
            st.cache_data.clear()
            st.cache_resource.clear()

    warm = getattr(reader, "keep_connections_warm", None)

    def clear_keep_ready() -> None:
        clear()
        wanted = getattr(queries, "WARM_CONNECTIONS", 2)
        warm(wanted)
        deadline = time.monotonic() + 5
        while reader._POOL.ready() < wanted and time.monotonic() < deadline:  # none being made meanwhile
            time.sleep(0.005)

    statements = [0]
    original = reader.TenantSnapshot.query

    def counting(self, sql, params=None, **options):
        statements[0] += 1
        return original(self, sql, params, **options)

    try:  # the pages' Parquet reads (absent from a baseline before them)
        from dashboards import parquet_pages
    except ImportError:
        parquet_pages = None
    original_read = parquet_pages.VersionFiles.table if parquet_pages else None

    def counting_read(self, table, columns, *args, **options):
        statements[0] += 1
        return original_read(self, table, columns, *args, **options)

    try:  # the answers stored at publish time (absent from a baseline before them): one read each
        from dashboards import page_answers
    except ImportError:
        page_answers = None
    original_answer = page_answers.read_answer if page_answers else None

    def counting_answer(*args, **options):
        found = original_answer(*args, **options)
        statements[0] += found is not None
        return found

    def count(on: bool) -> None:
        reader.TenantSnapshot.query = counting if on else original
        if parquet_pages:
            parquet_pages.VersionFiles.table = counting_read if on else original_read
        if page_answers:
            page_answers.read_answer = counting_answer if on else original_answer

    rows = []
    for pick in picks:
        tenant, artist = pick["tenant_id"], pick["artist_id"]
        calls = {
            "label dashboard": lambda t=tenant: queries.label_dashboard(t, {}),
            "projects": lambda t=tenant: queries.project_health(t),
            "data and quality": lambda t=tenant: quality_queries.data_quality_details(t),
            "roster: artist": lambda t=tenant, a=artist: roster_queries.artist_analytics(t, a),
        }
        for page, call in calls.items():
            assert call() is not None, (page, tenant)
            clear()
            count(True)
            statements[0] = 0
            call()
            count(False)
            uncached = _median_ms(call, rounds, before=clear)
            ready = _median_ms(call, rounds, before=clear_keep_ready) if warm is not None else None
            call()
            cached = _median_ms(call, max(rounds, 20))
            rows.append({"label": pick["label"], "page": page, "uncached": uncached, "ready": ready,
                         "cached": cached, "statements": statements[0]})
            _say(f"{pick['label']} {page}: first view {uncached:.2f} ms"
                 + (f", blank database ready {ready:.2f} ms" if ready is not None else "")
                 + f", cached {cached:.4f} ms, {statements[0]} statements")
    return rows


def _differences(mine, sql, path: str = "answer") -> list[str]:
    """Where two page answers differ (frames: schema and rows; scalars: repr, i.e. type too)."""
    import dataclasses

    import polars as pl

    if isinstance(mine, pl.DataFrame):
        same = isinstance(sql, pl.DataFrame) and mine.schema == sql.schema and mine.equals(sql)
        return [] if same else [path]
    if dataclasses.is_dataclass(mine):
        return [d for f in dataclasses.fields(mine)
                for d in _differences(getattr(mine, f.name), getattr(sql, f.name), f"{path}.{f.name}")]
    if isinstance(mine, dict):
        if list(mine) != list(sql):
            return [f"{path} keys"]
        return [d for key in mine for d in _differences(mine[key], sql[key], f"{path}[{key!r}]")]
    return [] if repr(mine) == repr(sql) else [path]


def check_files_equal_sql(picks: list[dict]) -> None:
    """Each page's answer from the version's files equals the page's answer with every statement
    on the DuckDB reader (as the tests check on a small world; here on the published world)."""
    from dashboards import quality_queries, queries, roster_queries

    def answers(pick) -> dict:
        tid = pick["tenant_id"]
        return {"label dashboard": queries.label_dashboard(tid, {}),
                "label dashboard, last 12 months": queries.label_dashboard(tid, {"period": "last_12_months"}),
                "projects": queries.project_health(tid),
                "data and quality": quality_queries.data_quality_details(tid),
                "roster: artist": roster_queries.artist_analytics(tid, pick["artist_id"])}

    for pick in picks:
        queries.clear_caches()
        mine = answers(pick)
        queries.clear_caches()
        from_files, daily_rows = queries.FROM_FILES, queries._daily_rows
        queries.FROM_FILES = {}
        queries._daily_rows = lambda ref: queries._sql_query(ref, queries._SQL_DAILY_ROWS)
        try:
            sql = answers(pick)
        finally:
            queries.FROM_FILES, queries._daily_rows = from_files, daily_rows
        queries.clear_caches()
        differ = {page: _differences(mine[page], sql[page]) for page in mine}
        differ = {page: d for page, d in differ.items() if d}
        _say(f"{pick['label']}: pages from the files " + (f"DIFFER from SQL: {differ}" if differ
                                                           else "equal the pages from SQL (values, types, order)"))


def _compose_cost(published_dir: Path, tenant_ids: list[str]) -> None:
    """What publishing spends composing and storing the page answers (dashboards/page_precompute.py):
    every tenant's current version composed and written again, one thread, as one publish would."""
    try:
        from dashboards.page_precompute import store_page_answers
    except ImportError:
        return
    from warehouse.layout import current_version

    versions = {t: current_version(published_dir, t) for t in tenant_ids}
    started = time.perf_counter()
    answers = sum(store_page_answers(published_dir, t, v) for t, v in versions.items() if v)
    elapsed = time.perf_counter() - started
    size = sum((published_dir / t / v / "page_answers.bin").stat().st_size for t, v in versions.items() if v)
    _say(f"page answers of {len(versions):,} tenants composed and stored in {elapsed:.2f}s, one thread "
         f"({elapsed / max(len(versions), 1) * 1000:.1f} ms a tenant; {answers:,} answers, {size / 1e6:.1f} MB)")


def _baseline_tree(revision: str) -> Path:
    """The baseline commit's dashboards/, warehouse/, auditoryx/, operational/ (``git archive``)."""
    target = Path(tempfile.mkdtemp(prefix="auditoryx-page-data-baseline-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", revision,
                              "dashboards", "warehouse", "auditoryx", "operational", "ingestion"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def _measure_child(options) -> None:
    sys.path.insert(0, str(BENCH))
    sys.path.insert(0, options.code)  # the baseline's code first
    picks = json.loads(options.picks)
    print("RESULT " + json.dumps(measure_pages(picks, options.rounds)), flush=True)


# --- the run -----------------------------------------------------------------------------------------

def _load_fx(engine) -> None:
    from sqlalchemy import text

    from api_dashboard import load_fx_table

    with engine.begin() as conn:
        load_fx_table(conn)
        conn.execute(text("ANALYZE"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--bookings", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", default=None,
                        help="a commit whose dashboards/warehouse code is measured too (the 'before')")
    parser.add_argument("--measure-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--code", help=argparse.SUPPRESS)
    parser.add_argument("--picks", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.measure_child:
        _measure_child(options)
        return
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(BENCH))

    from sqlalchemy import create_engine, text

    from api_dashboard import LIVE_SQL, PG_ADMIN_URL, live_params

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    database = f"bench_pages_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{database}"'))  # a generated identifier, not a value
    url = admin.url.set(database=database).render_as_string(hide_password=False)
    folder = tempfile.mkdtemp(prefix="auditoryx-page-data-")
    os.environ.update(AUDITORYX_VAR_DIR=folder, AUDITORYX_OPERATIONAL_URL=url, AUDITORYX_AS_OF=AS_OF.isoformat())
    baseline_code = None
    try:
        from sqlalchemy import select

        from auditoryx.pipeline import refresh
        from auditoryx.settings import get_settings
        from dashboards import quality_queries, queries, roster_queries
        from operational.db import create_schema, make_engine
        from operational.generator import generate
        from operational.models import Artist

        settings = get_settings()
        engine = make_engine(url)
        create_schema(engine)
        started = time.perf_counter()
        tenants = generate(engine, tenants=options.tenants, seed=7, as_of=AS_OF, password="x",
                           target_bookings=options.bookings)
        _say(f"generated {len(tenants):,} tenants / {sum(t.bookings for t in tenants):,} bookings "
             f"in {time.perf_counter() - started:.0f}s")
        _load_fx(engine)
        started = time.perf_counter()
        refresh(settings)
        _say(f"refreshed in {time.perf_counter() - started:.0f}s")
        _compose_cost(settings.published_dir, [t.id for t in tenants])

        ordered = sorted((t for t in tenants if t.bookings), key=lambda t: t.bookings)
        chosen = {"largest": ordered[-1], "median": ordered[len(ordered) // 2], "smallest": ordered[0]}
        picks = []
        for label, tenant in chosen.items():
            with engine.connect() as conn:
                artist_id = conn.execute(select(Artist.id).where(Artist.org_id == tenant.id)
                                         .order_by(Artist.id).limit(1)).scalar_one()
            picks.append({"label": label, "tenant_id": tenant.id, "artist_id": artist_id,
                          "slug": tenant.slug, "bookings": tenant.bookings})

        # live SQL: checked against the page's own numbers, one warm-up, then the rounds
        live = {}
        peers = {
            "label dashboard": (LIVE_SQL, lambda p: live_params(p["tenant_id"], AS_OF), check_label,
                                lambda p: queries.label_dashboard(p["tenant_id"], {})),
            "projects": (projects_sql(), lambda p: {"tenant": p["tenant_id"], "as_of": AS_OF}, check_projects,
                         lambda p: queries.project_health(p["tenant_id"])),
            "data and quality": (quality_sql(), lambda p: {"tenant": p["tenant_id"]}, check_quality,
                                 lambda p: quality_queries.data_quality_details(p["tenant_id"])),
            "roster: artist": (artist_sql(), lambda p: {"tenant": p["tenant_id"], "artist": p["artist_id"]},
                               check_artist, lambda p: roster_queries.artist_analytics(p["tenant_id"], p["artist_id"])),
        }
        for pick in picks:
            with engine.connect() as conn:
                for page, (sql, params, check, page_call) in peers.items():
                    run = lambda s=sql, v=params(pick): conn.exec_driver_sql(s, v).scalar_one()  # noqa: E731
                    try:
                        matched = check(run(), page_call(pick))
                    except AssertionError as error:  # reported, not fatal: the timings still stand
                        matched = f"MISMATCH {str(error)[:300]}"
                    live[(pick["label"], page)] = _median_ms(run, options.rounds)
                    _say(f"{pick['label']} {pick['slug']} ({pick['bookings']:,} bookings) {page}: live SQL "
                         f"{live[(pick['label'], page)]:.1f} ms; {matched}")
        queries.clear_caches()
        if hasattr(queries, "FROM_FILES"):
            check_files_equal_sql(picks)

        after = measure_pages(picks, options.rounds)
        before = None
        if options.baseline:
            baseline_code = _baseline_tree(options.baseline)
            _say(f"baseline {options.baseline}: the same calls with its code, in a subprocess")
            child = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--measure-child", "--code", str(baseline_code),
                 "--picks", json.dumps(picks), "--rounds", str(options.rounds)],
                capture_output=True, text=True, env=os.environ.copy(), cwd=str(ROOT))
            result = [line for line in child.stdout.splitlines() if line.startswith("RESULT ")]
            if child.returncode != 0 or not result:
                print(child.stdout[-3000:], child.stderr[-3000:])
                raise SystemExit("the baseline measurement failed")
            print("\n".join(line for line in child.stdout.splitlines() if not line.startswith("RESULT ")))
            before = {(r["label"], r["page"]): r for r in json.loads(result[0][len("RESULT "):])}

        print()
        print("| tenant | bookings | page | statements | first view | per statement | blank database ready | "
              "cached | live SQL | live ÷ first view | live ÷ cached |"
              + (" before: first view | before: cached |" if before else ""))
        print("|---|---|---|---|---|---|---|---|---|---|---|" + ("---|---|" if before else ""))
        by_label = {p["label"]: p for p in picks}
        for row in after:
            pick = by_label[row["label"]]
            live_ms = live[(row["label"], row["page"])]
            line = (f"| {row['label']} ({pick['slug']}) | {pick['bookings']:,} | {row['page']} | {row['statements']} | "
                    f"{row['uncached']:.2f} ms | {row['uncached'] / max(row['statements'], 1):.2f} ms | "
                    f"{row['ready']:.2f} ms | {row['cached']:.4f} ms | {live_ms:.1f} ms | "
                    f"{live_ms / row['uncached']:.1f}× | {live_ms / row['cached']:,.0f}× |")
            if before:
                old = before[(row["label"], row["page"])]
                line += f" {old['uncached']:.2f} ms | {old['cached']:.3f} ms |"
            print(line)
        _say("done")
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
        if baseline_code is not None:
            shutil.rmtree(baseline_code, ignore_errors=True)


if __name__ == "__main__":
    main()
