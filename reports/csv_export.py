"""CSV exports of a tenant's current snapshot, with a manifest (files, rows, SHA-256).

Layout: ``<exports>/<tenant_id>/<as_of>/<version>/{<mart>.csv, manifest.json}``, built from the
validated tenant id (never the slug: a deleted tenant's slug can be taken by a new tenant, its id
cannot), written to a temporary folder and renamed into place (never half an export). The slug
is only a display name, recorded in the manifest.
Text that a spreadsheet would run as a formula (``= + - @`` first) is prefixed with ``'``.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from operational.models import SLUG_PATTERN
from auditoryx.errors import AuditoryxError
from operational.permissions import Action, Actor, PermissionDenied, Resource, require_permission
from warehouse.layout import validate_tenant_id
from warehouse.reader import open_tenant_snapshot

EXPORTED_MARTS: tuple[str, ...] = ("kpi_summary", "fct_revenue_monthly", "top_performers",
                                   "fct_project_health", "fct_receivables_aging")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralize(value: object) -> object:
    """A cell a spreadsheet will show as text, never evaluate."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


@dataclass(frozen=True)
class ExportResult:
    folder: Path
    manifest: dict


def exports_folder(exports_dir: Path, tenant_id: str) -> Path:
    """``<exports>/<tenant_id>``: the tenant's exports (one ``<as_of>/<version>/`` folder each)."""
    return Path(exports_dir) / validate_tenant_id(tenant_id)


def export_tenant_csv(published_dir: Path, exports_dir: Path, tenant_id: str, tenant_slug: str, *,
                      actor: Actor) -> ExportResult:
    """Export the tenant's current snapshot under ``<exports>/<tenant_id>/``; ``tenant_slug`` (display
    name, checked against the snapshot) goes into the manifest. ``actor`` must be of that tenant
    and allowed to export reports (the CLI and the schedule act as
    :func:`~operational.permissions.command_line_operator`)."""
    if actor.tenant_id != tenant_id:
        raise PermissionDenied("not allowed: export another tenant's reports")
    require_permission(actor, Resource.REPORTS, Action.EXPORT)
    tenant_folder = exports_folder(exports_dir, tenant_id)
    if not SLUG_PATTERN.match(tenant_slug or ""):
        raise AuditoryxError(f"invalid tenant slug: {tenant_slug!r}")
    snapshot = open_tenant_snapshot(published_dir, tenant_id)
    try:
        meta = snapshot.meta()
        if meta["tenant_id"] != tenant_id or meta["tenant_slug"] != tenant_slug:
            raise AuditoryxError(f"snapshot of {tenant_id} does not belong to {tenant_slug}")
        target = tenant_folder / meta["as_of"].isoformat() / snapshot.version
        if (target / "manifest.json").is_file():  # this version was exported already
            return ExportResult(target, json.loads((target / "manifest.json").read_text(encoding="utf-8")))
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        files = []
        for mart in EXPORTED_MARTS:
            frame = snapshot.query(f"SELECT * FROM {mart} WHERE tenant_id = ? ORDER BY ALL", [tenant_id])
            path = partial / f"{mart}.csv"
            with open(path, "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(frame.columns)
                for row in frame.iter_rows():
                    writer.writerow([neutralize(value) for value in row])
            files.append({"file": path.name, "rows": frame.height,
                          "sha256": hashlib.sha256(path.read_bytes()).hexdigest()})
        manifest = {"tenant_id": tenant_id, "tenant_slug": tenant_slug, "as_of": meta["as_of"].isoformat(),
                    "snapshot_version": snapshot.version, "refreshed_at": meta["refreshed_at"].isoformat(),
                    "format": "csv", "files": files}
        (partial / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        os.replace(partial, target)
        return ExportResult(target, manifest)
    finally:
        snapshot.close()
