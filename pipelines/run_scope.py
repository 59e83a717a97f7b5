"""The tenants a run is about, read from the run's partition tags (pure; tested without Dagster runs).

Only publishing (and its per-tenant checks) is partitioned by tenant. Extraction and the dbt build
run once per run, unpartitioned, for the run's tenant set: the tenant partition the run targets
(``dagster/partition``, a sensor's or the tenant sensor's run) or its partition range
(``dagster/asset_partition_range_start``/``_end``, a single-run backfill such as the schedules'
"every tenant" runs). A run with neither (an unpartitioned materialization from the UI) is about
every tenant: ``None``, as `auditoryx.pipeline` reads it.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from auditoryx.errors import AuditoryxError

PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def tenants_of_run(tags: Mapping[str, str], partition_keys: Sequence[str]) -> list[str] | None:
    """The tenant ids a run targets, given its tags and the tenant partition keys in their order
    (a range is resolved against that order, inclusive); ``None`` when the run targets no
    partition (every tenant). A range whose ends are not partitions is refused, never widened."""
    if tags.get(PARTITION_TAG):
        return [tags[PARTITION_TAG]]
    start, end = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    if not start and not end:
        return None
    if not start or not end:
        raise AuditoryxError(f"run tags name only one end of a tenant partition range: {start!r}..{end!r}")
    position = {key: index for index, key in enumerate(partition_keys)}
    if start not in position or end not in position:
        raise AuditoryxError(f"tenant partition range {start}..{end} names an unknown partition")
    first, last = position[start], position[end]
    if first > last:
        raise AuditoryxError(f"tenant partition range {start}..{end} is reversed")
    return list(partition_keys[first:last + 1])
