"""Extraction speed: operational DB (SQLite and PostgreSQL) → DuckDB raw tables.

Generates ~N bookings (default 1M) over 100 tenants into a fresh SQLite file and a fresh
PostgreSQL database, then times a full extraction (`ingestion.extract.extract_operational`,
ADBC → Arrow → DuckDB, into a fresh DuckDB file, commit included) of every tenant, and, in the
same run, a baseline: fetching the same bookings through SQLAlchemy rows
(`conn.execute(select(...)).all()`), as a row-by-row ORM-free reader would. Extraction and baseline
alternate `--repeat` times (the machine is shared: the load average is printed); prints the median
bookings/s of both, all rows/s of the extraction, and the ratio of the medians. A ceiling is
measured too: writing the same bookings, already in memory as Arrow, into a fresh DuckDB file
(no reading at all), which no extraction can beat.

    .venv/bin/python benchmarks/extraction.py [--bookings 1000000] [--repeat 3] [--pg-url URL] [--skip-pg]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, select, text

AS_OF = dt.date(2026, 6, 30)


def _generate(url: str, bookings: int) -> None:
    from operational.db import create_schema, make_engine
    from operational.generator import generate

    engine = make_engine(url)
    create_schema(engine)
    generate(engine, tenants=100, seed=1, as_of=AS_OF, password="x", target_bookings=bookings)
    engine.dispose()


def _insert_ceiling(url: str, folder: Path, repeat: int) -> float:
    """Median seconds to write the extracted bookings, already in memory as Arrow, into a fresh
    DuckDB file (insert and commit; no reading at all): the bound any extraction stays under."""
    import duckdb

    from ingestion.extract import extract_operational
    from ingestion.operational_source import open_operational
    from warehouse.build_db import connect_build

    source = folder / "ceiling-source.duckdb"
    conn = connect_build(source)
    with open_operational(url) as reader:
        extract_operational(reader, conn, mode="full")
    bookings = conn.sql("SELECT * FROM raw_bookings").to_arrow_table()
    conn.close()
    source.unlink()
    times = []
    for _ in range(repeat):
        target = folder / f"{uuid.uuid4().hex}.duckdb"
        conn = duckdb.connect(str(target))
        conn.execute("CREATE TABLE raw_bookings AS SELECT * FROM bookings LIMIT 0")
        started = time.perf_counter()
        conn.execute("BEGIN")
        conn.execute("INSERT INTO raw_bookings SELECT * FROM bookings")
        conn.execute("COMMIT")
        times.append(time.perf_counter() - started)
        conn.close()
        target.unlink()
    return statistics.median(times)


def _extract(url: str, folder: Path) -> tuple[float, int, int]:
    from ingestion.extract import extract_operational
    from ingestion.operational_source import open_operational
    from warehouse.build_db import connect_build

    path = folder / f"{uuid.uuid4().hex}.duckdb"
    conn = connect_build(path)
    started = time.perf_counter()
    with open_operational(url) as reader:
        result = extract_operational(reader, conn, mode="full")
    elapsed = time.perf_counter() - started
    conn.close()
    path.unlink()
    return elapsed, result.rows["bookings"], sum(result.rows.values())


def _sqlalchemy_baseline(url: str) -> tuple[float, int]:
    from operational.db import make_engine
    from operational.models import Booking

    engine = make_engine(url)
    started = time.perf_counter()
    with engine.connect() as conn:
        rows = conn.execute(select(Booking.__table__)).all()
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed, len(rows)


def _measure(name: str, url: str, folder: Path, repeat: int) -> dict:
    load_before = os.getloadavg()[0]
    extractions, baselines = [], []
    for _ in range(repeat):
        extractions.append(_extract(url, folder))
        baselines.append(_sqlalchemy_baseline(url))
    seconds = statistics.median(e[0] for e in extractions)
    count, all_rows = extractions[0][1], extractions[0][2]
    base_seconds = statistics.median(b[0] for b in baselines)
    base_count = baselines[0][1]
    ceiling = _insert_ceiling(url, folder, repeat)
    result = {
        "backend": name, "bookings": count, "all_rows": all_rows, "repeat": repeat,
        "extract_s": round(seconds, 2), "extract_runs_s": [round(e[0], 2) for e in extractions],
        "extract_bookings_per_s": round(count / seconds), "extract_rows_per_s": round(all_rows / seconds),
        "sqlalchemy_s": round(base_seconds, 2), "sqlalchemy_runs_s": [round(b[0], 2) for b in baselines],
        "sqlalchemy_bookings_per_s": round(base_count / base_seconds),
        "ratio": round((count / seconds) / (base_count / base_seconds), 2),
        "duckdb_insert_only_s": round(ceiling, 2), "duckdb_insert_only_bookings_per_s": round(count / ceiling),
        "load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    print(json.dumps(result))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="extraction/baseline pairs; medians are reported")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--skip-pg", action="store_true")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="auditoryx-extract-"))
    try:
        _run(options, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB "
          f"(largest child: {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MB)")


def _run(options: argparse.Namespace, folder: Path) -> None:
    sqlite_url = f"sqlite:///{folder / 'operational.sqlite'}"
    _generate(sqlite_url, options.bookings)
    _measure("sqlite", sqlite_url, folder, options.repeat)

    if not options.skip_pg:
        admin = create_engine(options.pg_url, isolation_level="AUTOCOMMIT")
        name = f"auditoryx_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            pg_url = admin.url.set(database=name).render_as_string(hide_password=False)
            _generate(pg_url, options.bookings)
            _measure("postgresql", pg_url, folder, options.repeat)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
