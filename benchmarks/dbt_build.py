"""Time the dbt build over a large synthetic warehouse: full build, then an incremental build
after one tenant changed, next to a plain-DuckDB baseline measured in the same run.

The raw tables are generated directly in DuckDB with SQL (``range()`` and hash-based
pseudo-random values), with the columns and types of ``ingestion/raw_schema.py`` and dates the
shipped FX seed covers; no operational database is involved. Each build runs in a child process
(the real runner, ``warehouse.dbt_runner.build_all``) so that its peak RSS is measured alone; each
is reported as the child's wall time (interpreter start-up and imports included, as for
`auditoryx refresh`) and as the ``build_all`` call alone (as in a Dagster run, where dbt is
imported already). dbt's partial-parse cache is warmed first with a `dbt parse`, as any
deployment has it after its first invocation (the cold parse is printed separately).

    .venv/bin/python benchmarks/dbt_build.py [--tenants 1000] [--bookings 10000000] [--keep DIR]

Targets (dbt issue): full build < 25 s, incremental build < 5 s, peak RSS < 3 GB.

The full build is the first ``build_all`` on the generated data (a full refresh: no build state
yet); the incremental one follows ``change_one_tenant`` (updates incl. month moves, deletions and
insertions in one tenant). The baseline is one plain DuckDB aggregate of the same raw bookings
(value per tenant, local month and type), timed before each build.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from warehouse.build_db import ensure_raw_tables  # noqa: E402
from warehouse.pending import mark_pending, narrow_marks  # noqa: E402

AS_OF = dt.date(2025, 6, 30)
TARGET_FULL_S, TARGET_INCREMENTAL_S, TARGET_RSS_GB = 25.0, 5.0, 3.0
BUILD_SECONDS_PREFIX = "build_all seconds: "

CURRENCIES = ("USD", "USD", "USD", "USD", "USD", "USD", "USD", "USD", "EUR", "EUR", "EUR", "GBP", "JPY",
              "CAD", "AUD", "BRL", "INR", "SEK", "CHF", "KRW")
TIMEZONES = ("America/New_York", "America/Los_Angeles", "America/Chicago", "Pacific/Honolulu",
             "Europe/London", "Europe/Berlin", "Europe/Paris", "Asia/Tokyo", "Asia/Kolkata",
             "Australia/Sydney", "Pacific/Auckland", "Pacific/Kiritimati", "America/Sao_Paulo",
             "Africa/Lagos", "UTC", "Asia/Seoul")
BOOKING_TYPES = ("RECORDING_SESSION", "MIXING", "MASTERING", "PRODUCTION", "CONSULTATION", "PERFORMANCE",
                 "WORKSHOP", "OTHER")
ORG_TYPES = ("RECORD_LABEL", "PRODUCTION_STUDIO", "ENTERTAINMENT_AGENCY", "CONTENT_COMPANY",
             "EDUCATIONAL_INSTITUTION", "CORPORATE_MEDIA", "PODCAST_NETWORK", "STREAMING_PLATFORM", "INDIVIDUAL")
PLANS = ("FREE", "STUDIO_PRO", "LABEL_ENTERPRISE", "WHITE_LABEL", "CUSTOM")
ARTISTS_PER_TENANT, USERS_PER_TENANT, PROJECTS_PER_TENANT, MILESTONES_PER_PROJECT = 100, 10, 20, 5


def _list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(f"'{value}'" for value in values) + "]"


def _uuid(expression: str) -> str:
    """A UUID-shaped 36-character id from md5 of ``expression`` (ids are text in the contract)."""
    digest = f"md5({expression})"
    return (f"substr({digest}, 1, 8) || '-' || substr({digest}, 9, 4) || '-4' || substr({digest}, 14, 3) "
            f"|| '-a' || substr({digest}, 18, 3) || '-' || substr({digest}, 21, 12)")


def _pick(values: tuple[str, ...], hash_expression: str) -> str:
    return f"{_list(values)}[1 + ({hash_expression} % {len(values)})::bigint]"


def generate_raw(conn: duckdb.DuckDBPyConnection, *, tenants: int, bookings: int, as_of: dt.date) -> None:
    """Fill the raw tables (created from the contract) with ``tenants`` tenants and ``bookings``
    bookings spread uniformly over them, dates from D-730 to D+90."""
    conn.execute("SET TimeZone = 'UTC'")
    ensure_raw_tables(conn)
    d = f"DATE '{as_of.isoformat()}'"
    now = f"(TIMESTAMPTZ '{as_of.isoformat()} 12:00:00+00')"
    conn.execute(f"""
        CREATE TEMP TABLE bench_tenants AS
        SELECT k, {_uuid("'tenant-' || k")} AS id,
               {_pick(CURRENCIES, 'hash(k, 11)')} AS base_currency
        FROM range({tenants}) t(k)
    """)
    conn.execute(f"""
        INSERT INTO raw_organizations
        SELECT id, 'Bench Tenant ' || k, 'bench-' || lpad(k::varchar, 5, '0'),
               {_pick(ORG_TYPES, 'hash(k, 12)')}, {_pick(PLANS, 'hash(k, 13)')}, NULL,
               '{{}}'::JSON, json_object('base_currency', base_currency), true,
               TIMESTAMPTZ '2022-01-01 09:00:00+00', TIMESTAMPTZ '2022-01-01 09:00:00+00'
        FROM bench_tenants
    """)
    conn.execute(f"""
        INSERT INTO raw_users
        SELECT {_uuid("'user-' || t.k || '-' || j")}, t.id, 'user' || j || '@bench-' || t.k || '.example',
               'User ' || t.k || '-' || j,
               {_list(("ORG_ADMIN", "LABEL_MANAGER", "ARTIST_MANAGER", "STUDIO_MANAGER", "ACCOUNTANT",
                       "VIEWER", "CLIENT", "CLIENT", "CREATOR", "VIEWER"))}[1 + j::bigint],
               '[]'::JSON, true, NULL, TIMESTAMPTZ '2022-01-01 09:00:00+00', TIMESTAMPTZ '2022-01-01 09:00:00+00'
        FROM bench_tenants t, range({USERS_PER_TENANT}) u(j)
    """)
    conn.execute(f"""
        CREATE TEMP TABLE bench_artists AS
        SELECT t.k, j, t.id AS org_id, {_uuid("'artist-' || t.k || '-' || j")} AS id
        FROM bench_tenants t, range({ARTISTS_PER_TENANT}) a(j)
    """)
    conn.execute(f"""
        INSERT INTO raw_artists
        SELECT id, org_id, NULL, 'Artist ' || k || '-' || j, 'DJ ' || j, NULL, NULL,
               json_array({_pick(("pop", "jazz", "rock", "hip-hop", "ambient"), 'hash(k, j, 1)')}),
               '[]'::JSON, NULL, NULL, '{{}}'::JSON,
               {_pick(("VERIFIED", "VERIFIED", "VERIFIED", "PENDING", "REJECTED", "SUSPENDED"), 'hash(k, j, 2)')},
               (250 + hash(k, j, 3) % 251)::DECIMAL(18, 0) * 0.01, 0, 0, true,
               TIMESTAMPTZ '2022-01-01 09:00:00+00', TIMESTAMPTZ '2022-01-01 09:00:00+00'
        FROM bench_artists
    """)
    conn.execute(f"""
        CREATE TEMP TABLE bench_projects AS
        SELECT t.k, j, t.id AS org_id, t.base_currency, {_uuid("'project-' || t.k || '-' || j")} AS id,
               {d} - (20 + hash(t.k, j, 4) % 480)::int AS start_date
        FROM bench_tenants t, range({PROJECTS_PER_TENANT}) p(j)
    """)
    conn.execute(f"""
        INSERT INTO raw_projects
        SELECT id, org_id, 'Project ' || k || '-' || j, NULL, {_pick(("ALBUM", "SINGLE", "EP", "FILM_SCORE"), 'hash(k, j, 5)')},
               {_pick(("PLANNING", "IN_PROGRESS", "IN_PROGRESS", "ON_HOLD", "COMPLETED", "CANCELLED"), 'hash(k, j, 6)')},
               'MEDIUM', start_date, NULL, start_date + (60 + hash(k, j, 7) % 340)::int,
               (200000 + hash(k, j, 8) % 8000000)::DECIMAL(18, 0) * 0.01,
               (hash(k, j, 9) % 9000000)::DECIMAL(18, 0) * 0.01,
               base_currency, NULL, NULL, NULL,
               TIMESTAMPTZ '2023-01-01 09:00:00+00', TIMESTAMPTZ '2023-01-01 09:00:00+00'
        FROM bench_projects
    """)
    conn.execute(f"""
        INSERT INTO raw_project_users
        SELECT {_uuid("'pu-' || p.k || '-' || p.j || '-' || r")}, p.org_id, p.id,
               {_uuid("'user-' || p.k || '-' || r")}, ['OWNER', 'MANAGER'][1 + r::bigint],
               TIMESTAMPTZ '2023-01-01 09:00:00+00', TIMESTAMPTZ '2023-01-01 09:00:00+00'
        FROM bench_projects p, range(2) m(r)
    """)
    conn.execute(f"""
        INSERT INTO raw_project_milestones
        SELECT {_uuid("'ms-' || p.k || '-' || p.j || '-' || m")}, p.org_id, p.id, 'Milestone ' || m, NULL,
               p.start_date + ((m + 1) * (15 + hash(p.k, p.j, m) % 45))::int,
               {_pick(("PENDING", "IN_PROGRESS", "COMPLETED", "COMPLETED", "OVERDUE"), 'hash(p.k, p.j, m, 1)')},
               m, NULL, TIMESTAMPTZ '2023-01-01 09:00:00+00', TIMESTAMPTZ '2023-01-01 09:00:00+00'
        FROM bench_projects p, range({MILESTONES_PER_PROJECT}) s(m)
    """)
    # bookings: tenant k = i mod tenants; every value a function of hash(i, salt)
    conn.execute(f"""
        INSERT INTO raw_bookings
        WITH base AS (
            SELECT i, i % {tenants} AS k,
                   TIMESTAMPTZ '{as_of.isoformat()} 00:00:00+00'
                       + to_days((hash(i, 1) % 821)::int - 730)
                       + to_minutes(((hash(i, 2) % 96) * 15)::int) AS start_at,
                   CASE WHEN i % 97 = 0 THEN 1410 ELSE 30 + (hash(i, 3) % 32) * 15 END AS minutes,
                   hash(i, 4) % 100 AS status_draw,
                   hash(i, 5) AS h5, hash(i, 6) AS h6, hash(i, 7) AS h7, hash(i, 8) AS h8
            FROM range({bookings}) r(i)
        ),
        timed AS (
            SELECT *, start_at + to_minutes(minutes::int) AS end_at FROM base
        ),
        statused AS (
            SELECT *,
                CASE
                    WHEN end_at <= {now} THEN CASE
                        WHEN status_draw < 78 THEN 'COMPLETED' WHEN status_draw < 90 THEN 'CANCELLED'
                        WHEN status_draw < 93 THEN 'DISPUTE' WHEN status_draw < 97 THEN 'CONFIRMED' ELSE 'DRAFT' END
                    WHEN start_at <= {now} THEN CASE WHEN status_draw < 92 THEN 'IN_PROGRESS' ELSE 'CANCELLED' END
                    ELSE CASE
                        WHEN status_draw < 10 THEN 'DRAFT' WHEN status_draw < 35 THEN 'PENDING_APPROVAL'
                        WHEN status_draw < 60 THEN 'APPROVED' WHEN status_draw < 92 THEN 'CONFIRMED'
                        ELSE 'CANCELLED' END
                END AS status
            FROM timed
        )
        SELECT
            {_uuid("'booking-' || b.i")},
            t.id,
            CASE WHEN b.h5 % 10 < 4 THEN {_uuid("'project-' || b.k || '-' || (b.h5 % " + str(PROJECTS_PER_TENANT) + ")")} END,
            {_uuid("'artist-' || b.k || '-' || (b.h6 % " + str(ARTISTS_PER_TENANT) + ")")},
            {_uuid("'user-' || b.k || '-' || 6")},
            {_uuid("'user-' || b.k || '-' || 1")},
            NULL,
            'Booking ' || b.i,
            {_pick(BOOKING_TYPES, 'b.h7')},
            b.status,
            {_pick(("LOW", "MEDIUM", "MEDIUM", "HIGH", "URGENT"), 'b.h8')},
            b.start_at, b.end_at, b.minutes::int,
            {_pick(TIMEZONES, 'b.h5 // 16')},
            NULL, b.h8 % 5 = 0,
            CASE WHEN b.h7 % 10 = 0 THEN NULL
                 ELSE (5000 + b.h6 // 100 % 500000)::DECIMAL(18, 0) * 0.01 END,
            CASE WHEN b.status = 'COMPLETED' AND b.h8 % 100 < 85
                 THEN (5000 + b.h8 // 100 % 600000)::DECIMAL(18, 0) * 0.01 END,
            CASE WHEN b.h6 // 7 % 100 < 85 THEN t.base_currency ELSE {_pick(("USD", "EUR", "GBP"), 'b.h7 // 8')} END,
            CASE b.status
                WHEN 'COMPLETED' THEN {_pick(("PAID",) * 16 + ("PARTIAL", "PENDING", "PENDING", "DISPUTED"), 'b.h8 // 1000')}
                WHEN 'CANCELLED' THEN {_pick(("PENDING", "REFUNDED"), 'b.h8 // 1000')}
                WHEN 'DISPUTE' THEN 'DISPUTED'
                ELSE 'PENDING' END,
            '{{}}'::JSON, '[]'::JSON, NULL,
            b.start_at - INTERVAL 30 DAY,
            least(b.end_at, {now})
        FROM statused b
        JOIN bench_tenants t ON t.k = b.k
    """)
    conn.execute(f"""
        INSERT INTO raw_audit_log
        SELECT {_uuid("'audit-' || t.k || '-' || n")}, t.id, {_uuid("'user-' || t.k || '-' || (n % 3)")},
               CASE WHEN n % 4 = 0 THEN 'create' ELSE 'update' END, 'bookings',
               {_uuid("'booking-' || (n * " + str(tenants) + " + t.k)")},
               CASE WHEN n % 4 = 0 THEN NULL ELSE json_object('status', 'CONFIRMED') END,
               CASE WHEN n % 4 = 0 THEN json_object('title', 'Booking ' || n) ELSE json_object('status', 'COMPLETED') END,
               {now} - to_minutes((n * 37)::int)
        FROM bench_tenants t, range(100) a(n)
    """)
    for table in ("bench_tenants", "bench_artists", "bench_projects"):
        conn.execute(f"DROP TABLE {table}")
    conn.execute("CHECKPOINT")


def change_one_tenant(conn: duckdb.DuckDBPyConnection, *, as_of: dt.date, mark: bool = True) -> dict[str, int]:
    """What a one-tenant refresh does to the raw tables: update some bookings (status, price,
    a move to another month), delete some, insert some, all in the first tenant. With ``mark``,
    the tenant is first marked pending and, once the changes are committed, its mark narrowed to
    the bookings table, as `auditoryx refresh --tenant` does (extraction names the tables it wrote)."""
    now = f"TIMESTAMPTZ '{as_of.isoformat()} 12:00:00+00'"
    tenant = conn.execute("SELECT min(org_id) FROM raw_bookings").fetchall()[0][0]
    marked_at = mark_pending(conn, [tenant]) if mark else None
    conn.execute("BEGIN")
    updated = conn.execute(f"""
        UPDATE raw_bookings
        SET status = 'COMPLETED', payment_status = 'PENDING', final_price = coalesce(final_price, 10.00) + 1,
            start_date = start_date - INTERVAL 40 DAY, end_date = end_date - INTERVAL 40 DAY,
            updated_at = {now} + INTERVAL 1 HOUR
        WHERE org_id = ? AND hash(id) % 20 = 0
    """, [tenant]).fetchall()[0][0]
    deleted = conn.execute("DELETE FROM raw_bookings WHERE org_id = ? AND hash(id) % 20 = 1",
                           [tenant]).fetchall()[0][0]
    inserted = conn.execute(f"""
        INSERT INTO raw_bookings
        SELECT 'new-' || id, org_id, project_id, artist_id, client_id, created_by_id, assigned_to_id, title, type,
               status, priority, start_date + INTERVAL 3 DAY, end_date + INTERVAL 3 DAY, duration_minutes, timezone,
               location, is_remote, budget, final_price, currency, payment_status, requirements, deliverables,
               notes, created_at, {now} + INTERVAL 1 HOUR
        FROM raw_bookings AS source WHERE org_id = ? AND hash(id) % 20 = 2
          AND NOT EXISTS (SELECT 1 FROM raw_bookings AS copy WHERE copy.id = 'new-' || source.id)
    """, [tenant]).fetchall()[0][0]
    conn.execute("COMMIT")
    if marked_at is not None:
        narrow_marks(conn, marked_at, {tenant: {"bookings"}})
    conn.execute("CHECKPOINT")
    return {"updated": updated, "deleted": deleted, "inserted": inserted}


def baseline(db: Path) -> float:
    """The same raw bookings aggregated by plain DuckDB (value per tenant, month, type)."""
    started = time.perf_counter()
    conn = duckdb.connect(str(db), read_only=True)
    try:
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute("""
            SELECT org_id, date_trunc('month', timezone(timezone, end_date)) AS month, type,
                   sum(coalesce(final_price, budget)) FILTER (WHERE status = 'COMPLETED'),
                   count(*) FILTER (WHERE status <> 'DRAFT')
            FROM raw_bookings GROUP BY ALL
        """).fetchall()
    finally:
        conn.close()
    return time.perf_counter() - started


def _child_build(db: str, work: str, as_of: str, threads: int) -> None:
    """In the child: ``build_all`` (after the imports), printing its own duration last."""
    import dbt.cli.main  # noqa: F401  (imported, as in a running Dagster code location, before the clock starts)
    from warehouse.dbt_runner import build_all
    started = time.perf_counter()
    build_all(Path(db), Path(work), dt.date.fromisoformat(as_of), threads=threads)
    print(f"{BUILD_SECONDS_PREFIX}{time.perf_counter() - started:.3f}", flush=True)


def _child_parse(db: str, work: str, as_of: str) -> None:
    from warehouse.dbt_runner import run_dbt
    run_dbt(["parse"], build_db=Path(db), work_dir=Path(work), as_of=dt.date.fromisoformat(as_of))


def _run_child(call: str, log: Path) -> tuple[float, float]:
    """Run ``call`` (a function of this module) in a child Python: wall seconds, peak RSS in GB."""
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); import benchmarks.dbt_build as bench; bench.{call}"
    started = time.perf_counter()
    with log.open("w") as output:
        child = subprocess.Popen([sys.executable, "-c", code], stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)  # the rusage of this child alone
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.stderr.write(log.read_text()[-4000:])
        raise SystemExit(f"benchmark child failed: {call}")
    return elapsed, usage.ru_maxrss / 1024 / 1024  # ru_maxrss is in KiB on Linux


def warm_parse_cache(db: Path, work: Path) -> float:
    """`dbt parse` into the work folder (not timed as a build): a deployed project always has dbt's
    partial-parse cache from its previous invocation; a cold parse of the project costs ~1.7 s more."""
    elapsed, _ = _run_child(f"_child_parse({str(db)!r}, {str(work)!r}, {AS_OF.isoformat()!r})",
                            work.parent / "parse.log")
    return elapsed


def timed_build(db: Path, work: Path, threads: int) -> tuple[float, float, float]:
    """Run ``build_all`` in a child process: wall seconds of the process, seconds of the
    ``build_all`` call inside it (without interpreter start-up and imports), peak RSS in GB."""
    log = work.parent / "build.log"
    elapsed, rss = _run_child(
        f"_child_build({str(db)!r}, {str(work)!r}, {AS_OF.isoformat()!r}, {threads})", log)
    reported = [line for line in log.read_text().splitlines() if line.startswith(BUILD_SECONDS_PREFIX)]
    return elapsed, float(reported[-1][len(BUILD_SECONDS_PREFIX):]), rss


def slowest_nodes(work: Path, count: int = 5) -> str:
    """The slowest dbt nodes of the last build (from run_results.json), for the report."""
    results = json.loads((work / "target" / "run_results.json").read_text())["results"]
    slowest = sorted(results, key=lambda result: -result["execution_time"])[:count]
    return ", ".join(f"{r['unique_id'].split('.')[2][:48]} {r['execution_time']:.1f}s" for r in slowest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--bookings", type=int, default=10_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it (default: a temp folder)")
    options = parser.parse_args()

    print(f"load average before the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    folder = options.keep or Path(tempfile.mkdtemp(prefix="dbt_bench_"))
    folder.mkdir(parents=True, exist_ok=True)
    db, work = folder / "build.duckdb", folder / "dbt"
    for stale in (db, db.with_suffix(".duckdb.wal")):
        stale.unlink(missing_ok=True)
    shutil.rmtree(work, ignore_errors=True)
    try:
        started = time.perf_counter()
        conn = duckdb.connect(str(db))
        try:
            generate_raw(conn, tenants=options.tenants, bookings=options.bookings, as_of=AS_OF)
        finally:
            conn.close()
        print(f"generated {options.tenants:,} tenants / {options.bookings:,} bookings in "
              f"{time.perf_counter() - started:.1f}s ({db.stat().st_size / 1e9:.2f} GB file)", flush=True)

        parse_s = warm_parse_cache(db, work)
        print(f"dbt parse (cold, warms the partial-parse cache; not part of the builds): {parse_s:.1f}s", flush=True)
        base_full = baseline(db)
        full_s, full_build_s, full_rss = timed_build(db, work, options.threads)
        print(f"full build:        {full_s:6.1f}s process, {full_build_s:5.1f}s build_all  peak RSS {full_rss:.2f} GB  "
              f"(baseline aggregate {base_full:.2f}s → {full_s / base_full:.1f}×)", flush=True)
        print(f"  slowest: {slowest_nodes(work)}", flush=True)

        incremental = {}
        for scoped in (True, False):  # a one-tenant refresh marks its tenant; an all-tenant one does not
            conn = duckdb.connect(str(db))
            try:
                changes = change_one_tenant(conn, as_of=AS_OF, mark=scoped)
            finally:
                conn.close()
            base_incr = baseline(db)
            incr_s, incr_build_s, incr_rss = timed_build(db, work, options.threads)
            incremental[scoped] = (incr_s, incr_build_s, incr_rss)
            label = "incremental, scoped to the changed tenant" if scoped else "incremental, unscoped"
            print(f"{label}: {incr_s:6.1f}s process, {incr_build_s:5.1f}s build_all  peak RSS {incr_rss:.2f} GB  "
                  f"(baseline aggregate {base_incr:.2f}s → {incr_s / base_incr:.1f}×; one tenant: {json.dumps(changes)})")
            print(f"  slowest: {slowest_nodes(work)}")
        incr_s, incr_build_s, incr_rss = incremental[True]
        print(f"targets: full {full_s / TARGET_FULL_S:.2f}× of {TARGET_FULL_S:.0f}s, incremental "
              f"{incr_s / TARGET_INCREMENTAL_S:.2f}× of {TARGET_INCREMENTAL_S:.0f}s (build_all alone "
              f"{incr_build_s / TARGET_INCREMENTAL_S:.2f}×), peak RSS "
              f"{max(full_rss, incr_rss) / TARGET_RSS_GB:.2f}× of {TARGET_RSS_GB:.0f} GB")
    finally:
        if options.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
