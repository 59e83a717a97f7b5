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
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import duckdb

from auditoryx.errors import AuditoryxError
from ingestion.raw_schema import RAW_TABLES, TENANT_COLUMN, raw_table_name
from warehouse.build_db import quote_identifier
from warehouse.layout import (
    CURRENT_POINTER,
    META_TABLE,
    PLATFORM_MARTS,
    PUBLISHED_MARTS,
    DamagedPointer,
    platform_dir,
    pointer_problem,
    read_pointer,
    tenant_dir,
    validate_tenant_id,
    validate_version,
)
from warehouse.dbt_runner import DBT_PROJECT_DIR
from warehouse.definitions import definitions_version
from warehouse.tenant_status import clear_status, write_failed

STAGING_DIR = "_staging"
RETIRED_DIR = "_retired"

log = logging.getLogger(__name__)
FSYNC_THREADS = 8


@dataclass(frozen=True)
class PublishResult:
    version: str
    tenant_ids: tuple[str, ...]  # the tenants whose CURRENT now names ``version``
    removed_versions: int
    # "tenant <id>: <path>: <problem>; …" for damaged pointers (repaired) and skipped tenants
    warnings: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()  # tenants that could not be published (their old CURRENT stays)
    failed: tuple[str, ...] = ()  # tenants whose build failed: not published, BUILD_STATUS.json says why


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
            SELECT tenant_id, json_group_object(source_table, n) AS row_counts FROM counts GROUP BY 1
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


def publish_tenants(
    conn: duckdb.DuckDBPyConnection,
    published_dir: Path,
    *,
    as_of: dt.date,
    tenant_ids: Iterable[str] | None = None,
    grace_seconds: int = 300,
    progress: Callable[[str], None] | None = None,
    failed: Mapping[str, Sequence[str]] | None = None,
) -> PublishResult:
    """Write a new version for each tenant (default: every tenant in raw_organizations) but the
    ``failed`` ones (tenant → reasons): those keep their CURRENT and get a BUILD_STATUS.json."""
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
        conn.executemany("INSERT INTO _publish_tenants VALUES (?)", [[t] for t in tenants])
    _build_meta(conn, version, as_of, dt.datetime.now(dt.timezone.utc))

    staging = published_dir / STAGING_DIR / version
    staging.mkdir(parents=True, exist_ok=True)
    try:
        sources = {mart: f"marts.{quote_identifier(mart)}" for mart in PUBLISHED_MARTS}
        sources[META_TABLE] = "_publish_meta"
        for table, source in sources.items():
            conn.execute(
                f"COPY (SELECT s.* FROM {source} s SEMI JOIN _publish_tenants p ON p.tenant_id = s.tenant_id "
                f"ORDER BY s.tenant_id) TO {_sql_path(staging / table)} "
                f"(FORMAT parquet, PARTITION_BY (tenant_id), WRITE_PARTITION_COLUMNS true)"
            )
            conn.execute(f"COPY (SELECT * FROM {source} LIMIT 0) TO {_sql_path(staging / (table + '.empty.parquet'))} (FORMAT parquet)")
        if progress:
            progress(f"wrote {len(sources)} tables for {len(tenants)} tenants")
        tables = tuple(sources)
        warnings: list[str] = []
        skipped: list[str] = []

        def warn(message: str) -> None:
            warnings.append(message)
            log.warning("%s", message)
            if progress:
                progress(f"warning: {message}")

        assembled: list[str] = []
        for tenant_id in tenants:
            problem = pointer_problem(tenant_dir(published_dir, tenant_id), tables)
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
    removed = 0
    for tenant_id in tenants:
        try:
            removed += remove_stale_versions(published_dir, tenant_id, grace_seconds)
        except OSError as error:  # cleanup never fails a publish
            log.warning("tenant %s: old versions not removed: %s", tenant_id, error)
    _remove_stale_staging(published_dir, grace_seconds)
    return PublishResult(version=version, tenant_ids=tuple(published), removed_versions=removed,
                         warnings=tuple(warnings), skipped=tuple(skipped), failed=tuple(failed_now))


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
                     grace_seconds: int = 300) -> str:
    """The operator's cross-tenant marts as a new version of ``published/_platform/``."""
    folder = platform_dir(Path(published_dir).resolve())
    version = new_version()
    target = folder / version
    target.mkdir(parents=True)
    for mart in PLATFORM_MARTS:
        conn.execute(f"COPY (SELECT * FROM marts.{quote_identifier(mart)}) TO {_sql_path(target / (mart + '.parquet'))} "
                     "(FORMAT parquet)")
    conn.execute("CREATE OR REPLACE TEMP TABLE _platform_meta AS SELECT ?::DATE AS as_of, "
                 "?::TIMESTAMPTZ AS refreshed_at, ?::VARCHAR AS version, "
                 "(SELECT count(*) FROM raw_organizations) AS tenants",
                 [as_of, dt.datetime.now(dt.timezone.utc), version])
    conn.execute(f"COPY _platform_meta TO {_sql_path(target / (META_TABLE + '.parquet'))} (FORMAT parquet)")
    problem = pointer_problem(folder, (*PLATFORM_MARTS, META_TABLE))
    if problem:
        log.warning("platform: %s; repaired by version %s", problem, version)
    unsynced = fsync_version_folders([target])
    if unsynced:
        raise AuditoryxError(f"platform version {target} could not be synced to disk: {unsynced[target]}")
    flip_pointer(folder, version)
    try:
        _remove_stale(folder, grace_seconds)
    except OSError as error:
        log.warning("platform: old versions not removed: %s", error)
    return version
