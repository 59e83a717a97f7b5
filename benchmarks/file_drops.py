"""Ingest a generated ~1M-row bookings CSV drop and compare with plain DuckDB reads of the same file.

Prints rows/s and peak RSS of each phase, each measured in a fresh process (so peaks don't mix):

* baseline 1: ``SELECT count(*) FROM read_csv(file)`` (DuckDB's raw CSV speed on this machine);
* baseline 2: ``CREATE TABLE AS SELECT * FROM read_csv(file)`` (a plain typed load, no validation);
* ``ingest_file_drops``: hash + UTF-8 check, staging, every validation rule, quarantine, upsert,
  registry, archive.

About 1% of the rows are bad (unknown currency, end before start, unknown artist) and a few ids
repeat, so quarantine paths are exercised. With ``--memory-limit`` DuckDB gets that limit in every
phase, showing the ingestion streams/spills rather than holding the file in memory.

    .venv/bin/python benchmarks/file_drops.py [--rows 1000000] [--memory-limit 1GB]
"""
from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TENANT_ID = "bench-tenant-0001"
ARTISTS = 1000


def generate(folder: Path, rows: int) -> Path:
    import duckdb

    target = folder / "landing" / TENANT_ID / "bookings" / "bookings.csv"  # folders are named by tenant id
    target.parent.mkdir(parents=True)
    artists = folder / "landing" / TENANT_ID / "artists" / "artists.csv"
    artists.parent.mkdir(parents=True)
    conn = duckdb.connect()
    conn.execute(f"COPY (SELECT 'art-' || i AS id, 'Artist ' || i AS name FROM range({ARTISTS}) t(i)) "
                 f"TO '{artists}' (HEADER, DELIMITER ',')")
    conn.execute(f"""
        COPY (
            SELECT
                'bk-' || CASE WHEN i % 5000 = 7 THEN i - 1 ELSE i END AS id,       -- a few duplicate ids
                CASE WHEN i % 997 = 0 THEN 'ghost' ELSE 'art-' || (i % {ARTISTS}) END AS artist_id,
                CASE WHEN i % 50 = 0 THEN '=HYPERLINK("http://x")' ELSE 'Session ' || i END AS title,
                ['RECORDING_SESSION', 'MIXING', 'MASTERING', 'PRODUCTION'][1 + i % 4] AS type,
                ['CONFIRMED', 'COMPLETED', 'CANCELLED', 'PENDING_APPROVAL'][1 + i % 4] AS status,
                strftime(TIMESTAMP '2025-01-01' + INTERVAL (i) MINUTE, '%Y-%m-%dT%H:%M:%SZ') AS start_date,
                strftime(TIMESTAMP '2025-01-01' + INTERVAL (i) MINUTE
                         + INTERVAL (CASE WHEN i % 1009 = 0 THEN -30 ELSE 120 END) MINUTE,
                         '%Y-%m-%dT%H:%M:%SZ') AS end_date,
                120 AS duration_minutes,
                CASE WHEN i % 1013 = 0 THEN 'EURO' ELSE ['USD', 'EUR', 'GBP'][1 + i % 3] END AS currency,
                ['Europe/Paris', 'America/New_York', 'UTC'][1 + i % 3] AS timezone,
                'Studio ' || (i % 40) AS location,
                i % 5 = 0 AS is_remote,
                CAST((i % 100000) / 100.0 AS DECIMAL(18,2)) AS budget,
                CAST((i % 90000) / 100.0 AS DECIMAL(18,2)) AS final_price,
                ['PENDING', 'PAID', 'PARTIAL'][1 + i % 3] AS payment_status,
                'row ' || (i + 1) AS notes
            FROM range({rows}) t(i)
        ) TO '{target}' (HEADER, DELIMITER ',')
    """)
    conn.close()
    return target


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _connect(path: Path, memory_limit: str | None):
    from warehouse.build_db import connect_build

    conn = connect_build(path)
    if memory_limit:
        conn.execute(f"SET memory_limit = '{memory_limit}'")
    return conn


def _phase_count(folder: Path, csv: Path, memory_limit: str | None, out) -> None:
    conn = _connect(folder / "count.duckdb", memory_limit)
    started = time.perf_counter()
    rows = conn.execute("SELECT count(*) FROM read_csv($p)", {"p": str(csv)}).fetchone()[0]
    out.send((rows, time.perf_counter() - started, _peak_rss_mb(), None))


def _phase_plain_load(folder: Path, csv: Path, memory_limit: str | None, out) -> None:
    conn = _connect(folder / "plain.duckdb", memory_limit)
    started = time.perf_counter()
    conn.execute("CREATE TABLE plain AS SELECT * FROM read_csv($p)", {"p": str(csv)})
    rows = conn.execute("SELECT count(*) FROM plain").fetchone()[0]
    out.send((rows, time.perf_counter() - started, _peak_rss_mb(), None))


def _phase_ingest(folder: Path, csv: Path, memory_limit: str | None, out) -> None:
    from ingestion.files import ingest_file_drops

    conn = _connect(folder / "build.duckdb", memory_limit)
    started = time.perf_counter()
    report = ingest_file_drops(conn, folder / "landing", folder / "archive", {TENANT_ID: "bench"},
                               now=dt.datetime.now(dt.timezone.utc))
    elapsed = time.perf_counter() - started
    bookings = next(f for f in report.files if f.entity == "bookings")
    ordered = conn.execute("SELECT count(*) FROM raw_files_bookings WHERE notes <> 'row ' || _row_number").fetchone()[0]
    detail = (f"status {bookings.status}, read {bookings.rows_read:,}, loaded {bookings.rows_loaded:,}, "
              f"quarantined {bookings.rows_quarantined:,}, row numbers off: {ordered}")
    out.send((bookings.rows_read, elapsed, _peak_rss_mb(), detail))


def _run(phase, folder: Path, csv: Path, memory_limit: str | None):
    context = mp.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=phase, args=(folder, csv, memory_limit, sender))
    process.start()
    result = receiver.recv()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--memory-limit", default=None, help="DuckDB memory_limit in every phase, e.g. 1GB")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="auditoryx-bench-") as name:
        folder = Path(name)
        started = time.perf_counter()
        csv = generate(folder, options.rows)
        size_mb = csv.stat().st_size / 1e6
        print(f"generated {options.rows:,} bookings, {size_mb:.0f} MB CSV in {time.perf_counter() - started:.1f}s"
              + (f"; DuckDB memory_limit {options.memory_limit}" if options.memory_limit else ""))
        results = {}
        for label, phase in (("baseline: DuckDB read_csv count", _phase_count),
                             ("baseline: plain typed load (CTAS)", _phase_plain_load),
                             ("ingest_file_drops", _phase_ingest)):
            rows, seconds, rss, detail = _run(phase, folder, csv, options.memory_limit)
            results[label] = rows / seconds
            print(f"{label:<36} {seconds:7.2f}s  {rows / seconds:>12,.0f} rows/s  peak RSS {rss:,.0f} MB"
                  + (f"\n    {detail}" if detail else ""))
        ingest = results["ingest_file_drops"]
        print(f"ingest_file_drops = {ingest / results['baseline: DuckDB read_csv count']:.2f}× the count baseline, "
              f"{ingest / results['baseline: plain typed load (CTAS)']:.2f}× the plain-load baseline (rows/s)")


if __name__ == "__main__":
    main()
