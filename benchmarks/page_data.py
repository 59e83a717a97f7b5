"""Each executive page's data from the tenant's published version, uncached and cached, next to the
label dashboard's numbers computed by live SQL on the PostgreSQL operational database, for the
largest, a median and the smallest tenant, in one run.

Generates N tenants / M bookings (default 1,000 / 10M, seed 7) into a fresh PostgreSQL database,
refreshes once (extract → dbt → publish), then per tenant and page:
- uncached: Streamlit's caches cleared, then the page's data call (`dashboards.queries.label_dashboard`,
  `project_health`, `quality_queries.data_quality_details`, `roster_queries.artist_analytics` for the
  tenant's first artist): opening the tenant's snapshot and its queries;
- cached: the same call again (what every later rerun pays);
- live SQL: the label dashboard's KPIs, monthly revenue and top performers computed from the
  operational tables (`api_dashboard.LIVE_SQL`, METRICS.md's definitions; the API benchmark checks
  it returns the same numbers), on an analyzed database.
Medians of --rounds; the load average is printed.

    .venv/bin/python benchmarks/page_data.py [--tenants 1000] [--bookings 10000000] [--rounds 5]
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from api_dashboard import LIVE_SQL, PG_ADMIN_URL, live_params, load_fx_table  # noqa: E402

AS_OF = dt.date(2026, 10, 15)


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


def _load_fx(engine) -> None:
    from sqlalchemy import text

    with engine.begin() as conn:
        load_fx_table(conn)
        conn.execute(text("ANALYZE"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--bookings", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()

    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    database = f"bench_pages_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{database}"'))  # a generated identifier, not a value
    url = admin.url.set(database=database).render_as_string(hide_password=False)
    folder = tempfile.mkdtemp(prefix="auditoryx-page-data-")
    os.environ.update(AUDITORYX_VAR_DIR=folder, AUDITORYX_OPERATIONAL_URL=url, AUDITORYX_AS_OF=AS_OF.isoformat())
    try:
        import logging

        import streamlit as st
        from sqlalchemy import select

        logging.getLogger("streamlit").setLevel(logging.ERROR)  # "no runtime": its caches still work

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

        ordered = sorted((t for t in tenants if t.bookings), key=lambda t: t.bookings)
        picks = {"largest": ordered[-1], "median": ordered[len(ordered) // 2], "smallest": ordered[0]}

        def clear() -> None:
            st.cache_data.clear()
            st.cache_resource.clear()

        rows = []
        for label, tenant in picks.items():
            with engine.connect() as conn:
                artist_id = conn.execute(select(Artist.id).where(Artist.org_id == tenant.id)
                                         .order_by(Artist.id).limit(1)).scalar_one()
            pages = {
                "label dashboard": lambda t=tenant.id: queries.label_dashboard(t, {}),
                "projects": lambda t=tenant.id: queries.project_health(t),
                "data and quality": lambda t=tenant.id: quality_queries.data_quality_details(t),
                "roster: artist": lambda t=tenant.id, a=artist_id: roster_queries.artist_analytics(t, a),
            }
            with engine.connect() as conn:  # live SQL: one warm-up, then the rounds
                live = lambda: conn.exec_driver_sql(LIVE_SQL, live_params(tenant.id, AS_OF)).scalar_one()  # noqa: E731
                live()
                live_ms = _median_ms(live, options.rounds)
            for page, call in pages.items():
                assert call() is not None, (page, tenant.slug)
                uncached = _median_ms(call, options.rounds, before=clear)
                call()
                cached = _median_ms(call, options.rounds)
                rows.append((label, tenant, page, uncached, cached, live_ms if page == "label dashboard" else None))
                _say(f"{label} {tenant.slug} ({tenant.bookings:,} bookings), {page}: uncached {uncached:.2f} ms, "
                     f"cached {cached:.3f} ms" + (f", live SQL {live_ms:.1f} ms" if page == "label dashboard" else ""))

        print()
        print("| tenant | bookings | page | uncached | cached | live SQL (dashboard) | live ÷ uncached | live ÷ cached |")
        print("|---|---|---|---|---|---|---|---|")
        for label, tenant, page, uncached, cached, live_ms in rows:
            ratios = (f"{live_ms / uncached:.1f}× | {live_ms / cached:,.0f}×" if live_ms else " | ")
            print(f"| {label} ({tenant.slug}) | {tenant.bookings:,} | {page} | {uncached:.2f} ms | {cached:.3f} ms | "
                  f"{f'{live_ms:.1f} ms' if live_ms else ''} | {ratios} |")
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
