"""queries.py against published snapshots in tmp_path (no Streamlit runtime needed)."""
from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from decimal import Decimal

import polars as pl
import pytest

from auditoryx.errors import AuditoryxError
from dashboards import queries
from tenant_data import AS_OF, CANARY_ARTIST, build_world, publish_snapshot


def test_label_dashboard_reads_only_the_tenants_snapshot(world_env):
    data = queries.label_dashboard(world_env.a.tenant_id)
    assert data.tenant_id == world_env.a.tenant_id
    assert data.meta["tenant_name"] == world_env.a.name and data.base_currency == "USD"
    assert data.as_of == AS_OF
    assert data.kpis["recognized_revenue_30d"] == Decimal("12345.67")
    assert data.has_bookings
    assert data.completed_month == dt.date(2025, 3, 1) and data.completed_bookings_month == 8
    assert data.revenue_window == (dt.date(2024, 4, 1), dt.date(2025, 9, 1))
    months = data.revenue_monthly["month"]
    assert months.min() >= dt.date(2024, 4, 1) and months.max() <= dt.date(2025, 9, 1)
    assert data.top_performers["artist_name"].to_list() == ["Lumen Vale", "Marisol Keys", "The Quiet Harbor"]
    for frame in (data.revenue_monthly, data.top_performers):
        assert CANARY_ARTIST not in str(frame.to_dicts())


def test_public_helpers_agree(world_env):
    tid = world_env.b.tenant_id
    assert queries.snapshot_meta(tid)["tenant_id"] == tid
    assert queries.kpi_summary(tid)["base_currency"] == "EUR"
    assert queries.top_performers(tid, limit=1)["artist_name"].to_list() == [CANARY_ARTIST]
    assert queries.revenue_monthly(tid, dt.date(2025, 3, 1), dt.date(2025, 3, 1)).height == 2


def test_unpublished_tenant_gives_none(world_env):
    tid = world_env.unpublished.tenant_id
    assert queries.label_dashboard(tid) is None
    assert queries.snapshot_meta(tid) is None and queries.top_performers(tid) is None


@pytest.mark.parametrize("bad", ["", "../0b1b2c3d", "a/b", "x" * 65, None])
def test_invalid_tenant_ids_are_rejected(world_env, bad):
    with pytest.raises(AuditoryxError):
        queries.label_dashboard(bad)


def test_new_version_is_picked_up_and_dangling_pointer_is_damaged_not_unpublished(tmp_path, monkeypatch):
    world = build_world(tmp_path)
    for key, value in world.env().items():
        monkeypatch.setenv(key, value)
    tid = world.a.tenant_id
    first = queries.label_dashboard(tid)
    assert first.kpis["recognized_revenue_30d"] == Decimal("12345.67")

    changed = dataclasses.replace(world.a, revenue_30d=Decimal("55555.55"))
    version = publish_snapshot(world.published_dir, changed)
    second = queries.label_dashboard(tid)
    assert second.version == version != first.version
    assert second.kpis["recognized_revenue_30d"] == Decimal("55555.55")

    missing = "v20990101T000000000000Z-abcdef"  # CURRENT names a folder that does not exist
    (world.published_dir / tid / "CURRENT").write_text(missing, encoding="utf-8")
    with pytest.raises(queries.PublishedSnapshotDamaged) as damaged:  # published, but unreadable
        queries.label_dashboard(tid)
    assert damaged.value.version == missing
    shutil.rmtree(world.published_dir / tid)  # nothing published at all
    assert queries.label_dashboard(tid) is None


def test_every_statement_binds_the_tenant():
    statements = {name: sql for name, sql in vars(queries).items() if name.startswith("_SQL_")}
    assert len(statements) >= 6
    for name, sql in statements.items():
        assert "WHERE tenant_id = ?" in sql, name
        assert "{" not in sql and "%" not in sql, name  # nothing formatted into SQL


def test_unreadable_snapshot_raises_dashboard_unavailable(tmp_path, monkeypatch):
    world = build_world(tmp_path)
    for key, value in world.env().items():
        monkeypatch.setenv(key, value)
    tid = world.a.tenant_id
    version = publish_snapshot(world.published_dir, world.a)
    kpi_file = world.published_dir / tid / version / "kpi_summary.parquet"
    pl.read_parquet(kpi_file).drop("outstanding_revenue").write_parquet(kpi_file)
    with pytest.raises(queries.DashboardUnavailable):
        queries.label_dashboard(tid)
