"""Snapshot health (the Dagster checks' logic): read in bulk, and each problem pinned on its tenant."""
from __future__ import annotations

import datetime as dt
import shutil

from pipelines.snapshot_health import snapshot_health
from warehouse.layout import current_version, tenant_dir, version_dir, write_checked


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


def test_files_read_only_for_the_given_tenants_the_rest_checked_by_pointer_and_listing(refreshed):
    """A run over tenant A reads A's files; B's are only listed (B's files did not change in that
    run): a damaged mart of B or a meta naming another tenant shows in a check of every tenant,
    not in A's run; a missing file shows in both. B's refresh time then comes from its version's
    name (or CHECKED_AT), at most a few seconds before the meta's."""
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
    assert snapshot_health(settings, deep=[a.id], read=[a.id])[b.id].problem is None
    assert snapshot_health(settings)[b.id].problem == "meta names another tenant"
    assert snapshot_health(settings, deep=[b.id], read=[b.id])[b.id].problem == "meta names another tenant"
    unread = snapshot_health(settings, deep=(), read=())[a.id].refreshed_at
    assert dt.timedelta(0) <= everyone[a.id].refreshed_at - unread < dt.timedelta(seconds=30)
    stamp = dt.datetime(2031, 1, 1, tzinfo=dt.timezone.utc)  # a refresh that kept the version checked it later
    write_checked(tenant_dir(settings.published_dir, a.id), stamp)
    assert snapshot_health(settings, deep=(), read=())[a.id].refreshed_at == stamp
