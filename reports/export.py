"""Report exports: a tenant's report rendered to files in one folder with a ``manifest.json``.

Layout: ``<exports>/<tenant id>/<period label>/<generated stamp>/`` — keyed by the validated tenant
id, never by the slug (a slug can pass to another tenant; an id cannot), so after a slug changes
hands each tenant keeps its own folders. The slug and the organization's name are only display
names, recorded in the manifest. Files have human names (``Revenue by month.csv``,
``<Organization> report <period>.xlsx``).

The folder is written under a hidden temporary name next to its final place and renamed into
place once every file and the manifest are complete (and fsynced): readers never see half an
export. The manifest records the tenant (id, name, slug), the period, the as-of date, when it
was generated, the definitions version (from the snapshot meta), the FX dates used, and per
file its format, section, row count, size and SHA-256.

Every entry point takes the acting :class:`~operational.permissions.Actor` (the CLI and the
schedules act as :func:`~operational.permissions.command_line_operator`): generating needs
``reports:export`` in that very tenant; listing and downloading need ``reports:read``.
"""
from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from auditoryx.errors import AuditoryxError
from operational.permissions import Action, Actor, PermissionDenied, Resource, require_permission
from operational.repository import NotFoundError
from reports.period import validate_period_spec
from reports.render_html import render_html
from reports.render_pdf import html_to_pdf
from reports.render_tabular import write_csv, write_parquet
from reports.render_xlsx import write_xlsx
from reports.sections import Report, build_report, validate_sections
from warehouse.layout import validate_tenant_id
from warehouse.reader import open_tenant_snapshot

FORMATS: tuple[str, ...] = ("xlsx", "html", "pdf", "csv", "parquet")
DEFAULT_FORMATS: tuple[str, ...] = ("xlsx", "html", "csv")
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
_LABEL = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{0,40}$")
_STAMP = re.compile(r"^\d{8}T\d{6}Z(-\d{1,3})?$")
log = logging.getLogger(__name__)
_UNSAFE_NAME = re.compile(r"[^\w .,&()'+-]+", re.UNICODE)


class InvalidFormat(AuditoryxError):
    pass


@dataclass(frozen=True)
class Branding:
    """What the HTML/PDF report shows of the organization."""

    name: str | None = None
    colour: str | None = None
    logo: str | None = None  # a data: URL (uploaded logo); remote URLs are not embedded


@dataclass(frozen=True)
class ExportResult:
    folder: Path
    manifest: dict[str, Any]

    @property
    def files(self) -> list[Path]:
        return [self.folder / entry["file"] for entry in self.manifest["files"]]


def parse_formats(value: Iterable[str] | str | None) -> tuple[str, ...]:
    """Formats in canonical order (None or empty: the defaults); unknown ones are refused."""
    if value is None:
        return DEFAULT_FORMATS
    items = [f.strip().lower() for f in (value.split(",") if isinstance(value, str) else value) if f and f.strip()]
    unknown = [f for f in items if f not in FORMATS]
    if unknown:
        raise InvalidFormat(f"unknown export format {unknown[0]!r}: one of {', '.join(FORMATS)}")
    return tuple(f for f in FORMATS if f in items) or DEFAULT_FORMATS


def tenant_exports_dir(exports_dir: Path, tenant_id: str) -> Path:
    """``<exports>/<tenant id>``: all of the tenant's exports."""
    return Path(exports_dir) / validate_tenant_id(tenant_id)


def load_branding(engine, tenant_id: str) -> Branding:
    """The organization's display name, colour and uploaded logo (read in the tenant's scope)."""
    from sqlalchemy.orm import Session

    from operational.repository import TenantRepository

    with Session(engine) as session:
        org = TenantRepository(session, validate_tenant_id(tenant_id)).organization()
        branding = dict(org.branding or {})
        return Branding(name=branding.get("display_name") or org.name, colour=branding.get("primary_colour"),
                        logo=branding.get("logo"))


def _check_export(actor: Actor, tenant_id: str) -> None:
    if actor.tenant_id != tenant_id:
        raise PermissionDenied("not allowed: export another tenant's reports")
    require_permission(actor, Resource.REPORTS, Action.EXPORT)


def _check_read(actor: Actor, tenant_id: str) -> None:
    if actor.tenant_id != tenant_id:
        raise PermissionDenied("not allowed: read another tenant's reports")
    require_permission(actor, Resource.REPORTS, Action.READ)


def _file_name(text: str, fallback: str = "Report") -> str:
    cleaned = _UNSAFE_NAME.sub(" ", text or "").strip(" .")
    return re.sub(r"\s+", " ", cleaned)[:80] or fallback


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_tree(folder: Path) -> None:
    for path in sorted(folder.iterdir()):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def render_files(report: Report, folder: Path, formats: tuple[str, ...], branding: Branding) -> list[dict[str, Any]]:
    """Write the report's files into ``folder``; their manifest entries (without checksums)."""
    entries: list[dict[str, Any]] = []
    base = _file_name(f"{report.tenant_name} report {report.period.label}")
    table_rows = sum(section.rows for section in report.sections)
    if "xlsx" in formats:
        name = f"{base}.xlsx"
        sheets = write_xlsx(report, folder / name, colour=_colour(branding.colour))
        entries.append({"file": name, "format": "xlsx", "section": None, "rows": sum(sheets.values()),
                        "sheets": sheets})
    if "html" in formats or "pdf" in formats:
        html_name = f"{base}.html" if "html" in formats else f".{base}.print.html"
        (folder / html_name).write_text(render_html(report, colour=branding.colour, logo=branding.logo),
                                        encoding="utf-8")
        if "html" in formats:
            entries.append({"file": html_name, "format": "html", "section": None, "rows": table_rows})
        if "pdf" in formats:
            name = f"{base}.pdf"
            try:
                html_to_pdf(folder / html_name, folder / name)
            finally:
                if "html" not in formats:
                    (folder / html_name).unlink(missing_ok=True)
            entries.append({"file": name, "format": "pdf", "section": None, "rows": table_rows})
    for fmt, writer in (("csv", write_csv), ("parquet", write_parquet)):
        if fmt not in formats:
            continue
        for section in report.sections:
            name = f"{_file_name(section.file_stem)}.{fmt}"
            entries.append({"file": name, "format": fmt, "section": section.key, "rows": writer(section, folder / name)})
    return entries


def _colour(value: str | None) -> str:
    return value if isinstance(value, str) and re.match(r"^#[0-9a-fA-F]{6}$", value) else "#4f46e5"


def _manifest(report: Report, formats: tuple[str, ...], include_ids: bool, actor: Actor,
              files: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "manifest_version": MANIFEST_VERSION,
        "tenant_id": report.tenant_id,
        "tenant_name": report.tenant_name,
        "tenant_slug": report.tenant_slug,  # display only: folders are keyed by the id
        "period": report.period.as_dict(),
        "as_of": report.as_of.isoformat(),
        "generated_at": report.generated_at.isoformat(timespec="seconds"),
        "generated_by": actor.user_id or "command line",
        "snapshot_version": report.snapshot_version,
        "refreshed_at": report.refreshed_at.isoformat() if report.refreshed_at else None,
        "definitions_version": report.definitions_version,
        "definitions_source": report.definitions_source,
        "currency": report.currency,
        "fx_dates_used": report.fx,
        "formats": list(formats),
        "include_ids": include_ids,
        "sections": [{"key": s.key, "title": s.title, "rows": s.rows} for s in report.sections],
        "files": files,
    }


def export_report(published_dir: Path, exports_dir: Path, tenant_id: str, *, actor: Actor,
                  formats: Iterable[str] | str | None = None, period: str | None = None,
                  sections: Iterable[str] | str | None = None, include_ids: bool = False,
                  branding: Branding | None = None, now: dt.datetime | None = None) -> ExportResult:
    """Render the tenant's current snapshot as a report and write it, with its manifest, under
    ``<exports>/<tenant id>/<period>/<stamp>/`` (atomically). Arguments are checked before any
    path or snapshot is touched."""
    _check_export(actor, tenant_id)
    tenant_folder = tenant_exports_dir(exports_dir, tenant_id)
    wanted = parse_formats(formats)
    period_spec = validate_period_spec(period)
    keys = validate_sections(sections)
    branding = branding or Branding()
    now = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).replace(microsecond=0)
    snapshot = open_tenant_snapshot(published_dir, tenant_id)
    try:
        report = build_report(snapshot, period=period_spec, sections=keys, include_ids=include_ids,
                              tenant_name=branding.name, generated_at=now)
    finally:
        snapshot.close()
    period_folder = tenant_folder / report.period.label
    period_folder.mkdir(parents=True, exist_ok=True)
    partial = period_folder / f".partial-{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"
    partial.mkdir()
    try:
        files = render_files(report, partial, wanted, branding)
        for entry in files:
            path = partial / entry["file"]
            entry["bytes"] = path.stat().st_size
            entry["sha256"] = sha256_file(path)
        manifest = _manifest(report, wanted, include_ids, actor, files)
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str),
                                        encoding="utf-8")
        _fsync_tree(partial)
        target = _move_into_place(partial, period_folder, f"{now:%Y%m%dT%H%M%SZ}")
        descriptor = os.open(period_folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return ExportResult(target, manifest)


def _move_into_place(partial: Path, parent: Path, stamp: str) -> Path:
    """Rename the finished folder to ``<stamp>`` (``<stamp>-2``, ``-3``… when taken: two exports
    in one second); an existing export is never replaced (renaming onto a non-empty folder fails)."""
    for suffix in range(1, 1000):
        candidate = parent / (stamp if suffix == 1 else f"{stamp}-{suffix}")
        if candidate.exists():
            continue
        try:
            os.rename(partial, candidate)
        except OSError as error:
            if error.errno in (errno.EEXIST, errno.ENOTEMPTY) or candidate.exists():
                continue  # taken in between by a concurrent export
            raise
        return candidate
    raise AuditoryxError(f"too many exports in {parent} at {stamp}")


# Reading exports back (the Reports page, deliveries)

def list_exports(exports_dir: Path, tenant_id: str, *, actor: Actor, limit: int = 100) -> list[ExportResult]:
    """The tenant's complete exports (those with a manifest of this tenant), newest first."""
    _check_read(actor, tenant_id)
    folder = tenant_exports_dir(exports_dir, tenant_id)
    found: list[ExportResult] = []
    if not folder.is_dir():
        return found
    for manifest_path in folder.glob(f"*/*/{MANIFEST}"):
        export = manifest_path.parent
        if not (_LABEL.match(export.parent.name) and _STAMP.match(export.name)):
            continue  # temporary folders, anything else
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if manifest.get("tenant_id") != tenant_id:
            continue
        found.append(ExportResult(export, manifest))
    found.sort(key=lambda e: (str(e.manifest.get("generated_at") or ""), e.folder.name), reverse=True)
    return found[:limit]


def find_export(exports_dir: Path, tenant_id: str, relative: str, *, actor: Actor) -> ExportResult:
    """One of the tenant's exports by its ``<period>/<stamp>`` path (as listed)."""
    _check_read(actor, tenant_id)
    parts = str(relative).split("/")
    if len(parts) != 2 or not _LABEL.match(parts[0]) or not _STAMP.match(parts[1]):
        raise NotFoundError(f"no such export: {relative!r}")
    folder = tenant_exports_dir(exports_dir, tenant_id) / parts[0] / parts[1]
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise NotFoundError(f"no such export: {relative!r}") from None
    if manifest.get("tenant_id") != tenant_id:
        raise NotFoundError(f"no such export: {relative!r}")
    return ExportResult(folder, manifest)


def export_file(export: ExportResult, name: str) -> Path:
    """A file listed in the export's manifest (nothing else can be named)."""
    for entry in export.manifest.get("files", []):
        if entry.get("file") == name:
            return export.folder / name
    raise NotFoundError(f"no file {name!r} in this export")


def verify_export(folder: Path) -> list[str]:
    """Problems found when checking every file against the manifest (empty: all verify)."""
    problems: list[str] = []
    manifest = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    for entry in manifest.get("files", []):
        path = Path(folder) / entry["file"]
        if not path.is_file():
            problems.append(f"{entry['file']}: missing")
        elif sha256_file(path) != entry.get("sha256"):
            problems.append(f"{entry['file']}: SHA-256 differs from the manifest")
    return problems


def export_tenant(settings, tenant_id: str, *, actor: Actor, formats: Iterable[str] | str | None = None,
                  period: str | None = None, sections: Iterable[str] | str | None = None,
                  include_ids: bool = False, engine=None) -> ExportResult:
    """:func:`export_report` with the paths of ``settings`` and the organization's branding read
    from the operational database (``engine``, else one made from the settings)."""
    _check_export(actor, tenant_id)
    parse_formats(formats), validate_period_spec(period), validate_sections(sections)  # fail before any I/O
    own_engine = engine is None
    if own_engine:
        from operational.db import make_engine

        engine = make_engine(settings.operational_database_url)
    try:
        branding = load_branding(engine, tenant_id)
        result = export_report(settings.published_dir, settings.resolved_exports_dir, tenant_id, actor=actor,
                               formats=formats, period=period, sections=sections, include_ids=include_ids,
                               branding=branding)
        _announce(engine, tenant_id, result)
    finally:
        if own_engine:
            engine.dispose()
    return result


def _announce(engine, tenant_id: str, result: ExportResult) -> None:
    """The ``export.ready`` webhook event for the tenant's subscribed endpoints (through the outbox).
    The export is complete either way: a failure here is logged, not raised."""
    from sqlalchemy.orm import Session

    try:
        from operational import webhooks
    except ImportError:  # pragma: no cover - the webhooks module ships with the product
        return
    m = result.manifest
    data = {"export": f"{result.folder.parent.name}/{result.folder.name}", "period": m["period"], "as_of": m["as_of"],
            "generated_at": m["generated_at"], "formats": m["formats"],
            "files": [{"file": f["file"], "format": f["format"], "rows": f["rows"], "sha256": f["sha256"]}
                      for f in m["files"]]}
    try:
        with Session(engine) as session, session.begin():
            webhooks.emit(session, tenant_id, "export.ready", data)
    except Exception:  # noqa: BLE001 - e.g. an older schema without the outbox tables
        log.warning("tenant %s: export.ready not announced", tenant_id, exc_info=True)
