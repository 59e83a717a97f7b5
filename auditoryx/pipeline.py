"""The refresh: operational DB → raw tables → dbt build → published tenant versions.

Plain functions; the CLI and the Dagster assets both call these.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from auditoryx.locking import exclusive_lock
from auditoryx.settings import Settings
from ingestion.extract import ExtractionResult, Mode, extract_operational
from ingestion.files import FileDropReport, ensure_file_tables, ingest_file_drops, landing_folder
from ingestion.files.ingest import tenants_to_replay
from ingestion.fx import fx_currencies
from ingestion.operational_quarantine import apply_quarantine, plan_quarantine, quarantined_rows
from ingestion.operational_source import open_operational
from warehouse.build_db import closing_quietly, connect_build, is_damage, probe_build_database, set_aside
from warehouse.dbt_runner import build_all, tenant_failures
from warehouse.pending import mark_pending, narrow_marks, pending_marks, tenants_changing
from warehouse.publish import PublishResult, publish_platform, publish_tenants, retire_tenant
from warehouse.tenant_status import failed_tenants as failed_status

Progress = Callable[[str], None]


@dataclass(frozen=True)
class IngestResult:
    extraction: ExtractionResult
    file_drops: FileDropReport
    # operational rows kept out of the build, (tenant_id, entity, id, reason), every tenant's
    quarantined: tuple[tuple[str, str, str, str], ...] = ()

    @property
    def tenant_ids(self) -> list[str]:
        """Tenants whose raw data may have changed: extracted ones plus those with new file drops."""
        return sorted(set(self.extraction.tenant_ids) | set(self.file_drops.tenants_changed))


@dataclass(frozen=True)
class RefreshResult:
    as_of: dt.date
    ingestion: IngestResult
    publication: PublishResult
    failed_tenants: dict[str, list[str]] = field(default_factory=dict)  # tenant → why its build failed

    @property
    def extraction(self) -> ExtractionResult:
        return self.ingestion.extraction


def _say(progress: Progress | None, message: str) -> None:
    if progress:
        progress(message)


def ingest(settings: Settings, tenant_ids: Sequence[str] | None = None,
           progress: Progress | None = None, mode: Mode = "incremental") -> IngestResult:
    """Operational extraction for the given tenants, then every tenant's pending file drops.

    The tenants whose raw rows may change are marked pending first (warehouse/pending.py): the
    next dbt build then only needs to look at theirs, and, once extraction has committed, only at
    what depends on the tables it actually wrote for them.

    The build database is a cache: a damaged one is moved aside first, and a new (or deleted) one
    is filled for every tenant, whatever ``tenant_ids`` says, with the archived file drops
    replayed. Call it holding the build lock.
    """
    heal_build_database(settings, progress)
    if not settings.build_database_path.exists():
        tenant_ids = None  # a new build database: every tenant, every archived file drop
    with closing_quietly(connect_build(settings.build_database_path)) as conn:  # a close failure never hides the error
        marked_at = mark_pending(conn, tenant_ids)  # None: every tenant
        with open_operational(settings.operational_database_url) as reader:
            extraction = extract_operational(reader, conn, tenant_ids, progress, mode)
        if mode == "full" and tenant_ids is None and extraction.bound is not None:
            # every tenant read whole from the bound: older deletion records tell nothing new
            pruned = prune_deletions_below(settings.operational_database_url, extraction.bound)
            _say(progress, f"pruned {pruned} deletion records (change numbers below {extraction.bound})")
        if marked_at is not None:  # the rows are committed: say which tables changed
            if tenant_ids is not None:
                narrow_marks(conn, marked_at, extraction.changed_tables(), rows_recorded=True)
            elif read_every_tenant_from_watermarks(extraction):
                narrow_marks(conn, marked_at, extraction.changed_tables(), every_tenant=True, rows_recorded=True)
        quarantined = quarantine_operational_rows(conn, progress)
        ensure_file_tables(conn)
        mark_pending(conn, tenants_with_landing_files(settings.resolved_landing_dir, known_tenants(conn)))
        mark_pending(conn, tenants_to_replay(conn, settings.resolved_archive_dir))  # archived drops to load again
        drops = ingest_file_drops(conn, settings.resolved_landing_dir, settings.resolved_archive_dir,
                                  known_tenants(conn))
        if drops.replayed:
            _say(progress, f"file drops: {len(drops.replayed)} archived files replayed into the build database "
                           f"({sum(f.rows_loaded for f in drops.replayed)} rows loaded)")
        if drops.files:
            _say(progress, f"file drops: {len(drops.files)} files, {drops.rows_loaded} rows loaded, "
                           f"{drops.rows_quarantined} quarantined")
        return IngestResult(extraction=extraction, file_drops=drops, quarantined=quarantined)


def prune_deletions_below(url: str, bound: int) -> int:
    from operational.change_pruning import prune_change_deletions
    from operational.db import make_engine

    engine = make_engine(url)
    try:
        return prune_change_deletions(engine, bound)
    finally:
        engine.dispose()


def read_every_tenant_from_watermarks(extraction) -> bool:
    """An extraction of all tenants that read each of them from its watermarks (none read whole,
    none removed): its changed tables then describe every tenant, and the "every tenant" mark can
    be narrowed to them (a refresh where nothing changed then builds nothing)."""
    return (bool(extraction.tenant_ids) and not extraction.whole_tenants and not extraction.removed_tenants
            and set(extraction.changed_tables()) == set(extraction.tenant_ids))


def quarantine_operational_rows(conn, progress: Progress | None = None) -> tuple[tuple[str, str, str, str], ...]:
    """Keep out of the build the operational rows it could not use (a booking in a currency without
    FX rates), looking at the tenants whose raw bookings may have changed since the last successful
    build (all of them when the FX seed's currencies changed); tenants whose quarantined rows change
    are marked pending first."""
    codes = fx_currencies()
    changed = plan_quarantine(conn, codes, tenants_changing(pending_marks(conn), "bookings"))
    if changed:
        mark_pending(conn, changed)
    apply_quarantine(conn, changed, dt.datetime.now(dt.timezone.utc), codes)
    rows = tuple(quarantined_rows(conn))
    if rows:
        _say(progress, f"quarantined {len(rows)} operational rows of {len({r[0] for r in rows})} tenants "
                       f"(e.g. {rows[0][1]} {rows[0][2]}: {rows[0][3]})")
    return rows


def tenants_with_landing_files(landing_dir: Path, tenant_ids: Iterable[str]) -> list[str]:
    """Ids of the tenants with any file under their landing folder ``<landing>/<tenant_id>/``."""
    folders = {tenant_id: landing_folder(landing_dir, tenant_id) for tenant_id in tenant_ids}
    return sorted(tenant_id for tenant_id, folder in folders.items()
                  if folder.is_dir() and any(p.is_file() for p in folder.rglob("*")))


def known_tenants(conn) -> dict[str, str]:
    """tenant id → slug of the tenants in the raw tables (file drop folders are named by id; the
    slug is only a display name: it may have belonged to a deleted tenant before)."""
    return {tenant_id: slug for tenant_id, slug in conn.execute("SELECT id, slug FROM raw_organizations").fetchall()}


def build_models(settings: Settings, as_of: dt.date) -> dict[str, list[str]]:
    """dbt build; returns tenant → reasons of the tenants whose rows failed a data test (they are
    not published: see warehouse/dbt_runner.py)."""
    build_all(settings.build_database_path, settings.dbt_work_dir, as_of, threads=settings.dbt_threads)
    return tenant_failures(settings.build_database_path)


def publish(settings: Settings, as_of: dt.date, tenant_ids: Sequence[str] | None = None,
            progress: Progress | None = None) -> PublishResult:
    """Publish the given tenants (default all) and a new operator (platform) version; a tenant (and
    the platform) whose content did not change keeps its version (warehouse/publish.py).

    Tenants whose rows failed a data test of the last build keep their last good version (and a
    BUILD_STATUS.json with the reasons); tenants that failed before and pass now are published
    even when not asked for."""
    failures = tenant_failures(settings.build_database_path)
    recovered = [t for t in failed_status(settings.published_dir) if t not in failures]
    if tenant_ids is not None:
        tenant_ids = sorted(set(tenant_ids) | set(recovered))
    with closing_quietly(connect_build(settings.build_database_path)) as conn:
        if (tenant_ids is not None and not list(tenant_ids) and not failures) or not known_tenants(conn):
            # no tenant to publish (none yet, or every one gone): only the operator's version
            version = publish_platform(conn, settings.published_dir, as_of=as_of,
                                       grace_seconds=settings.publish_grace_seconds, keep_unchanged=True)
            return PublishResult(version=version, tenant_ids=(), removed_versions=0)
        # a tenant whose content did not change keeps its version (only its CHECKED_AT moves)
        result = publish_tenants(conn, settings.published_dir, as_of=as_of, tenant_ids=tenant_ids,
                                 grace_seconds=settings.publish_grace_seconds, progress=progress,
                                 failed=failures, keep_unchanged=True, annotate=_store_page_answers,
                                 annotation="the pages' stored answers")
        _say(progress, f"{len(result.tenant_ids)} tenants published, {len(result.kept)} unchanged "
                       "(kept their versions)")
        publish_platform(conn, settings.published_dir, as_of=as_of, grace_seconds=settings.publish_grace_seconds,
                         keep_unchanged=True)
        return result


def _store_page_answers(published_dir, tenant_id: str, version: str) -> int:
    """The executive pages' answers of a new version, stored in it (dashboards/page_precompute.py;
    imported when a version is written: a refresh that keeps every tenant never loads it)."""
    from dashboards.page_precompute import store_page_answers

    return store_page_answers(published_dir, tenant_id, version)


def _set_aside(settings: Settings, reason: str, progress: Progress | None) -> None:
    moved = set_aside(settings.build_database_path)
    _say(progress, f"the build database was damaged ({reason}): moved to {moved}; rebuilding it from the "
                   "operational database and the archived file drops")


def heal_build_database(settings: Settings, progress: Progress | None = None) -> bool:
    """The build database is a cache: a damaged one is moved aside (kept for inspection) so that
    this refresh rebuilds it. Returns whether it was. Call it holding the build lock."""
    problem = probe_build_database(settings.build_database_path)
    if problem is None:
        return False
    _set_aside(settings, problem, progress)
    return True


def _ingest_and_build(settings: Settings, tenant_ids: Sequence[str] | None, progress: Progress | None, mode: Mode,
                      as_of: dt.date) -> tuple[IngestResult, dict[str, list[str]]]:
    _say(progress, "extracting operational data")
    ingestion = ingest(settings, tenant_ids, progress, mode)
    extraction = ingestion.extraction
    _say(progress, f"extracted {extraction.rows.get('bookings', 0)} bookings; running dbt build (as of {as_of}; "
                   f"dbt's log: {settings.dbt_work_dir / 'logs' / 'dbt.log'})")
    failed = build_models(settings, as_of)
    _say(progress, "dbt build done")
    return ingestion, failed


def refresh(settings: Settings, tenant_ids: Sequence[str] | None = None,
            progress: Progress | None = None, mode: Mode = "incremental") -> RefreshResult:
    """Ingest, build and publish; with ``tenant_ids`` only those tenants are extracted and published.

    ``mode="full"`` re-reads every selected tenant whole (finds rows hard-deleted in the source).
    """
    as_of = settings.effective_as_of()
    with exclusive_lock(settings.resolved_warehouse_dir / "build.lock"):
        try:
            ingestion, failed = _ingest_and_build(settings, tenant_ids, progress, mode, as_of)
        except Exception as error:  # noqa: BLE001 - only a damaged file is retried, anything else re-raised
            if not is_damage(error):
                raise
            _set_aside(settings, str(error), progress)  # found damaged on the way: rebuild once
            ingestion, failed = _ingest_and_build(settings, tenant_ids, progress, mode, as_of)
        extraction = ingestion.extraction
        for tenant_id, reasons in failed.items():
            _say(progress, f"tenant {tenant_id}: build failed, keeps its last version: {'; '.join(reasons)}")
        _say(progress, "publishing tenant snapshots")
        publication = publish(settings, as_of, ingestion.tenant_ids, progress)
        for tenant_id in extraction.removed_tenants:
            retire_tenant(settings.published_dir, tenant_id)
            _say(progress, f"retired tenant {tenant_id}")
    if publication.tenant_ids:
        _say(progress, f"published version {publication.version} for {len(publication.tenant_ids)} tenants, "
                       f"{len(publication.kept)} unchanged (kept their versions)")
    elif ingestion.tenant_ids or publication.kept:
        _say(progress, f"nothing republished: {len(publication.kept)} tenants unchanged (kept their versions)")
    else:
        _say(progress, "nothing to refresh: no tenants")
    return RefreshResult(as_of=as_of, ingestion=ingestion, publication=publication, failed_tenants=failed)
