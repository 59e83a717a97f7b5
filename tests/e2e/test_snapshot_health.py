"""Snapshot health (the Dagster checks' logic): read in bulk, and each problem pinned on its tenant."""
from __future__ import annotations

import shutil

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


def test_files_read_only_for_the_given_tenants_the_rest_checked_by_pointer_listing_and_meta(refreshed):
    """A run over tenant A reads A's files; B's are only listed and its meta read (B's files did
    not change in that run): a damaged mart of B shows in a check of every tenant, not in A's run;
    a missing file or a meta naming another tenant shows in both."""
    settings, (a, b) = refreshed
    assert snapshot_health(settings, deep=[a.id], read=[a.id]) == snapshot_health(settings)
    folder_b = version_dir(settings.published_dir, b.id, current_version(settings.published_dir, b.id))
    (folder_b / "fct_revenue_monthly.parquet").write_bytes(b"damaged")
    assert snapshot_health(settings, deep=[a.id], read=[a.id])[b.id].problem is None
    assert snapshot_health(settings, deep=[b.id], read=[b.id])[b.id].problem
    everyone = snapshot_health(settings)
    assert everyone[a.id].problem is None and everyone[b.id].problem

    (folder_b / "fct_revenue_monthly.parquet").unlink()
    assert "lacks fct_revenue_monthly" in snapshot_health(settings, deep=[a.id], read=[a.id])[b.id].problem
    folder_a = version_dir(settings.published_dir, a.id, current_version(settings.published_dir, a.id))
    shutil.copyfile(folder_a / "meta.parquet", folder_b / "meta.parquet")  # B's folder, A's meta
    shutil.copyfile(folder_a / "fct_revenue_monthly.parquet", folder_b / "fct_revenue_monthly.parquet")
    assert snapshot_health(settings, deep=[a.id], read=[a.id])[b.id].problem == "meta names another tenant"
    assert snapshot_health(settings, deep=(), read=())[a.id].refreshed_at == everyone[a.id].refreshed_at
