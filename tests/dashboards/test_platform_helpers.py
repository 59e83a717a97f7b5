"""Pure helpers of the Platform page's data (dashboards/quality_queries.py): a platform snapshot
published before the status columns existed still reads, and each tenant's freshness and failure."""
from __future__ import annotations

import datetime as dt

import polars as pl

from dashboards.quality_queries import PLATFORM_STATUS_COLUMNS, freshness_rows, with_status_columns
from warehouse.tenant_status import TenantStatus

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)


def test_an_older_platform_snapshot_gets_empty_status_columns():
    old = pl.DataFrame({"tenant_id": ["t-a"], "total_bookings": [3]})
    filled = with_status_columns(old)
    assert filled.columns == ["tenant_id", "total_bookings", *PLATFORM_STATUS_COLUMNS]
    assert filled.row(0, named=True)["snapshot_published_at"] is None and filled["build_failed"].dtype == pl.Boolean
    complete = with_status_columns(filled)
    assert complete.columns == filled.columns


def test_freshness_and_failure_per_tenant():
    tenants = with_status_columns(pl.DataFrame({"tenant_id": ["fresh", "stale", "never", "recorded", "live"]})).with_columns(
        pl.Series("snapshot_published_at", [NOW - dt.timedelta(hours=2), NOW - dt.timedelta(hours=30), None,
                                            NOW - dt.timedelta(hours=1), NOW - dt.timedelta(hours=1)],
                  dtype=pl.Datetime("us", "UTC")),
        pl.Series("build_failed", [False, False, False, True, False]),
        pl.Series("build_failed_since", [None, None, None, "2026-11-30T08:00:00Z", None]),
        pl.Series("build_failure", [None, None, None, "dbt test x: 2 failing rows", None]))
    live = {"live": TenantStatus("live", "failed", ("no FX rate", "cross-tenant artist"), "2026-12-01T09:00:00Z",
                                 "2026-12-01T11:00:00Z", "v20261130T000000000000Z-abcdef")}
    rows = {r["tenant_id"]: r for r in freshness_rows(tenants, live, NOW, 26)}
    assert (rows["fresh"]["age"], rows["fresh"]["stale"], rows["fresh"]["failure"]) == (dt.timedelta(hours=2), False, None)
    assert rows["stale"]["stale"] and rows["never"]["stale"] and rows["never"]["age"] is None
    assert rows["recorded"]["failure"] == "since 2026-11-30T08:00:00Z: dbt test x: 2 failing rows"
    assert rows["live"]["failure"] == "since 2026-12-01T09:00:00Z: no FX rate; cross-tenant artist"
    # a tenant whose content did not change keeps its version (published 30 h ago) but was checked
    checked = {r["tenant_id"]: r for r in freshness_rows(tenants, live, NOW, 26,
                                                          {"stale": NOW - dt.timedelta(minutes=5)})}
    assert not checked["stale"]["stale"] and checked["stale"]["age"] == dt.timedelta(minutes=5)


def test_tenant_checks_read_each_tenants_check_time(app_env):
    from dashboards.quality_queries import tenant_checks
    from warehouse.layout import tenant_dir, write_checked

    folder = tenant_dir(app_env.published_dir, "tenant-a")
    folder.mkdir(parents=True)
    write_checked(folder, NOW)
    assert tenant_checks(["tenant-a", "tenant-b", "../etc"]) == {"tenant-a": NOW}
