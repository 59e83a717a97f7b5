"""The refresh: operational DB → raw tables → dbt build → published tenant versions.

Plain functions; the CLI and the Dagster assets both call these.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from auditoryx.locking import exclusive_lock
from auditoryx.settings import Settings
from ingestion.extract import ExtractionResult, Mode, extract_operational
from ingestion.files import FileDropReport, ensure_file_tables, ingest_file_drops, landing_folder
from ingestion.operational_source import open_operational
from warehouse.build_db import closing_quietly, connect_build
from warehouse.dbt_runner import build_all
from warehouse.pending import mark_pending, narrow_marks
from warehouse.publish import PublishResult, publish_platform, publish_tenants, retire_tenant

Progress = Callable[[str], None]


@dataclass(frozen=True)
class IngestResult:
    extraction: ExtractionResult
    file_drops: FileDropReport

    @property
    def tenant_ids(self) -> list[str]:
        """Tenants whose raw data may have changed: extracted ones plus those with new file drops."""
        return sorted(set(self.extraction.tenant_ids) | set(self.file_drops.tenants_changed))


@dataclass(frozen=True)
class RefreshResult:
    as_of: dt.date
    ingestion: IngestResult
    publication: PublishResult

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
    """
    with closing_quietly(connect_build(settings.build_database_path)) as conn:  # a close failure never hides the error
        marked_at = mark_pending(conn, tenant_ids)  # None: every tenant
        with open_operational(settings.operational_database_url) as reader:
            extraction = extract_operational(reader, conn, tenant_ids, progress, mode)
        if tenant_ids is not None and marked_at is not None:  # the rows are committed: say which tables changed
            narrow_marks(conn, marked_at, extraction.changed_tables())
        ensure_file_tables(conn)
        mark_pending(conn, tenants_with_landing_files(settings.resolved_landing_dir, known_tenants(conn)))
        drops = ingest_file_drops(conn, settings.resolved_landing_dir, settings.resolved_archive_dir,
                                  known_tenants(conn))
        if drops.files:
            _say(progress, f"file drops: {len(drops.files)} files, {drops.rows_loaded} rows loaded, "
                           f"{drops.rows_quarantined} quarantined")
        return IngestResult(extraction=extraction, file_drops=drops)


def tenants_with_landing_files(landing_dir: Path, tenant_ids: Iterable[str]) -> list[str]:
    """Ids of the tenants with any file under their landing folder ``<landing>/<tenant_id>/``."""
    folders = {tenant_id: landing_folder(landing_dir, tenant_id) for tenant_id in tenant_ids}
    return sorted(tenant_id for tenant_id, folder in folders.items()
                  if folder.is_dir() and any(p.is_file() for p in folder.rglob("*")))


def known_tenants(conn) -> dict[str, str]:
    """tenant id → slug of the tenants in the raw tables (file drop folders are named by id; the
    slug is only a display name: it may have belonged to a deleted tenant before)."""
    return {tenant_id: slug for tenant_id, slug in conn.execute("SELECT id, slug FROM raw_organizations").fetchall()}


def build_models(settings: Settings, as_of: dt.date) -> None:
    build_all(settings.build_database_path, settings.dbt_work_dir, as_of, threads=settings.dbt_threads)


def publish(settings: Settings, as_of: dt.date, tenant_ids: Sequence[str] | None = None,
            progress: Progress | None = None) -> PublishResult:
    """Publish the given tenants (default all) and a new operator (platform) version."""
    with closing_quietly(connect_build(settings.build_database_path)) as conn:
        if (tenant_ids is not None and not list(tenant_ids)) or not known_tenants(conn):
            # no tenant to publish (none yet, or every one gone): only the operator's version
            version = publish_platform(conn, settings.published_dir, as_of=as_of,
                                       grace_seconds=settings.publish_grace_seconds)
            return PublishResult(version=version, tenant_ids=(), removed_versions=0)
        result = publish_tenants(conn, settings.published_dir, as_of=as_of, tenant_ids=tenant_ids,
                                 grace_seconds=settings.publish_grace_seconds, progress=progress)
        publish_platform(conn, settings.published_dir, as_of=as_of, grace_seconds=settings.publish_grace_seconds)
        return result


def refresh(settings: Settings, tenant_ids: Sequence[str] | None = None,
            progress: Progress | None = None, mode: Mode = "incremental") -> RefreshResult:
    """Ingest, build and publish; with ``tenant_ids`` only those tenants are extracted and published.

    ``mode="full"`` re-reads every selected tenant whole (finds rows hard-deleted in the source).
    """
    as_of = settings.effective_as_of()
    with exclusive_lock(settings.resolved_warehouse_dir / "build.lock"):
        _say(progress, "extracting operational data")
        ingestion = ingest(settings, tenant_ids, progress, mode)
        extraction = ingestion.extraction
        _say(progress, f"extracted {extraction.rows.get('bookings', 0)} bookings; running dbt build (as of {as_of})")
        build_models(settings, as_of)
        _say(progress, "publishing tenant snapshots")
        publication = publish(settings, as_of, ingestion.tenant_ids, progress)
        for tenant_id in extraction.removed_tenants:
            retire_tenant(settings.published_dir, tenant_id)
            _say(progress, f"retired tenant {tenant_id}")
    if ingestion.tenant_ids or publication.tenant_ids:
        _say(progress, f"published version {publication.version} for {len(publication.tenant_ids)} tenants")
    else:
        _say(progress, "nothing to refresh: no tenants")
    return RefreshResult(as_of=as_of, ingestion=ingestion, publication=publication)
