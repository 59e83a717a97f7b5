"""The operator's platform snapshot never shows a failed build's numbers: a tenant whose build
failed keeps its last good row (or, never having passed, its identity with no numbers), and the
overview is summed from those rows the way the dbt model sums the mart."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest

from warehouse.build_db import connect_build, ensure_raw_tables
from warehouse.publish import publish_platform, version_time
from warehouse.reader import open_platform_snapshot
from warehouse.tenant_status import write_failed

AS_OF = dt.date(2026, 6, 30)
ROOT = Path(__file__).resolve().parents[2]
OVERVIEW_MODEL = ROOT / "dbt_project" / "models" / "marts" / "platform" / "platform_overview.sql"
SUMMARY_DDL = """
CREATE OR REPLACE TABLE marts.platform_tenant_summary (
    tenant_id VARCHAR NOT NULL, slug VARCHAR, organization_name VARCHAR, organization_type VARCHAR,
    plan VARCHAR, is_active BOOLEAN NOT NULL, base_currency VARCHAR NOT NULL, total_bookings BIGINT NOT NULL,
    completed_bookings BIGINT NOT NULL, recognized_revenue_usd DECIMAL(18,2) NOT NULL,
    recognized_revenue DECIMAL(18,2) NOT NULL)
"""


def _marts(conn, rows: list[tuple]) -> None:
    """platform_tenant_summary as given; platform_overview by the dbt model's own SQL."""
    conn.execute(SUMMARY_DDL)
    conn.executemany("INSERT INTO marts.platform_tenant_summary VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    sql = re.sub(r"\{#.*?#\}", "", OVERVIEW_MODEL.read_text(encoding="utf-8"), flags=re.S)
    sql = sql.replace("{{ ref('platform_tenant_summary') }}", "marts.platform_tenant_summary")
    conn.execute(f"CREATE OR REPLACE TABLE marts.platform_overview AS {sql}")


def _row(tenant, plan, kind, bookings, completed, usd, active=True):
    return (tenant, tenant, tenant.upper(), kind, plan, active, "USD", bookings, completed, Decimal(usd), Decimal(usd))


GOOD = [_row("t-a", "PRO", "RECORD_LABEL", 10, 4, "400.00"), _row("t-b", "PRO", "RECORD_LABEL", 7, 3, "300.50"),
        _row("t-c", "FREE", "STUDIO", 2, 1, "20.00", active=False)]
# the next build: t-b's rows failed a data test (its numbers here are the failed build's)
BAD = [_row("t-a", "PRO", "RECORD_LABEL", 11, 5, "450.00"), _row("t-b", "PRO", "RECORD_LABEL", 99, 98, "9999.99"),
       _row("t-c", "FREE", "STUDIO", 2, 1, "20.00", active=False), _row("t-new", "FREE", "STUDIO", 5, 5, "55.55")]


@pytest.fixture
def build(tmp_path):
    conn = connect_build(tmp_path / "build.duckdb")
    ensure_raw_tables(conn)
    conn.execute("CREATE SCHEMA marts")
    yield conn
    conn.close()


def _published(published: Path):
    snap = open_platform_snapshot(published)
    try:
        rows = {r["tenant_id"]: r for r in snap.query("SELECT * FROM platform_tenant_summary").iter_rows(named=True)}
        overview = snap.query("SELECT * FROM platform_overview ORDER BY plan, organization_type").rows()
        return rows, overview
    finally:
        snap.close()


def test_without_failures_the_marts_are_published_with_each_tenants_freshness(build, tmp_path):
    published = tmp_path / "published"
    _marts(build, GOOD)
    tenant_version = "v20260630T120000123456Z-abcdef"
    (published / "t-a").mkdir(parents=True)
    (published / "t-a" / "CURRENT").write_text(tenant_version + "\n")
    publish_platform(build, published, as_of=AS_OF)
    rows, overview = _published(published)
    assert overview == build.execute("SELECT * FROM marts.platform_overview ORDER BY plan, organization_type").fetchall()
    assert {t: (r["completed_bookings"], r["numbers_from"], r["build_failed"]) for t, r in rows.items()} == {
        "t-a": (4, "this build", False), "t-b": (3, "this build", False), "t-c": (1, "this build", False)}
    assert rows["t-a"]["snapshot_version"] == tenant_version
    assert rows["t-a"]["snapshot_published_at"] == dt.datetime(2026, 6, 30, 12, 0, 0, 123456, tzinfo=dt.timezone.utc)
    assert rows["t-b"]["snapshot_version"] is None and rows["t-b"]["snapshot_published_at"] is None
    assert version_time(tenant_version) == rows["t-a"]["snapshot_published_at"]


def test_a_failed_tenant_keeps_its_last_good_numbers_and_the_overview_follows(build, tmp_path):
    published = tmp_path / "published"
    _marts(build, GOOD)
    publish_platform(build, published, as_of=AS_OF)
    _marts(build, BAD)
    write_failed(published, "t-b", ["dbt test relationships_within_tenant: 1 failing row"])
    write_failed(published, "t-new", ["dbt test assert_bookings_have_fx_rates: 1 failing row"])
    publish_platform(build, published, as_of=AS_OF)
    rows, overview = _published(published)
    assert {t: (r["total_bookings"], r["completed_bookings"], r["recognized_revenue_usd"], r["numbers_from"])
            for t, r in rows.items()} == {
        "t-a": (11, 5, Decimal("450.00"), "this build"),
        "t-b": (7, 3, Decimal("300.50"), "last good build"),          # not 99 / 98 / 9999.99
        "t-c": (2, 1, Decimal("20.00"), "this build"),
        "t-new": (None, None, None, "none")}                           # never passed: identity only
    assert rows["t-new"]["plan"] == "FREE" and rows["t-new"]["organization_name"] == "T-NEW"
    assert rows["t-b"]["build_failed"] and "relationships_within_tenant" in rows["t-b"]["build_failure"]
    assert rows["t-b"]["build_failed_since"]
    # (plan, type, tenants, active, bookings, completed, revenue): t-b's good numbers, t-new counted, no numbers
    assert overview == [("FREE", "STUDIO", 2, 1, 2, 1, Decimal("20.00")),
                        ("PRO", "RECORD_LABEL", 2, 2, 18, 8, Decimal("750.50"))]
    # it fails again: carried over from the previous platform version
    publish_platform(build, published, as_of=AS_OF)
    rows, _ = _published(published)
    assert (rows["t-b"]["completed_bookings"], rows["t-b"]["numbers_from"]) == (3, "last good build")
    assert rows["t-new"]["numbers_from"] == "none"
