"""Kept for callers of the first export API: CSV files of a tenant's report with a manifest.

New code uses :func:`reports.export.export_report` (every format, periods, sections). This is
that function with ``formats=("csv",)``; ``tenant_slug`` is only checked for shape (the manifest
records the slug of the snapshot's meta, as a display name: folders are keyed by tenant id).
"""
from __future__ import annotations

from pathlib import Path

from auditoryx.errors import AuditoryxError
from operational.models import SLUG_PATTERN
from operational.permissions import Actor
from reports.export import ExportResult, export_report, tenant_exports_dir
from reports.safety import neutralize

__all__ = ["ExportResult", "export_tenant_csv", "exports_folder", "neutralize"]


def exports_folder(exports_dir: Path, tenant_id: str) -> Path:
    return tenant_exports_dir(exports_dir, tenant_id)


def export_tenant_csv(published_dir: Path, exports_dir: Path, tenant_id: str, tenant_slug: str, *,
                      actor: Actor) -> ExportResult:
    if not SLUG_PATTERN.match(tenant_slug or ""):
        raise AuditoryxError(f"invalid tenant slug: {tenant_slug!r}")
    return export_report(published_dir, exports_dir, tenant_id, actor=actor, formats=("csv",))
