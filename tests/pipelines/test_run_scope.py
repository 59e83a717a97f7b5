"""The run's tenants from its partition tags: one partition, an inclusive range, or every tenant."""
from __future__ import annotations

import pytest

from auditoryx.errors import AuditoryxError
from pipelines.run_scope import tenants_of_run

KEYS = ["t-c", "t-a", "t-b", "t-d"]  # dynamic partitions keep the order they were added in


def _range(start: str, end: str) -> dict[str, str]:
    return {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}


def test_one_partition():
    assert tenants_of_run({"dagster/partition": "t-b", "other": "x"}, KEYS) == ["t-b"]


def test_range_follows_the_partition_order_inclusive():
    assert tenants_of_run(_range("t-a", "t-d"), KEYS) == ["t-a", "t-b", "t-d"]
    assert tenants_of_run(_range("t-c", "t-c"), KEYS) == ["t-c"]
    assert tenants_of_run(_range(KEYS[0], KEYS[-1]), KEYS) == KEYS


def test_no_partition_tags_means_every_tenant():
    assert tenants_of_run({}, KEYS) is None
    assert tenants_of_run({"dagster/backfill": "abc"}, []) is None


@pytest.mark.parametrize("tags", [
    {"dagster/asset_partition_range_start": "t-a"},  # one end only
    _range("t-a", "t-gone"),                          # an end that is no partition (deleted tenant)
    _range("t-d", "t-a"),                             # reversed
])
def test_bad_ranges_are_refused_never_widened(tags):
    with pytest.raises(AuditoryxError):
        tenants_of_run(tags, KEYS)
