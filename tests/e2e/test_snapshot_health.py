"""Snapshot health (the Dagster checks' logic): read in bulk, and each problem pinned on its tenant."""
from __future__ import annotations

from pipelines.snapshot_health import snapshot_health
from warehouse.layout import current_version, version_dir


def test_health_in_bulk_and_per_tenant(refreshed):
    settings, (a, b) = refreshed
    healthy = snapshot_health(settings)
    assert set(healthy) == {a.id, b.id} and all(h.problem is None and h.refreshed_at for h in healthy.values())
    assert snapshot_health(settings, deep=()) == healthy            # bulk only: the same answer

    folder_b = version_dir(settings.published_dir, b.id, current_version(settings.published_dir, b.id))
    (folder_b / "meta.parquet").write_bytes(b"not a parquet file")   # a bulk read fails: pinned on B
    broken = snapshot_health(settings, deep=())
    assert broken[a.id].problem is None and broken[b.id].problem

    (folder_b / "meta.parquet").unlink()
    missing = snapshot_health(settings)
    assert missing[a.id].problem is None and "lacks meta" in missing[b.id].problem
