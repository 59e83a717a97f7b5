"""Pure decisions behind the sensors (tested without Dagster or a database)."""
from __future__ import annotations

from typing import Iterable, Mapping


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
