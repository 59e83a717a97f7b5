"""Names and paths of published tenant snapshots (validated: they become folder names)."""
from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

from auditoryx.errors import AuditoryxError

# Tables every tenant version holds (one Parquet file each), from the `marts` schema.
PUBLISHED_MARTS: tuple[str, ...] = (
    "fct_revenue_monthly",
    "fct_bookings_monthly",
    "fct_artist_performance_monthly",
    "top_performers",
    "fct_project_health",
    "kpi_summary",
    "fct_recent_activity",
    "fct_booking_status_funnel",
    "fct_revenue_by_currency",
    "fct_receivables_aging",
    "dim_artists",
    "fct_bookings_daily",
)
# Tables publishing writes into every tenant version beside the marts (warehouse/publish.py, from
# the build database's ingestion records, bounded): not dbt models, so not in PUBLISHED_MARTS; the
# data-quality page opens them (dashboards/quality_queries.py). A version published before they
# existed lacks them: readers treat that as "not recorded yet".
PUBLISHED_QUALITY_TABLES: tuple[str, ...] = ("quarantined_rows", "ingestion_runs")
# Cross-tenant marts for the platform operator: published to their own folder, never to a tenant.
PLATFORM_MARTS: tuple[str, ...] = ("platform_tenant_summary", "platform_overview")
PLATFORM_DIR = "_platform"
META_TABLE = "meta"
CURRENT_POINTER = "CURRENT"
# When a publish last checked the folder's content (ISO 8601 UTC), kept or newly published: a
# version kept because nothing changed was still checked then (readers show the later of this and
# meta.refreshed_at as the last refresh)
CHECKED_STAMP = "CHECKED_AT"

_TENANT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_VERSION = re.compile(r"^v\d{8}T\d{6}\d{6}Z-[0-9a-f]{6}$")


def validate_tenant_id(tenant_id: str) -> str:
    if not isinstance(tenant_id, str) or not _TENANT_ID.match(tenant_id):
        raise AuditoryxError(f"invalid tenant id: {tenant_id!r}")
    return tenant_id


def validate_version(version: str) -> str:
    if not _VERSION.match(version):
        raise AuditoryxError(f"invalid snapshot version: {version!r}")
    return version


def tenant_dir(published_dir: Path, tenant_id: str) -> Path:
    return published_dir / validate_tenant_id(tenant_id)


def version_dir(published_dir: Path, tenant_id: str, version: str) -> Path:
    return tenant_dir(published_dir, tenant_id) / validate_version(version)


def current_version(published_dir: Path, tenant_id: str) -> str | None:
    """The version a tenant's CURRENT pointer names, or None when nothing is published."""
    return read_pointer(tenant_dir(published_dir, tenant_id))


def platform_dir(published_dir: Path) -> Path:
    return published_dir / PLATFORM_DIR


class DamagedPointer(AuditoryxError):
    """A ``CURRENT`` pointer exists but names no valid version (garbage, empty, unreadable).

    Published but unreadable, which is not the same as "nothing was ever published" (None)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


def read_pointer(folder: Path) -> str | None:
    """The version named by ``folder/CURRENT``, or None when there is no pointer (or no folder).

    Raises :class:`DamagedPointer` (an AuditoryxError naming the path) when the pointer exists
    but does not name a valid version."""
    pointer = folder / CURRENT_POINTER
    try:
        text = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise DamagedPointer(pointer, f"unreadable pointer ({error.__class__.__name__})") from error
    if not text:
        raise DamagedPointer(pointer, "empty pointer")
    if not _VERSION.match(text):
        raise DamagedPointer(pointer, f"invalid snapshot version: {text[:80]!r}")
    return text


def version_problem(folder: Path, version: str, tables: tuple[str, ...]) -> str | None:
    """Why ``folder/version`` cannot serve (missing folder, missing tables), or None when complete."""
    target = folder / version
    try:  # one directory read, not a stat per table (a publish checks every kept tenant)
        with os.scandir(target) as entries:
            files = {entry.name for entry in entries if entry.is_file()}
    except (FileNotFoundError, NotADirectoryError):
        return f"version folder {target} is missing"
    missing = [t for t in tables if f"{t}.parquet" not in files]
    if missing:
        return f"version folder {target} is incomplete (lacks {', '.join(missing)})"
    return None


def pointer_problem(folder: Path, tables: tuple[str, ...], version: str | None = None) -> str | None:
    """Why ``folder``'s CURRENT cannot serve (damaged pointer, missing or incomplete version), or
    None when it serves or when nothing was ever published (no folder, no CURRENT). ``version``:
    what the caller has just read from CURRENT (it is not read again)."""
    if version is None:
        try:
            version = read_pointer(folder)
        except DamagedPointer as error:
            return str(error)
    if version is None:
        return None
    problem = version_problem(folder, version, tables)
    return None if problem is None else f"{folder / CURRENT_POINTER} names {version}: {problem}"


def write_checked(folder: Path, when: dt.datetime) -> None:
    """Record ``folder/CHECKED_AT`` = ``when`` (ISO 8601 UTC) atomically (temporary file, rename)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    base = os.fspath(folder)  # plain strings and one write: a publish stamps every kept tenant
    temporary = f"{base}/{CHECKED_STAMP}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        os.write(descriptor, (when.astimezone(dt.timezone.utc).isoformat() + "\n").encode("utf-8"))
    finally:
        os.close(descriptor)
    os.replace(temporary, f"{base}/{CHECKED_STAMP}")


def read_checked(folder: Path) -> dt.datetime | None:
    """When ``folder``'s content was last checked by a publish (UTC); None when never recorded or
    unreadable (a reader then falls back to meta.refreshed_at)."""
    try:
        text = (folder / CHECKED_STAMP).read_text(encoding="utf-8").strip()
        when = dt.datetime.fromisoformat(text)
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return when.replace(tzinfo=dt.timezone.utc) if when.tzinfo is None else when.astimezone(dt.timezone.utc)


def last_refresh(refreshed_at: object, checked_at: dt.datetime | None) -> object:
    """The later of a version's ``refreshed_at`` and its folder's CHECKED_AT (either may be
    missing; a naive time is UTC). Pure."""
    if checked_at is None:
        return refreshed_at
    if not isinstance(refreshed_at, dt.datetime):
        return checked_at
    aware = refreshed_at if refreshed_at.tzinfo is not None else refreshed_at.replace(tzinfo=dt.timezone.utc)
    return checked_at if checked_at > aware else refreshed_at


def version_time(version: str | None) -> dt.datetime | None:
    """When a version was made, from its name (``v%Y%m%dT%H%M%S%fZ-…``); None for None. Pure."""
    if version is None:
        return None
    stamp = validate_version(version)[1:].split("-", 1)[0]
    return dt.datetime.strptime(stamp, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=dt.timezone.utc)
