"""Publish every refreshed tenant's marts as a new immutable version folder, then flip pointers.

One pass writes all tenants (``COPY … PARTITION_BY (tenant_id)`` per table) into a staging folder;
files are then moved into ``published/<tenant_id>/<version>/`` and only when a tenant's version is
complete does its ``CURRENT`` pointer change (write ``CURRENT.tmp``, ``os.replace``). A crash at
any moment leaves each tenant's previous version serving; leftovers are removed by later runs.

Durability: before any pointer flips, one pass fsyncs every file of the new version folders, the
folders and their tenant folders; the flip writes and fsyncs ``CURRENT.tmp``, renames it and
fsyncs the tenant folder. A power cut therefore never leaves a pointer naming unwritten files.

Isolation: one tenant's damaged ``CURRENT`` (garbage, empty, naming a missing or incomplete
version) is reported as a warning with its tenant and path and repaired by the new version's
flip; a tenant that fails to publish is skipped with a warning. Neither stops the other tenants
nor ``_platform``. A tenant whose rows failed a data test of the build (``failed``, from
warehouse/dbt_runner.py ``tenant_failures``) is not published: its ``CURRENT`` keeps the last good
version and ``BUILD_STATUS.json`` beside it records the reasons (warehouse/tenant_status.py),
until a version of it is published again.

Unchanged content keeps its version (``keep_unchanged``, what refresh and publish use): a tenant
whose content digest (every table it would get, meta without refreshed_at and version) equals the
one recorded in the build database's ``published_digests`` for the version its healthy CURRENT
names is not rewritten; ``_platform`` likewise. Every published or kept tenant's ``CHECKED_AT``
says when this publish checked it (readers show the later of it and meta.refreshed_at).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import logging
import multiprocessing
import os
import pickle
import secrets
import shutil
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import duckdb

from auditoryx.errors import AuditoryxError
from ingestion.raw_schema import OPERATIONAL_QUARANTINE_TABLE, RAW_TABLES, TENANT_COLUMN, raw_table_name
from warehouse.build_db import quote_identifier
from warehouse.layout import (
    CURRENT_POINTER,
    META_TABLE,
    PLATFORM_DIR,
    PLATFORM_MARTS,
    PUBLISHED_MARTS,
    PUBLISHED_QUALITY_TABLES,
    DamagedPointer,
    platform_dir,
    pointer_problem,
    read_pointer,
    tenant_dir,
    validate_tenant_id,
    validate_version,
    version_time,
    write_checked,
)
from warehouse.dbt_runner import DBT_PROJECT_DIR
from warehouse.definitions import definitions_version
from warehouse.tenant_status import clear_status, failed_tenants, read_status, write_failed
from warehouse.unpublished import forget_unpublished, unpublished

STAGING_DIR = "_staging"
RETIRED_DIR = "_retired"

log = logging.getLogger(__name__)
FSYNC_THREADS = 8
# stamping and tidying kept tenants' folders: measured at 1,000 tenants, 2 threads 0.53-0.66 s of
# publishing, 1 thread 0.63-0.77 s, 8 threads 0.67-0.94 s (they contend for the GIL and the folders)
TIDY_THREADS = 2
# composing new versions' page answers (annotate): a few versions in threads of this process,
# many in worker processes (see _annotate_versions)
ANNOTATE_THREADS = 2
ANNOTATE_PROCESSES = 2
ANNOTATE_PROCESS_MIN = 100
ANNOTATE_CHUNK = 8


@dataclass(frozen=True)
class PublishResult:
    version: str
    tenant_ids: tuple[str, ...]  # the tenants whose CURRENT now names ``version``
    removed_versions: int
    # "tenant <id>: <path>: <problem>; …" for damaged pointers (repaired) and skipped tenants
    warnings: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()  # tenants that could not be published (their old CURRENT stays)
    failed: tuple[str, ...] = ()  # tenants whose build failed: not published, BUILD_STATUS.json says why
    kept: tuple[str, ...] = ()  # unchanged content: not rewritten, CURRENT still names their previous version


def new_version(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.timezone.utc)
    return validate_version(now.strftime("v%Y%m%dT%H%M%S%fZ") + "-" + secrets.token_hex(3))


def _sql_path(path: Path) -> str:
    """A path as a SQL string literal; our own folders only (COPY targets cannot be bound)."""
    text = str(path)
    if "'" in text or "\x00" in text:
        raise AuditoryxError(f"unsupported character in warehouse path: {text!r}")
    return f"'{text}'"


def _build_meta(conn: duckdb.DuckDBPyConnection, version: str, as_of: dt.date, refreshed_at: dt.datetime) -> None:
    counts = " UNION ALL ".join(
        f"SELECT {quote_identifier(TENANT_COLUMN[t])} AS tenant_id, '{t}' AS source_table, count(*) AS n "
        f"FROM {raw_table_name(t)} GROUP BY 1"
        for t in RAW_TABLES
    )
    conn.execute("DROP TABLE IF EXISTS _publish_meta")
    conn.execute(
        f"""
        CREATE TEMP TABLE _publish_meta AS
        WITH counts AS ({counts}),
        per_tenant AS (
            -- keys in a fixed order: the same counts give the same text (content digests compare it)
            SELECT tenant_id, to_json(map(list(source_table ORDER BY source_table), list(n ORDER BY source_table)))
                AS row_counts
            FROM counts GROUP BY 1
        )
        SELECT o.id AS tenant_id, o.slug AS tenant_slug, o.name AS tenant_name,
               coalesce(json_extract_string(o.settings, '$.base_currency'), 'USD') AS base_currency,
               ?::DATE AS as_of, ?::TIMESTAMPTZ AS refreshed_at, ?::VARCHAR AS version,
               coalesce(p.row_counts, '{{}}')::VARCHAR AS row_counts, ?::VARCHAR AS definitions_version
        FROM raw_organizations o
        JOIN _publish_tenants t ON t.tenant_id = o.id
        LEFT JOIN per_tenant p ON p.tenant_id = o.id
        ORDER BY o.id
        """,
        [as_of, refreshed_at, version, definitions_version(DBT_PROJECT_DIR)],
    )


# Each tenant's quarantined rows and ingestion runs, published into its own version (bounded: the
# latest ones; ``tenant_total`` says how many there are in all)
QUARANTINE_LIMIT = 500
RUNS_LIMIT = 50
_QUARANTINE_EMPTY = {"file_drop": "SELECT NULL::VARCHAR AS tenant_id, NULL::VARCHAR AS entity, NULL::VARCHAR AS file, "
                                  "NULL::BIGINT AS row_number, NULL::VARCHAR AS \"column\", NULL::VARCHAR AS value, "
                                  "NULL::VARCHAR AS reason, NULL::TIMESTAMPTZ AS quarantined_at, "
                                  "NULL::VARCHAR AS run_id LIMIT 0",
                     "operational": "SELECT NULL::VARCHAR AS tenant_id, NULL::VARCHAR AS entity, NULL::VARCHAR AS id, "
                                    "NULL::VARCHAR AS \"column\", NULL::VARCHAR AS value, NULL::VARCHAR AS reason, "
                                    "NULL::TIMESTAMPTZ AS quarantined_at LIMIT 0"}
_RUNS_EMPTY = ("SELECT NULL::VARCHAR AS run_id, NULL::VARCHAR AS source, NULL::VARCHAR AS tenant_id, "
               "NULL::VARCHAR AS entity, NULL::TIMESTAMPTZ AS started_at, NULL::TIMESTAMPTZ AS ended_at, "
               "NULL::BIGINT AS rows_read, NULL::BIGINT AS rows_loaded, NULL::BIGINT AS rows_quarantined, "
               "NULL::VARCHAR AS status, NULL::VARCHAR AS error, NULL::VARCHAR AS notes, NULL::VARCHAR AS checksum LIMIT 0")
_REGISTRY_EMPTY = ("SELECT NULL::VARCHAR AS tenant_id, NULL::VARCHAR AS entity, NULL::VARCHAR AS checksum, "
                   "NULL::VARCHAR AS file_name LIMIT 0")


def _build_quality_tables(conn: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Temp tables ``_publish_quarantined_rows`` and ``_publish_ingestion_runs`` for the tenants of
    ``_publish_tenants``: rows kept out of the build (file drops: ``quarantine``; operational rows:
    ``operational_quarantine``) with their reasons, newest first, at most QUARANTINE_LIMIT a
    tenant; and the tenant's latest RUNS_LIMIT ingestion runs (``ingestion_runs``, with the
    dropped file's name from ``file_registry``). A build database without those tables (no file
    drop yet) gives empty tables of the same columns."""
    present = {row[0] for row in conn.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND NOT temporary").fetchall()}
    files = "main.quarantine" if "quarantine" in present else f"({_QUARANTINE_EMPTY['file_drop']})"
    operational = (f"main.{OPERATIONAL_QUARANTINE_TABLE}" if OPERATIONAL_QUARANTINE_TABLE in present
                   else f"({_QUARANTINE_EMPTY['operational']})")
    runs = "main.ingestion_runs" if "ingestion_runs" in present else f"({_RUNS_EMPTY})"
    registry = ("(SELECT tenant_id, entity, checksum, file_name FROM main.file_registry)" if "file_registry" in present
                else f"({_REGISTRY_EMPTY})")
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _publish_quarantined_rows AS
        WITH rows AS (
            SELECT tenant_id, 'file drop' AS source, entity, file, row_number, NULL::VARCHAR AS record_id,
                   "column", value, reason, quarantined_at, run_id
            FROM {files} WHERE tenant_id IN (SELECT tenant_id FROM _publish_tenants)
            UNION ALL
            SELECT tenant_id, 'operational database', entity, NULL, NULL, id, "column", value, reason,
                   quarantined_at, NULL
            FROM {operational} WHERE tenant_id IN (SELECT tenant_id FROM _publish_tenants)
        )
        SELECT *, count(*) OVER (PARTITION BY tenant_id) AS tenant_total
        FROM rows
        QUALIFY row_number() OVER (PARTITION BY tenant_id ORDER BY quarantined_at DESC, source, file, row_number,
                                   record_id, "column", reason) <= ?
        """, [QUARANTINE_LIMIT])
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _publish_ingestion_runs AS
        SELECT r.tenant_id, r.run_id, r.source, r.entity, f.file_name, r.started_at, r.ended_at, r.status,
               r.rows_read, r.rows_loaded, r.rows_quarantined, r.error, r.notes,
               count(*) OVER (PARTITION BY r.tenant_id) AS tenant_total
        FROM {runs} r
        LEFT JOIN {registry} f ON f.tenant_id = r.tenant_id AND f.entity = r.entity AND f.checksum = r.checksum
        WHERE r.tenant_id IN (SELECT tenant_id FROM _publish_tenants)
        QUALIFY row_number() OVER (PARTITION BY r.tenant_id ORDER BY r.started_at DESC, r.run_id) <= ?
        """, [RUNS_LIMIT])
    return {table: f"_publish_{table}" for table in PUBLISHED_QUALITY_TABLES}


# Unchanged content keeps its version: per tenant (and for ``_platform``), a digest of everything a
# version would hold but meta's volatile fields, recorded in the build database (a cache: without
# it everyone is published once more) with the version that holds it.
DIGESTS_TABLE = "published_digests"
VOLATILE_META = ("refreshed_at", "version")
_NO_ROWS = (0, 0, 0)


def combine_digest(as_of: dt.date, definitions: str | None,
                   tables: Iterable[tuple[str, str, tuple[int, int, int]]]) -> str:
    """One digest from the as-of date, the definitions version and, per table, its name, its
    columns (``name:type,…``) and its rows' (count, xor of row hashes, sum of row hashes); the
    order of ``tables`` does not matter. Pure."""
    payload = json.dumps([as_of.isoformat(), definitions,
                          sorted([name, columns, [int(n) for n in stats]] for name, columns, stats in tables)],
                         separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _digest_relation(table: str, source: str) -> str:
    if table != META_TABLE:
        return source
    return f"(SELECT * EXCLUDE ({', '.join(VOLATILE_META)}) FROM {source})"


def _table_columns(conn: duckdb.DuckDBPyConnection, relation: str) -> str:
    return ",".join(f"{row[0]}:{row[1]}" for row in conn.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall())


def content_digests(conn: duckdb.DuckDBPyConnection, sources: Mapping[str, str], as_of: dt.date,
                    definitions: str | None, tenants: Sequence[str]) -> dict[str, str]:
    """tenant → digest of what its version would hold (``sources``: table → relation), for
    ``tenants``: one grouped query per table, combined by combine_digest."""
    conn.execute("CREATE OR REPLACE TEMP TABLE _digest_tenants (tenant_id VARCHAR)")
    conn.execute("INSERT INTO _digest_tenants SELECT unnest(?::VARCHAR[])", [list(tenants)])
    columns: dict[str, str] = {}
    stats: dict[str, dict[str, tuple[int, int, int]]] = {}
    for table, source in sources.items():
        relation = _digest_relation(table, source)
        columns[table] = _table_columns(conn, relation)
        stats[table] = {tenant: (n, xor, total) for tenant, n, xor, total in conn.execute(
            f"SELECT _digest_row.tenant_id, count(*), bit_xor(hash(_digest_row)), sum(hash(_digest_row)::HUGEINT) "
            f"FROM {relation} _digest_row SEMI JOIN _digest_tenants p ON p.tenant_id = _digest_row.tenant_id "
            f"GROUP BY _digest_row.tenant_id").fetchall()}
    return {tenant: combine_digest(as_of, definitions, [(table, columns[table], stats[table].get(tenant, _NO_ROWS))
                                                        for table in sources])
            for tenant in tenants}


def recorded_digests(conn: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, str]]:
    """tenant (or ``_platform``) → (version, digest) of its last publish that recorded one."""
    conn.execute(f"CREATE TABLE IF NOT EXISTS main.{DIGESTS_TABLE} "
                 "(tenant_id VARCHAR PRIMARY KEY, version VARCHAR NOT NULL, digest VARCHAR NOT NULL)")
    return {tenant: (version, digest) for tenant, version, digest in
            conn.execute(f"SELECT tenant_id, version, digest FROM main.{DIGESTS_TABLE}").fetchall()}


def _record_digests(conn: duckdb.DuckDBPyConnection, rows: Sequence[tuple[str, str, str]]) -> None:
    """Remember (tenant, version, digest) of what was just published; a failure only costs a
    republish next time."""
    if not rows:
        return
    try:
        recorded_digests(conn)
        # one statement over lists (executemany: 1.5 ms a row, 1.5 s for a thousand tenants)
        conn.execute(f"INSERT OR REPLACE INTO main.{DIGESTS_TABLE} "
                     "SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[])",
                     [[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]])
    except duckdb.Error as error:
        log.warning("content digests not recorded (those tenants are republished next time): %s", error)


def _still_serving(folder: Path, version: str, tables: tuple[str, ...]) -> bool:
    """``folder``'s CURRENT is healthy and names ``version``."""
    try:
        current = read_pointer(folder)
    except DamagedPointer:
        return False
    return current == version and pointer_problem(folder, tables, version=current) is None


def _unchanged(published_dir: Path, tenant_id: str, digest: str | None, recorded: Mapping[str, tuple[str, str]],
               tables: tuple[str, ...]) -> bool:
    """The tenant's content is the one its CURRENT version already holds: same digest as recorded,
    pointer healthy and naming the recorded version, and no build failure being recovered from."""
    entry = recorded.get(tenant_id)
    if digest is None or entry is None or entry[1] != digest:
        return False
    if read_status(published_dir, tenant_id) is not None:
        return False
    return _still_serving(tenant_dir(published_dir, tenant_id), entry[0], tables)


def _stamp_checked(folder: Path, when: dt.datetime) -> None:
    try:
        write_checked(folder, when)
    except OSError as error:  # readers fall back to the version's refreshed_at
        log.warning("%s: check time not recorded: %s", folder, error)


def publish_tenants(
    conn: duckdb.DuckDBPyConnection,
    published_dir: Path,
    *,
    as_of: dt.date,
    tenant_ids: Iterable[str] | None = None,
    grace_seconds: int = 300,
    progress: Callable[[str], None] | None = None,
    failed: Mapping[str, Sequence[str]] | None = None,
    keep_unchanged: bool = False,
    annotate: Callable[[Path, str, str], object] | None = None,
    annotation: str = "derived files",
) -> PublishResult:
    """Write a new version for each tenant (default: every tenant in raw_organizations) but the
    ``failed`` ones (tenant → reasons): those keep their CURRENT and get a BUILD_STATUS.json.

    ``keep_unchanged``: a tenant whose content digest equals the one recorded for the version its
    healthy CURRENT names is not rewritten (``kept``). Every published or kept tenant's folder gets
    ``CHECKED_AT`` (this publish's time).

    ``annotate(published_dir, tenant_id, version)``: called for each version written, before its
    files are synced and its CURRENT flips, to add derived files to the folder (the pages' stored
    answers, dashboards/page_precompute.py); an error there is logged and the version published
    without them (readers compose what is missing); ``annotation`` names them in the progress line."""
    published_dir = Path(published_dir).resolve()
    version = new_version()
    known = [row[0] for row in conn.execute("SELECT id FROM raw_organizations ORDER BY id").fetchall()]
    requested = known if tenant_ids is None else [validate_tenant_id(t) for t in tenant_ids]
    failed = {validate_tenant_id(t): tuple(reasons) for t, reasons in (failed or {}).items() if t in set(known)}
    failed_now: list[str] = []
    for tenant_id in sorted(failed):
        try:
            write_failed(published_dir, tenant_id, failed[tenant_id])
        except OSError as error:  # the tenant still keeps its version; only the record is missing
            log.warning("tenant %s: build failure not recorded: %s", tenant_id, error)
        failed_now.append(tenant_id)
        if progress:
            progress(f"tenant {tenant_id}: not published (keeps its last version): " + "; ".join(failed[tenant_id]))
    # gone tenants: nothing to publish; failed ones keep their last good version
    tenants = [validate_tenant_id(t) for t in requested if t in set(known) and t not in failed]
    conn.execute("CREATE OR REPLACE TEMP TABLE _publish_tenants (tenant_id VARCHAR)")
    if tenants:
        conn.execute("INSERT INTO _publish_tenants SELECT unnest(?::VARCHAR[])", [tenants])  # one statement
    now = dt.datetime.now(dt.timezone.utc)
    sources = {mart: f"marts.{quote_identifier(mart)}" for mart in PUBLISHED_MARTS}
    sources[META_TABLE] = "_publish_meta"
    sources |= {table: f"_publish_{table}" for table in PUBLISHED_QUALITY_TABLES}
    tables = tuple(sources)
    inputs_built: list[bool] = []

    def build_inputs() -> None:
        """meta and the quality tables of the tenants still in ``_publish_tenants``, once: a publish
        that keeps every tenant never needs them (meta counts every raw table's rows by tenant)."""
        if not inputs_built:
            _build_meta(conn, version, as_of, now)
            _build_quality_tables(conn)
            inputs_built.append(True)

    digests: dict[str, str] = {}
    kept: list[str] = []
    digested: list[str] = []
    if keep_unchanged and tenants:
        recorded = recorded_digests(conn)
        # a tenant no build changed since its digest was recorded still has that digest
        # (warehouse/unpublished.py): only the others' tables are read
        marked = unpublished(conn)
        digested = [t for t in tenants if marked is None or t in marked or t not in recorded]
        if digested:
            build_inputs()
        digests = content_digests(conn, sources, as_of, definitions_version(DBT_PROJECT_DIR), digested) \
            if digested else {}
        digests |= {t: recorded[t][1] for t in tenants if t not in digests}
        kept = [t for t in tenants if _unchanged(published_dir, t, digests.get(t), recorded, tables)]
        if kept:
            conn.execute("DELETE FROM _publish_tenants WHERE list_contains(?, tenant_id)", [kept])
    to_write = [t for t in tenants if t not in set(kept)]

    staging = published_dir / STAGING_DIR / version
    try:
        if to_write:
            build_inputs()
            staging.mkdir(parents=True, exist_ok=True)
            for table, source in sources.items():
                conn.execute(
                    f"COPY (SELECT s.* FROM {source} s SEMI JOIN _publish_tenants p ON p.tenant_id = s.tenant_id "
                    f"ORDER BY s.tenant_id) TO {_sql_path(staging / table)} "
                    f"(FORMAT parquet, PARTITION_BY (tenant_id), WRITE_PARTITION_COLUMNS true)"
                )
                conn.execute(f"COPY (SELECT * FROM {source} LIMIT 0) TO "
                             f"{_sql_path(staging / (table + '.empty.parquet'))} (FORMAT parquet)")
            if progress:
                progress(f"wrote {len(sources)} tables for {len(to_write)} tenants")
        required = (*PUBLISHED_MARTS, META_TABLE)  # older versions lack the quality tables: not damaged
        warnings: list[str] = []
        skipped: list[str] = []

        def warn(message: str) -> None:
            warnings.append(message)
            log.warning("%s", message)
            if progress:
                progress(f"warning: {message}")

        assembled: list[str] = []
        for tenant_id in to_write:
            problem = pointer_problem(tenant_dir(published_dir, tenant_id), required)
            if problem:
                warn(f"tenant {tenant_id}: {problem}; repaired by version {version}")
            try:
                _assemble_version(conn, staging, published_dir, tenant_id, version, tables)
            except (OSError, AuditoryxError, duckdb.Error) as error:
                _discard(tenant_dir(published_dir, tenant_id) / version)
                skipped.append(tenant_id)
                warn(f"tenant {tenant_id}: skipped, version {version} could not be written: {error}")
                continue
            assembled.append(tenant_id)
        if annotate is not None and assembled:
            started = time.perf_counter()
            _annotate_versions(annotate, published_dir, assembled, version)
            if progress:
                progress(f"{annotation} of {len(assembled)} new versions written in "
                         f"{time.perf_counter() - started:.1f}s")
        # durability: every new file and folder reaches the disk before any pointer names it
        unsynced = fsync_version_folders([tenant_dir(published_dir, t) / version for t in assembled])
        for folder, error in unsynced.items():
            tenant_id = folder.parent.name
            if tenant_id in assembled:
                assembled.remove(tenant_id)
                skipped.append(tenant_id)
                _discard(folder)
                warn(f"tenant {tenant_id}: skipped, {folder} could not be synced to disk: {error}")
        published: list[str] = []
        for tenant_id in assembled:
            try:
                _flip_current(published_dir, tenant_id, version)
            except OSError as error:
                skipped.append(tenant_id)
                warn(f"tenant {tenant_id}: skipped, {tenant_dir(published_dir, tenant_id) / CURRENT_POINTER} "
                     f"could not be replaced: {error}")
                continue
            published.append(tenant_id)
            try:
                clear_status(published_dir, tenant_id)
            except OSError as error:
                log.warning("tenant %s: old build status not removed: %s", tenant_id, error)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _record_digests(conn, [(t, version, digests[t]) for t in published if t in digests])
    if digested:  # what they serve now has a recorded digest (published) or had one (kept)
        settled = set(published) | set(kept)
        try:
            forget_unpublished(conn, [t for t in digested if t in settled], known)
        except duckdb.Error as error:  # only costs their digests again next time
            log.warning("unpublished marks not cleared: %s", error)
    def tidy(tenant_id: str) -> int:
        """Stamp a published or kept tenant's CHECKED_AT and remove its stale versions (per-tenant
        file-system work: renames and directory reads wait on the disk with the GIL released, so
        a few threads overlap them when a publish keeps a thousand tenants)."""
        if tenant_id in settled_now:
            _stamp_checked(tenant_dir(published_dir, tenant_id), now)
        try:
            return remove_stale_versions(published_dir, tenant_id, grace_seconds)
        except OSError as error:  # cleanup never fails a publish
            log.warning("tenant %s: old versions not removed: %s", tenant_id, error)
            return 0

    settled_now = {*published, *kept}
    with ThreadPoolExecutor(max_workers=min(TIDY_THREADS, max(1, len(tenants)))) as pool:
        removed = sum(pool.map(tidy, tenants))
    _remove_stale_staging(published_dir, grace_seconds)
    return PublishResult(version=version, tenant_ids=tuple(published), removed_versions=removed,
                         warnings=tuple(warnings), skipped=tuple(skipped), failed=tuple(failed_now),
                         kept=tuple(kept))


def _annotate_one(annotate: Callable[[Path, str, str], object], published_dir: Path, tenant_id: str,
                  version: str) -> str | None:
    """``annotate`` one version; the error's text when it failed (a failure only loses that
    tenant's derived files: the version is complete without them)."""
    try:
        annotate(published_dir, tenant_id, version)
    except Exception as error:  # noqa: BLE001 - derived files are optional; the version is complete
        return str(error) or type(error).__name__
    return None


def _annotate_versions(annotate: Callable[[Path, str, str], object], published_dir: Path, tenant_ids: Sequence[str],
                       version: str) -> None:
    """``annotate`` each written version: from ANNOTATE_PROCESS_MIN versions on in
    ANNOTATE_PROCESSES worker processes (composing answers is mostly Python and Polars planning:
    two threads of one process were held to 1.4 of the 2 cores by the GIL on most runs measured),
    below that in ANNOTATE_THREADS threads of this process (a one-tenant refresh pays no process
    start). Workers that cannot start or die leave the rest to the threads."""
    def report(tenant_id: str, error: str | None) -> None:
        if error is not None:
            log.warning("tenant %s: version %s published without its derived files: %s", tenant_id, version, error)

    remaining = list(tenant_ids)
    if len(remaining) >= ANNOTATE_PROCESS_MIN and _picklable(annotate):
        context = multiprocessing.get_context("spawn")  # never fork a process holding DuckDB's threads
        done = 0
        try:
            with ProcessPoolExecutor(max_workers=ANNOTATE_PROCESSES, mp_context=context) as pool:
                errors = pool.map(_annotate_one, itertools.repeat(annotate), itertools.repeat(published_dir),
                                  remaining, itertools.repeat(version), chunksize=ANNOTATE_CHUNK)
                for tenant_id, error in zip(remaining, errors):  # in order: the first ``done`` are done
                    report(tenant_id, error)
                    done += 1
        except (BrokenProcessPool, OSError) as error:
            log.warning("the answers' worker processes failed (%s): %d versions composed in this process",
                        error or type(error).__name__, len(remaining) - done)
        remaining = remaining[done:]
    if not remaining:
        return
    with ThreadPoolExecutor(max_workers=min(ANNOTATE_THREADS, len(remaining))) as pool:
        for tenant_id, error in zip(remaining, pool.map(
                lambda tenant_id: _annotate_one(annotate, published_dir, tenant_id, version), remaining)):
            report(tenant_id, error)


def _picklable(function: Callable) -> bool:
    """A module-level function (what a worker process can import by name)."""
    try:
        pickle.dumps(function)
    except (pickle.PicklingError, AttributeError, TypeError):
        return False
    return True


def _discard(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def _fsync_path(path: Path) -> None:
    """fsync one file or folder (a folder's fsync makes its new entries durable)."""
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if path.is_dir() else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_version_folders(folders: Iterable[Path]) -> dict[Path, OSError]:
    """One pass: every file of each version folder, then the folder, then its parent (the
    tenant folder that gained the version's entry) and that one's parent (which may have gained
    a new tenant folder). Files are written by DuckDB COPY and moved here; they are synced once,
    after all COPYs, not one by one as they are written.

    Returns the version folders that could not be synced (their pointers must not flip)."""
    failed: dict[Path, OSError] = {}
    parents: dict[Path, list[Path]] = {}

    def sync_folder(folder: Path) -> OSError | None:
        try:
            for child in sorted(folder.iterdir()):
                if child.is_file():
                    _fsync_path(child)
            _fsync_path(folder)  # after its files
        except OSError as error:
            return error
        return None

    folders = list(folders)
    # fsync waits on the disk with the GIL released: a few threads let the file system batch them
    with ThreadPoolExecutor(max_workers=min(FSYNC_THREADS, max(1, len(folders)))) as pool:
        outcomes = list(pool.map(sync_folder, folders))
    for folder, error in zip(folders, outcomes):
        if error is not None:
            failed[folder] = error
            continue
        parents.setdefault(folder.parent, []).append(folder)
    for parent, children in parents.items():
        try:
            _fsync_path(parent)
        except OSError as error:
            failed.update({child: error for child in children})
    for root in {parent.parent for parent in parents}:
        try:
            _fsync_path(root)
        except OSError as error:  # only new tenant folders' entries depend on it
            failed.update({child: error for parent, children in parents.items() if parent.parent == root
                           for child in children})
    return failed


def _assemble_version(conn, staging: Path, published_dir: Path, tenant_id: str, version: str,
                      tables: tuple[str, ...]) -> None:
    target = tenant_dir(published_dir, tenant_id) / version
    target.mkdir(parents=True, exist_ok=False)
    for table in tables:
        partition = staging / table / f"tenant_id={tenant_id}"
        files = sorted(partition.glob("*.parquet")) if partition.is_dir() else []
        destination = target / f"{table}.parquet"
        if not files:
            shutil.copyfile(staging / f"{table}.empty.parquet", destination)
        elif len(files) == 1:
            os.replace(files[0], destination)
        else:  # several part files: merge them into one
            listing = ", ".join(_sql_path(f) for f in files)
            conn.execute(f"COPY (SELECT * FROM read_parquet([{listing}], hive_partitioning=false)) "
                         f"TO {_sql_path(destination)} (FORMAT parquet)")


def _flip_current(published_dir: Path, tenant_id: str, version: str) -> None:
    flip_pointer(tenant_dir(published_dir, tenant_id), version)


def flip_pointer(folder: Path, version: str) -> None:
    """Point ``folder/CURRENT`` at ``version`` atomically (write a temporary file, then rename)."""
    validate_version(version)
    try:
        previous = read_pointer(folder)
    except DamagedPointer:  # a damaged pointer is what this flip repairs
        previous = None
    temporary = folder / (CURRENT_POINTER + ".tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(version + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, folder / CURRENT_POINTER)
    _fsync_path(folder)  # the rename itself is durable
    if previous and (folder / previous).is_dir():
        os.utime(folder / previous)  # retired now: the grace period for its readers starts here


def remove_stale_versions(published_dir: Path, tenant_id: str, grace_seconds: int) -> int:
    """Remove a tenant's non-current versions older than the grace period (open readers finish)."""
    return _remove_stale(tenant_dir(published_dir, tenant_id), grace_seconds)


def _remove_stale(folder: Path, grace_seconds: int) -> int:
    """Remove non-current versions past the grace period; with a damaged CURRENT (whatever it
    meant to name is unknown) or no folder, remove nothing."""
    try:
        current = read_pointer(folder)
    except DamagedPointer as error:
        log.warning("%s: old versions kept until the pointer is repaired", error)
        return 0
    if not folder.is_dir():
        return 0
    cutoff = time.time() - grace_seconds
    removed = 0
    for child in folder.iterdir():
        if child.is_dir() and child.name != current and child.stat().st_mtime < cutoff:
            shutil.rmtree(child, ignore_errors=True)
            removed += 1
    return removed


def _remove_stale_staging(published_dir: Path, grace_seconds: int) -> None:
    cutoff = time.time() - grace_seconds
    for root in (published_dir / STAGING_DIR, published_dir / RETIRED_DIR):
        if not root.is_dir():
            continue
        for child in root.iterdir():
            if child.stat().st_mtime < cutoff:
                shutil.rmtree(child, ignore_errors=True)


def retire_tenant(published_dir: Path, tenant_id: str) -> bool:
    """Stop serving a tenant: its folder moves aside (open readers finish) and is removed later."""
    folder = tenant_dir(Path(published_dir).resolve(), tenant_id)
    if not folder.is_dir():
        return False
    retired = folder.parent / RETIRED_DIR
    retired.mkdir(exist_ok=True)
    target = retired / f"{tenant_id}-{time.time_ns()}"
    os.replace(folder, target)
    os.utime(target)
    return True


def publish_platform(conn: duckdb.DuckDBPyConnection, published_dir: Path, *, as_of: dt.date,
                     grace_seconds: int = 300, keep_unchanged: bool = False) -> str:
    """The operator's cross-tenant marts as a new version of ``published/_platform/``.

    A tenant whose build failed its checks (``BUILD_STATUS.json``, written by publish_tenants)
    keeps its last good numbers here too: its ``platform_tenant_summary`` row is the one of the
    previous platform version (none: identity only, numbers NULL), and ``platform_overview`` is
    summed from those rows. Each tenant's row also says which snapshot its users see and when it
    was published, and its build failure (see :func:`_platform_sources`).

    ``keep_unchanged``: when what would be written (but meta's refreshed_at and version) has the
    digest recorded for the version the healthy CURRENT names, nothing is written and that
    version is returned. Either way ``_platform/CHECKED_AT`` says when it was checked."""
    published_dir = Path(published_dir).resolve()
    folder = platform_dir(published_dir)
    version = new_version()
    target = folder / version
    sources = _platform_sources(conn, published_dir, folder)
    now = dt.datetime.now(dt.timezone.utc)
    digest = None
    if keep_unchanged:
        digest = _platform_digest(conn, sources, as_of)
        recorded = recorded_digests(conn).get(PLATFORM_DIR)
        if recorded and recorded[1] == digest and _still_serving(folder, recorded[0], (*PLATFORM_MARTS, META_TABLE)):
            _stamp_checked(folder, now)
            return recorded[0]
    target.mkdir(parents=True)
    for mart in PLATFORM_MARTS:
        conn.execute(f"COPY (SELECT * FROM {sources.get(mart, 'marts.' + quote_identifier(mart))}) "
                     f"TO {_sql_path(target / (mart + '.parquet'))} (FORMAT parquet)")
    conn.execute("CREATE OR REPLACE TEMP TABLE _platform_meta AS SELECT ?::DATE AS as_of, "
                 "?::TIMESTAMPTZ AS refreshed_at, ?::VARCHAR AS version, "
                 "(SELECT count(*) FROM raw_organizations) AS tenants",
                 [as_of, now, version])
    conn.execute(f"COPY _platform_meta TO {_sql_path(target / (META_TABLE + '.parquet'))} (FORMAT parquet)")
    problem = pointer_problem(folder, (*PLATFORM_MARTS, META_TABLE))
    if problem:
        log.warning("platform: %s; repaired by version %s", problem, version)
    unsynced = fsync_version_folders([target])
    if unsynced:
        raise AuditoryxError(f"platform version {target} could not be synced to disk: {unsynced[target]}")
    flip_pointer(folder, version)
    if digest is not None:
        _record_digests(conn, [(PLATFORM_DIR, version, digest)])
    _stamp_checked(folder, now)
    try:
        _remove_stale(folder, grace_seconds)
    except OSError as error:
        log.warning("platform: old versions not removed: %s", error)
    return version


def _platform_digest(conn: duckdb.DuckDBPyConnection, sources: Mapping[str, str], as_of: dt.date) -> str:
    """Digest of the platform marts as publish_platform would write them, and of the tenant count."""
    tables = []
    for mart in PLATFORM_MARTS:
        relation = sources.get(mart, "marts." + quote_identifier(mart))
        stats = conn.execute(f"SELECT count(*), coalesce(bit_xor(hash(_digest_row)), 0), "
                             f"coalesce(sum(hash(_digest_row)::HUGEINT), 0) FROM {relation} _digest_row").fetchone()
        tables.append((mart, _table_columns(conn, relation), tuple(stats)))
    tenants = conn.execute("SELECT count(*) FROM raw_organizations").fetchone()[0]
    tables.append((META_TABLE, "tenants", (tenants, 0, 0)))
    return combine_digest(as_of, None, tables)


# The platform snapshot: failed tenants keep their last good numbers

SUMMARY_MART = "platform_tenant_summary"
OVERVIEW_MART = "platform_overview"
# identity of a tenant (from the current build even when its numbers are kept): never "numbers"
SUMMARY_IDENTITY = ("tenant_id", "slug", "organization_name", "organization_type", "plan", "is_active",
                    "base_currency")
# columns publishing adds to each platform_tenant_summary row (not in the dbt model)
STATUS_COLUMNS = {
    "numbers_from": "VARCHAR",          # 'this build' | 'last good build' | 'none' (failed, never passed)
    "snapshot_version": "VARCHAR",      # the version the tenant's CURRENT names (what its users see)
    "snapshot_published_at": "TIMESTAMPTZ",
    "build_failed": "BOOLEAN",
    "build_failed_since": "VARCHAR",    # ISO 8601 UTC
    "build_failure": "VARCHAR",         # the reasons, '; '-joined
}
# platform_overview from (adjusted) platform_tenant_summary rows: the same aggregation as
# dbt_project/models/marts/platform/platform_overview.sql (a test checks they agree)
_OVERVIEW_SQL = """
SELECT cast(plan AS VARCHAR) AS plan, cast(organization_type AS VARCHAR) AS organization_type,
       cast(count(*) AS BIGINT) AS tenants, cast(count(*) FILTER (WHERE is_active) AS BIGINT) AS active_tenants,
       cast(sum(total_bookings) AS BIGINT) AS total_bookings,
       cast(sum(completed_bookings) AS BIGINT) AS completed_bookings,
       cast(sum(recognized_revenue_usd) AS DECIMAL(18, 2)) AS recognized_revenue_usd
FROM {summary} GROUP BY plan, organization_type
"""
_OVERVIEW_NEEDS = ("plan", "organization_type", "is_active", "total_bookings", "completed_bookings",
                   "recognized_revenue_usd")


def _columns(conn: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    return [row[0] for row in conn.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]


def _tenant_pointer(published_dir: Path, tenant_id: str) -> str | None:
    try:
        return read_pointer(tenant_dir(published_dir, tenant_id))
    except (DamagedPointer, AuditoryxError):
        return None


def _platform_sources(conn: duckdb.DuckDBPyConnection, published_dir: Path, folder: Path) -> dict[str, str]:
    """Temp tables to publish instead of the marts: ``platform_tenant_summary`` with the failed
    tenants' rows replaced by those of the previous platform version and the status columns
    added, and ``platform_overview`` summed from it when a row was replaced. A stand-in mart
    without the expected columns is published as it is."""
    summary = f"marts.{quote_identifier(SUMMARY_MART)}"
    columns = _columns(conn, summary)
    if "tenant_id" not in columns:
        return {}
    failed = failed_tenants(published_dir)
    names = sorted(failed)
    types = {row[0]: row[1] for row in conn.execute(f"DESCRIBE SELECT * FROM {summary}").fetchall()}
    listing = ", ".join(quote_identifier(c) for c in columns)
    kept = _kept_source(conn, folder, columns, bool(names)) or summary
    conn.execute(f"CREATE OR REPLACE TEMP TABLE _platform_kept AS SELECT "
                 f"{', '.join(f'{quote_identifier(c)}::{types[c]} AS {quote_identifier(c)}' for c in columns)} "
                 f"FROM {kept} WHERE list_contains($failed, tenant_id) AND {'true' if kept != summary else 'false'}",
                 {"failed": names})
    identity_only = ", ".join(f"m.{quote_identifier(c)}" if c in SUMMARY_IDENTITY
                              else f"NULL::{types[c]} AS {quote_identifier(c)}" for c in columns)
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE _platform_rows AS "
        f"SELECT {listing}, 'this build' AS numbers_from FROM {summary} WHERE NOT list_contains($failed, tenant_id) "
        f"UNION ALL SELECT {listing}, 'last good build' FROM _platform_kept "
        f"UNION ALL SELECT {identity_only}, 'none' FROM {summary} m "
        f"WHERE list_contains($failed, m.tenant_id) AND m.tenant_id NOT IN (SELECT tenant_id FROM _platform_kept)",
        {"failed": names})
    tenants = [row[0] for row in conn.execute("SELECT tenant_id FROM _platform_rows").fetchall()]
    pointers = [_tenant_pointer(published_dir, tenant_id) for tenant_id in tenants]
    statuses = [failed.get(tenant_id) for tenant_id in tenants]
    ddl = ", ".join(f"{name} {sql_type}" for name, sql_type in STATUS_COLUMNS.items() if name != "numbers_from")
    conn.execute(f"CREATE OR REPLACE TEMP TABLE _platform_status (tenant_id VARCHAR, {ddl})")
    conn.execute(
        "INSERT INTO _platform_status SELECT unnest($ids), unnest($versions), unnest($times), unnest($failed), "
        "unnest($since), unnest($why)",
        {"ids": tenants, "versions": pointers, "times": [version_time(v) for v in pointers],
         "failed": [status is not None for status in statuses],
         "since": [status.since if status else None for status in statuses],
         "why": ["; ".join(status.reasons) if status else None for status in statuses]})
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE _platform_summary AS SELECT r.*, s.* EXCLUDE (tenant_id) "
        f"FROM _platform_rows r LEFT JOIN _platform_status s USING (tenant_id) ORDER BY r.tenant_id")
    sources = {SUMMARY_MART: "_platform_summary"}
    if failed and all(c in columns for c in _OVERVIEW_NEEDS):
        conn.execute("CREATE OR REPLACE TEMP TABLE _platform_overview AS "
                     + _OVERVIEW_SQL.format(summary="_platform_summary"))
        sources[OVERVIEW_MART] = "_platform_overview"
    return sources


def _kept_source(conn: duckdb.DuckDBPyConnection, folder: Path, columns: list[str], any_failed: bool) -> str | None:
    """The previous platform version's platform_tenant_summary (``read_parquet(…)``), where the
    failed tenants' last good numbers are (a tenant failing again is carried over again); None
    when no tenant failed or there is no usable previous version."""
    if not any_failed:
        return None
    previous = _tenant_pointer_of(folder)
    path = folder / previous / f"{SUMMARY_MART}.parquet" if previous else None
    if path is None or not path.is_file():
        return None
    source = f"read_parquet({_sql_path(path)})"
    try:
        present = set(_columns(conn, source))
    except duckdb.Error as error:
        log.warning("platform: previous version %s unreadable, failed tenants' numbers left out: %s", path, error)
        return None
    if not set(columns) <= present:
        log.warning("platform: previous version %s lacks columns, failed tenants' numbers left out", path)
        return None
    if "numbers_from" in present:  # a row without numbers (never passed) is no last good row
        return f"(SELECT * FROM {source} WHERE numbers_from IS DISTINCT FROM 'none')"
    return source


def _tenant_pointer_of(folder: Path) -> str | None:
    try:
        return read_pointer(folder)
    except DamagedPointer:
        return None
