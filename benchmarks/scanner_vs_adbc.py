"""DuckDB 1.5.5's signed postgres/sqlite scanners against today's ADBC path, with the write ceiling.

One run, the same generated data for every measurement: N bookings (default 1M) over 100 tenants
generated into a fresh SQLite file and a fresh PostgreSQL database (dropped at the end). Per backend:

(a) today's path, in this interpreter (the project's DuckDB, 2.0.1): ``extract_operational(mode=
    "full")`` — ADBC → Arrow → DuckDB — of every tenant into a fresh DuckDB file, commit included;
(b) DuckDB 1.5.5 with the ``postgres_scanner`` / ``sqlite_scanner`` extensions from the
    ``duckdb-extension-*`` wheels (loaded from the wheel's file, signature checked: unsigned
    extensions stay forbidden), in a child process of a separate interpreter (``--python``): the
    bookings table scanned only, scanned into Arrow, into an in-memory database, into a DuckDB
    file with text ids and with the ids cast to ``UUID``; every raw table into a file (text and
    UUID ids), the scanner's counterpart of (a);
(c) the write ceiling in each version: the extracted bookings, already in memory as Arrow (the same
    Arrow IPC file for both versions), written into a fresh DuckDB file, text ids and UUID ids.

Every variant runs ``--repeat`` times (medians); the load average is printed around each group (2
shared cores). Rows land typed by the raw contract (``ingestion.raw_schema.RAW_TABLES``) in every
variant. Each file variant also checks that its bookings equal the ADBC extraction's (row count and
aggregates). The child also reports whether each version opens the other's database file.

    .venv/bin/python benchmarks/scanner_vs_adbc.py [--bookings 1000000] [--repeat 3] \
        [--python /tmp/h/duck155/bin/python] [--pg-url URL] [--skip-pg] [--workdir DIR]

The ``--child SPEC`` mode is the 1.5.5 side; it imports only duckdb and pyarrow (never the project).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

AS_OF = dt.date(2026, 6, 30)
EXTENSIONS = {"postgresql": "postgres_scanner", "sqlite": "sqlite_scanner"}


# ---------------------------------------------------------------- shared by both interpreters

def _load() -> str:
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])


def _median(times: list[float]) -> float:
    return statistics.median(times)


def _clock() -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, every thread, waited-for children included):
    on a shared machine the CPU seconds say what a run costs whatever else runs beside it."""
    times = os.times()
    return time.perf_counter(), times.user + times.system + times.children_user + times.children_system


def _since(start: tuple[float, float]) -> tuple[float, float]:
    now = _clock()
    return round(now[0] - start[0], 3), round(now[1] - start[1], 3)


def _id_columns(columns: dict[str, str]) -> set[str]:
    """Columns holding UUIDs as text: ``id``, ``org_id`` and the other ``*_id`` references
    (``audit_log.entity_id`` names ids of any entity: kept as text)."""
    return {c for c, t in columns.items() if t == "VARCHAR" and (c == "id" or c.endswith("_id")) and c != "entity_id"}


def _ddl(table: str, columns: dict[str, str], uuid_ids: bool) -> str:
    ids = _id_columns(columns) if uuid_ids else set()
    body = ", ".join(f'"{c}" {"UUID" if c in ids else t}' for c, t in columns.items())
    return f'CREATE TABLE "raw_{table}" ({body})'


def _typed_select(columns: dict[str, str], text_source: bool, uuid_ids: bool) -> str:
    """The contract's casts (as ingestion/extract.py types ADBC rows): SQLite text timestamps are
    parsed as TIMESTAMP and taken as UTC; ids optionally cast to UUID."""
    ids = _id_columns(columns) if uuid_ids else set()
    parts = []
    for column, sql_type in columns.items():
        quoted = f'"{column}"'
        if column in ids:
            parts.append(f"CAST({quoted} AS UUID) AS {quoted}")
        elif sql_type == "TIMESTAMPTZ" and text_source:
            parts.append(f"make_timestamptz(epoch_us(CAST({quoted} AS TIMESTAMP))) AS {quoted}")
        else:
            parts.append(f"CAST({quoted} AS {sql_type}) AS {quoted}")
    return ", ".join(parts)


# the same bookings wherever they landed: compared between the ADBC file and every other file
CHECK_SQL = ('SELECT count(*), count(DISTINCT CAST(id AS VARCHAR)), sum(final_price), sum(budget), '
             'CAST(min(start_date) AS VARCHAR), CAST(max(updated_at) AS VARCHAR), sum(duration_minutes), '
             'count(*) FILTER (WHERE is_remote), sum(length(CAST(requirements AS VARCHAR))), '
             'count(DISTINCT CAST(org_id AS VARCHAR)) FROM raw_bookings')


def _check(conn) -> list:
    return [str(value) for value in conn.execute(CHECK_SQL).fetchone()]


def _write_arrow(duckdb, folder: Path, arrow, table: str, columns: dict[str, str],
                 uuid_ids: bool) -> tuple[float, float]:
    """Wall and CPU seconds to write ``arrow`` (already in memory) into a fresh DuckDB file, commit included."""
    path = folder / f"ceiling-{uuid.uuid4().hex}.duckdb"
    conn = duckdb.connect(str(path))
    try:
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute(_ddl(table, columns, uuid_ids))
        conn.register("_incoming", arrow)
        select = _typed_select(columns, text_source=False, uuid_ids=uuid_ids)
        started = _clock()
        conn.execute("BEGIN TRANSACTION")
        conn.execute(f'INSERT INTO "raw_{table}" SELECT {select} FROM _incoming')
        conn.execute("COMMIT")
        elapsed = _since(started)
    finally:
        conn.close()
        path.unlink(missing_ok=True)
        Path(str(path) + ".wal").unlink(missing_ok=True)
    return elapsed


def _ceiling(duckdb, folder: Path, ipc: Path, columns: dict[str, str], repeat: int) -> dict:
    """Write ceiling: the bookings of the IPC file (memory-mapped, one chunk) into a fresh file."""
    import pyarrow as pa

    with pa.memory_map(str(ipc)) as source:
        arrow = pa.ipc.open_file(source).read_all().combine_chunks()
    out = {"load_before": _load()}
    for kind, uuid_ids in (("text", False), ("uuid", True)):
        runs = [_write_arrow(duckdb, folder, arrow, "bookings", columns, uuid_ids) for _ in range(repeat)]
        out[kind], out[f"{kind}_cpu"] = [r[0] for r in runs], [r[1] for r in runs]
    out["rows"] = arrow.num_rows
    out["load_after"] = _load()
    return out


# ---------------------------------------------------------------- the DuckDB 1.5.5 child

def _sql_literal(text: str) -> str:
    """A string literal for the statements that take no parameters (LOAD): paths we found
    ourselves, never a user value."""
    return "'" + text.replace("'", "''") + "'"


def _extension_file(name: str, version: str) -> Path:
    """The extension binary shipped inside the ``duckdb-extension-<name>`` wheel:
    ``duckdb_extension_<name>/extensions/v<duckdb version>/<name>.duckdb_extension``."""
    import importlib.util

    spec = importlib.util.find_spec(f"duckdb_extension_{name}")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"duckdb_extension_{name} is not installed in {sys.executable}")
    path = Path(list(spec.submodule_search_locations)[0]) / "extensions" / f"v{version}" / f"{name}.duckdb_extension"
    if not path.exists():
        raise SystemExit(f"no {name} build for DuckDB {version}: {path} is missing")
    return path


def _child_connect(duckdb, database: str, spec: dict):
    conn = duckdb.connect(database, config={
        "allow_unsigned_extensions": False,  # the wheel's binary must carry DuckDB's signature
        "autoinstall_known_extensions": False, "autoload_known_extensions": False,
        "extension_directory": spec["extension_dir"],
    })
    conn.execute(f"LOAD {_sql_literal(str(_extension_file(spec['extension'], duckdb.__version__)))}")
    conn.execute("SET TimeZone = 'UTC'")
    if spec["backend"] == "sqlite":
        conn.execute("SET sqlite_all_varchar = true")  # SQLite's dynamic types: typed by the contract, as ADBC's text
    return conn


def _source(spec: dict) -> tuple[str, list]:
    """A table function over a source table, with its bound parameters (call with the table)."""
    if spec["backend"] == "sqlite":
        return "sqlite_scan(?, ?)", [spec["source"]]
    return "postgres_scan(?, 'public', ?)", [spec["source"]]


def _child_run(spec: dict) -> dict:
    import duckdb

    folder = Path(spec["folder"])
    contract: dict[str, dict[str, str]] = spec["contract"]
    bookings = contract["bookings"]
    repeat = spec["repeat"]
    text_source = spec["backend"] == "sqlite"
    scan, params = _source(spec)
    out: dict = {"duckdb": duckdb.__version__, "backend": spec["backend"]}

    probe = _child_connect(duckdb, ":memory:", spec)
    out["extension"] = probe.execute(
        "SELECT extension_name, extension_version, install_mode, "
        "current_setting('allow_unsigned_extensions') FROM duckdb_extensions() WHERE extension_name = ?",
        [spec["extension"]]).fetchone()
    probe.close()

    def timed(database: str, work) -> tuple[tuple[float, float], list | None]:
        conn = _child_connect(duckdb, database, spec)
        try:
            started = _clock()
            check = work(conn)
            return _since(started), check
        finally:
            conn.close()

    def count_columns(conn):  # every column read, nothing kept
        counts = ", ".join(f'count("{c}")' for c in bookings)
        return [conn.execute(f"SELECT count(*), {counts} FROM {scan}", [*params, "bookings"]).fetchone()[0]]

    def to_arrow(conn):
        select = _typed_select(bookings, text_source, uuid_ids=False)
        return [conn.execute(f"SELECT {select} FROM {scan}", [*params, "bookings"]).fetch_arrow_table().num_rows]

    def load(tables: list[str], uuid_ids: bool, check: bool):
        def work(conn):
            for table in tables:
                conn.execute(_ddl(table, contract[table], uuid_ids))
            conn.execute("BEGIN TRANSACTION")
            for table in tables:
                select = _typed_select(contract[table], text_source, uuid_ids)
                conn.execute(f'INSERT INTO "raw_{table}" SELECT {select} FROM {scan}', [*params, table])
            conn.execute("COMMIT")
            return _check(conn) if check else None
        return work

    def file_run(work, keep: Path | None = None) -> tuple[tuple[float, float], list | None]:
        path = keep or folder / f"scan-{uuid.uuid4().hex}.duckdb"
        try:
            return timed(str(path), work)
        finally:
            if keep is None:
                path.unlink(missing_ok=True)
                Path(str(path) + ".wal").unlink(missing_ok=True)

    variants = {
        "scan_only": lambda: timed(":memory:", count_columns),
        "scan_to_arrow": lambda: timed(":memory:", to_arrow),
        "into_memory": lambda: timed(":memory:", load(["bookings"], False, True)),
        "file_text_ids": lambda: file_run(load(["bookings"], False, True)),
        "file_uuid_ids": lambda: file_run(load(["bookings"], True, True)),
        "all_tables_file_text_ids": lambda: file_run(load(list(contract), False, True)),
        "all_tables_file_uuid_ids": lambda: file_run(load(list(contract), True, False)),
    }
    for name, run in variants.items():
        load_before = _load()
        runs = [run() for _ in range(repeat)]
        out[name] = {"s": [r[0][0] for r in runs], "cpu": [r[0][1] for r in runs], "check": runs[0][1],
                     "load_before": load_before, "load_after": _load()}
    out["ceiling"] = _ceiling(duckdb, folder, Path(spec["ipc"]), bookings, repeat)

    # file formats: does 1.5.5 open the 2.0.1 build database, and leave one 2.0.1 may try to open?
    try:
        other = duckdb.connect(spec["adbc_file"], read_only=True)
        other.execute("SELECT count(*) FROM raw_bookings").fetchone()
        other.close()
        out["opens_2x_file"] = "yes"
    except duckdb.Error as error:
        out["opens_2x_file"] = " ".join(str(error).split())[:300]
    keep = Path(spec["leave_file"])
    file_run(load(["bookings"], False, False), keep=keep)
    return out


# ---------------------------------------------------------------- the parent (project's DuckDB)

def _generate(url: str, bookings: int) -> None:
    from operational.db import create_schema, make_engine
    from operational.generator import generate

    engine = make_engine(url)
    create_schema(engine)
    generate(engine, tenants=100, seed=1, as_of=AS_OF, password="x", target_bookings=bookings)
    engine.dispose()


def _adbc_extractions(url: str, folder: Path, repeat: int, keep: Path) -> dict:
    """Today's path: full extraction of every tenant into a fresh DuckDB file (the last one kept)."""
    from ingestion.extract import extract_operational
    from ingestion.operational_source import open_operational
    from warehouse.build_db import connect_build

    out = {"load_before": _load(), "s": [], "cpu": []}
    for attempt in range(repeat):
        path = keep if attempt == repeat - 1 else folder / f"adbc-{uuid.uuid4().hex}.duckdb"
        conn = connect_build(path)
        started = _clock()
        with open_operational(url) as reader:  # closing waits for the SQLite children: their CPU counts
            result = extract_operational(reader, conn, mode="full")
        wall, cpu = _since(started)
        out["s"].append(wall)
        out["cpu"].append(cpu)
        if path == keep:
            out["check"] = _check(conn)
        conn.close()
        if path != keep:
            path.unlink()
    out["bookings"], out["all_rows"] = result.rows["bookings"], sum(result.rows.values())
    out["load_after"] = _load()
    return out


def _export_bookings(db_file: Path, ipc: Path) -> None:
    """The extracted (contract-typed) bookings as an uncompressed Arrow IPC file, for both ceilings."""
    import duckdb
    import pyarrow as pa

    conn = duckdb.connect(str(db_file), read_only=True)
    table = conn.sql("SELECT * FROM raw_bookings").to_arrow_table()
    conn.close()
    with pa.OSFile(str(ipc), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def _opens_child_file(path: Path) -> str:
    import duckdb

    try:
        conn = duckdb.connect(str(path), read_only=True)
        conn.execute("SELECT count(*) FROM raw_bookings").fetchone()
        conn.close()
        return "yes"
    except duckdb.Error as error:
        return " ".join(str(error).split())[:300]


def _libpq_dsn(url: str) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    parts = {"host": parsed.host or "127.0.0.1", "port": parsed.port or 5432, "user": parsed.username,
             "password": parsed.password, "dbname": parsed.database}
    return " ".join(f"{k}={v}" for k, v in parts.items() if v is not None)


def _measure(backend: str, url: str, scanner_source: str, folder: Path, options) -> dict:
    import duckdb

    from ingestion.raw_schema import RAW_TABLES

    adbc_file = folder / f"adbc-{backend}.duckdb"
    adbc = _adbc_extractions(url, folder, options.repeat, adbc_file)
    ipc = folder / f"bookings-{backend}.arrow"
    _export_bookings(adbc_file, ipc)
    ceiling = _ceiling(duckdb, folder, ipc, RAW_TABLES["bookings"], options.repeat)

    spec = {"backend": backend, "source": scanner_source, "extension": EXTENSIONS[backend],
            "contract": RAW_TABLES, "repeat": options.repeat, "folder": str(folder), "ipc": str(ipc),
            "extension_dir": str(folder / "extensions"), "adbc_file": str(adbc_file),
            "leave_file": str(folder / f"from-155-{backend}.duckdb")}
    spec_file = folder / f"spec-{backend}.json"
    spec_file.write_text(json.dumps(spec))
    done = subprocess.run([options.python, os.path.abspath(__file__), "--child", str(spec_file)],
                          capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"the DuckDB 1.5.5 child failed ({done.returncode}):\n{done.stderr[-4000:]}")
    child = json.loads(done.stdout.strip().splitlines()[-1])
    child["opened_by_2x"] = _opens_child_file(Path(spec["leave_file"]))
    result = {"backend": backend, "duckdb_parent": duckdb.__version__, "adbc": adbc,
              "ceiling_parent": ceiling, "child": child}
    print(json.dumps(result), flush=True)
    _report(result)
    adbc_file.unlink()
    ipc.unlink()
    return result


def _report(result: dict) -> None:
    """A readable table: medians, rows/s, per-row share of the ceiling (text ids, same version,
    same run), for wall time and for CPU time."""
    adbc, child, parent_ceiling = result["adbc"], result["child"], result["ceiling_parent"]
    bookings, all_rows = adbc["bookings"], adbc["all_rows"]
    mismatched = [name for name, value in child.items()
                  if isinstance(value, dict) and value.get("check") and len(value["check"]) > 1
                  and value["check"] != adbc["check"]]
    print(f"\n{result['backend']}: {bookings:,} bookings, {all_rows:,} rows in all tables; "
          f"checks equal to ADBC's: {'all' if not mismatched else 'NOT ' + ', '.join(mismatched)}")
    print(f"extension: {child['extension']}")
    print("| path | DuckDB | wall s, median (runs) | rows/s | share of ceiling (wall) | CPU s, median | "
          "CPU s per 1M rows | share of ceiling (CPU) | load before → after |")
    print("|---|---|---|---|---|---|---|---|---|")

    def row(name: str, version: str, item: dict, wall_key: str, rows: int, ceiling: dict) -> None:
        wall, cpu = _median(item[wall_key]), _median(item["cpu" if wall_key == "s" else f"{wall_key}_cpu"])
        wall_c, cpu_c = _median(ceiling["text"]) / ceiling["rows"], _median(ceiling["text_cpu"]) / ceiling["rows"]
        print(f"| {name} | {version} | {wall:.2f} ({', '.join(f'{r:.2f}' for r in item[wall_key])}) | "
              f"{rows / wall:,.0f} | {wall_c / (wall / rows):.0%} | {cpu:.2f} | {cpu / rows * 1e6:.2f} | "
              f"{cpu_c / (cpu / rows):.0%} | {item['load_before']} → {item['load_after']} |")

    row("ADBC `extract_operational`, all tables → file", result["duckdb_parent"], adbc, "s", all_rows, parent_ceiling)
    for kind in ("text", "uuid"):
        row(f"ceiling: bookings Arrow in memory → file, {kind} ids", result["duckdb_parent"], parent_ceiling, kind,
            bookings, parent_ceiling)
    for name in ("scan_only", "scan_to_arrow", "into_memory", "file_text_ids", "file_uuid_ids"):
        row(f"scanner, bookings: {name}", child["duckdb"], child[name], "s", bookings, child["ceiling"])
    for name in ("all_tables_file_text_ids", "all_tables_file_uuid_ids"):
        row(f"scanner, all tables: {name}", child["duckdb"], child[name], "s", all_rows, child["ceiling"])
    for kind in ("text", "uuid"):
        row(f"ceiling: bookings Arrow in memory → file, {kind} ids", child["duckdb"], child["ceiling"], kind,
            bookings, child["ceiling"])
    print(f"1.5.5 opens the 2.0.1 file: {child['opens_2x_file']}")
    print(f"2.0.1 opens the 1.5.5 file: {child['opened_by_2x']}\n", flush=True)


def _run(options: argparse.Namespace, folder: Path) -> None:
    from sqlalchemy import create_engine, text

    print(f"load {_load()} at start", flush=True)
    if not options.skip_sqlite:
        sqlite_file = folder / "operational.sqlite"
        _generate(f"sqlite:///{sqlite_file}", options.bookings)
        _measure("sqlite", f"sqlite:///{sqlite_file}", str(sqlite_file), folder, options)
        sqlite_file.unlink()
    if options.skip_pg:
        return
    admin = create_engine(options.pg_url, isolation_level="AUTOCOMMIT")
    name = f"auditoryx_scanner_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))  # a generated identifier, not a value
    try:
        pg_url = admin.url.set(database=name).render_as_string(hide_password=False)
        _generate(pg_url, options.bookings)
        _measure("postgresql", pg_url, _libpq_dsn(pg_url), folder, options)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--python", default="/tmp/h/duck155/bin/python",
                        help="interpreter with duckdb==1.5.5 and the duckdb-extension-*-scanner wheels")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--workdir", default=None, help="where the temporary files go (a fresh folder inside)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        print(json.dumps(_child_run(json.loads(Path(options.child).read_text()))), flush=True)
        return
    if options.workdir:
        Path(options.workdir).mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="auditoryx-scanner-", dir=options.workdir))
    try:
        _run(options, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
