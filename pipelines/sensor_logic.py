"""Pure decisions behind the sensors (tested without Dagster or a database)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterable, Mapping

from ingestion.files import landing_folder

IN_PROGRESS_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload")


def partition_changes(known: Iterable[str], active: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """(tenants to add, tenants to remove) so that the partitions equal the active tenants."""
    known_set = set(known)
    return sorted(set(active) - known_set), sorted(known_set - set(active))


def change_cursor(cursor: str | None) -> int | None:
    """The change bound the change sensor's previous tick stored (``{"bound": N}``).

    None on the first tick, and from a cursor of the earlier format (per-tenant marks): the sensor
    then starts from now and requests nothing; the tenant sensor gives new tenants their first
    refresh and the schedule covers the rest."""
    if not cursor:
        return None
    try:
        value = json.loads(cursor)
    except ValueError:
        return None
    bound = value.get("bound") if isinstance(value, dict) else None
    return bound if isinstance(bound, int) and not isinstance(bound, bool) else None


def tenants_to_refresh(changed: Iterable[str], partitions: set[str]) -> list[str]:
    """Changed tenants that have a partition (a new tenant gets its first refresh from the tenant
    sensor), in a stable order."""
    return sorted(set(changed) & partitions)


def pending_file_drops(landing_dir: Path, tenant_ids: Iterable[str]) -> dict[str, str]:
    """tenant id → fingerprint of the files waiting in its landing folder ``<landing>/<tenant_id>/``
    (uploads in progress and hidden files excluded). A new or changed file changes the fingerprint.
    Folders are named by tenant id, never by slug (a slug can pass to a new tenant)."""
    pending: dict[str, str] = {}
    if not landing_dir.is_dir():
        return pending
    for tenant_id in tenant_ids:
        folder = landing_folder(landing_dir, tenant_id)
        if not folder.is_dir():
            continue
        entries = sorted(
            f"{path.relative_to(folder)}:{path.stat().st_size}:{path.stat().st_mtime_ns}"
            for path in folder.glob("*/*")
            if path.is_file() and not path.name.startswith((".", "~")) and not path.name.endswith(IN_PROGRESS_SUFFIXES)
        )
        if entries:
            pending[tenant_id] = hashlib.sha256("\n".join(entries).encode()).hexdigest()[:16]
    return pending
