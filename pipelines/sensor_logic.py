"""Pure decisions behind the sensors (tested without Dagster or a database)."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable, Mapping

from ingestion.files import landing_folder

IN_PROGRESS_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload")


def partition_changes(known: Iterable[str], active: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """(tenants to add, tenants to remove) so that the partitions equal the active tenants."""
    known_set = set(known)
    return sorted(set(active) - known_set), sorted(known_set - set(active))


def changed_tenants(previous: Mapping[str, str] | None, marks: Mapping[str, str],
                    partitions: set[str]) -> list[str]:
    """Tenants with a partition whose change mark moved since the previous evaluation.

    On the first evaluation (no previous marks) nothing is requested: the tenant sensor gives new
    tenants their first refresh and the schedule covers the rest.
    """
    if previous is None:
        return []
    return sorted(t for t, mark in marks.items() if t in partitions and mark != previous.get(t))


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
