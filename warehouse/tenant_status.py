"""A tenant's build status beside its published versions: ``published/<tenant_id>/BUILD_STATUS.json``.

Written by publishing when the tenant's rows failed a data test of the build
(warehouse/dbt_runner.py): its ``CURRENT`` keeps naming the last good version, and this file says
why no newer one was published (the reasons, since when). Removed when a version of the tenant is
published again. Readers that never open the build database (snapshot health, the Dagster checks,
the app) read it from here. Written atomically (temporary file, fsync, rename, folder fsync).
"""
from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from warehouse.layout import CURRENT_POINTER, read_pointer, tenant_dir
from warehouse.layout import DamagedPointer

STATUS_FILE = "BUILD_STATUS.json"


@dataclass(frozen=True)
class TenantStatus:
    tenant_id: str
    status: str                 # "failed"
    reasons: tuple[str, ...]
    since: str                  # ISO 8601 UTC: the first build that failed in a row
    checked_at: str             # ISO 8601 UTC: the last build that failed
    kept_version: str | None    # the version CURRENT still names (None: nothing published yet)

    def summary(self) -> str:
        kept = f"keeps version {self.kept_version}" if self.kept_version else "has no published version"
        return f"build failed since {self.since}, {kept}: " + "; ".join(self.reasons)


def status_from_json(tenant_id: str, text: str) -> TenantStatus:
    """Parse a status file's content (pure)."""
    data = json.loads(text)
    return TenantStatus(tenant_id=tenant_id, status=str(data.get("status", "failed")),
                        reasons=tuple(str(r) for r in data.get("reasons", [])),
                        since=str(data.get("since", "")), checked_at=str(data.get("checked_at", "")),
                        kept_version=data.get("kept_version"))


def read_status(published_dir: Path, tenant_id: str) -> TenantStatus | None:
    """The tenant's recorded build failure, or None (no file: its last build passed). An unreadable
    file counts as a failure whose reason is that."""
    path = tenant_dir(Path(published_dir), tenant_id) / STATUS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        return TenantStatus(tenant_id, "failed", (f"{path}: unreadable ({error.__class__.__name__})",), "", "", None)
    try:
        return status_from_json(tenant_id, text)
    except (ValueError, AttributeError) as error:
        return TenantStatus(tenant_id, "failed", (f"{path}: not a status file ({error})",), "", "", None)


def failed_tenants(published_dir: Path) -> dict[str, TenantStatus]:
    """Every tenant folder's recorded build failure."""
    root = Path(published_dir)
    if not root.is_dir():
        return {}
    found: dict[str, TenantStatus] = {}
    for path in sorted(root.glob(f"*/{STATUS_FILE}")):
        tenant_id = path.parent.name
        if tenant_id.startswith("_"):
            continue
        status = read_status(root, tenant_id)
        if status is not None:
            found[tenant_id] = status
    return found


def _fsync(path: Path) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if path.is_dir() else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_failed(published_dir: Path, tenant_id: str, reasons: Sequence[str],
                 now: dt.datetime | None = None) -> TenantStatus:
    """Record that the tenant's build failed (``reasons``); ``since`` is kept from an earlier failure."""
    folder = tenant_dir(Path(published_dir), tenant_id)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    previous = read_status(published_dir, tenant_id)
    try:
        kept = read_pointer(folder)
    except DamagedPointer as error:
        kept = None
        reasons = [*reasons, f"{folder / CURRENT_POINTER}: {error.reason}"]
    status = TenantStatus(tenant_id, "failed", tuple(reasons), previous.since if previous and previous.since else stamp,
                          stamp, kept)
    payload = {"status": status.status, "reasons": list(status.reasons), "since": status.since,
               "checked_at": status.checked_at, "kept_version": status.kept_version}
    temporary = folder / (STATUS_FILE + ".tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, folder / STATUS_FILE)
    _fsync(folder)
    return status


def clear_status(published_dir: Path, tenant_id: str) -> bool:
    """Forget the tenant's build failure (a version of it was just published); True if there was one."""
    path = tenant_dir(Path(published_dir), tenant_id) / STATUS_FILE
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
