"""queries.py against published snapshots in tmp_path (no Streamlit runtime needed)."""
from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from decimal import Decimal

import polars as pl
import pytest

from auditoryx.errors import AuditoryxError
from dashboards import filters, queries
from label_data import expected_period, published_mart
from tenant_data import AS_OF, CANARY_ARTIST, build_world, publish_snapshot

D = dt.date


def assert_period(totals: queries.PeriodTotals, expected: dict) -> None:
    assert totals.recognized_revenue == expected["recognized_revenue"]  # exact Decimal: to the cent
    assert totals.outstanding_receivables == expected["outstanding_receivables"]
    assert (totals.bookings, totals.cancelled_bookings, totals.completed_bookings, totals.active_artists) == (
        expected["bookings"], expected["cancelled_bookings"], expected["completed_bookings"], expected["active_artists"])


def test_label_dashboard_defaults_to_the_last_30_days(world_env):
    a = world_env.a
    data = queries.label_dashboard(a.tenant_id)
    assert data.tenant_id == a.tenant_id
    assert data.meta["tenant_name"] == a.name and data.base_currency == "USD"
    assert data.as_of == AS_OF and data.has_bookings
    assert data.filters == filters.Filters("last_30_days", D(2025, 2, 14), AS_OF)
    daily = published_mart(world_env.published_dir, a.tenant_id, "fct_bookings_daily")
    assert_period(data.current, expected_period(daily, D(2025, 2, 14), AS_OF))
    assert_period(data.prior, expected_period(daily, D(2025, 1, 15), D(2025, 2, 13)))
    assert_period(data.last_year, expected_period(daily, D(2024, 2, 14), D(2024, 3, 15)))
    assert data.current.recognized_revenue > 0 and data.current.cancelled_bookings > 0
    assert data.booking_types == ("MIXING", "RECORDING_SESSION")
    assert data.artists == {"art-a1": "Lumen Vale", "art-a2": "Marisol Keys", "art-a3": "The Quiet Harbor"}
    assert data.top_performers["artist_label"].to_list() == ["Lumen Vale", "Marisol Keys", "The Quiet Harbor"]
    assert data.top_performers["rank"].to_list() == [1, 2, 3]
    assert data.kpis["active_projects"] == 1
    everything = " ".join(str(getattr(data, f.name)) for f in dataclasses.fields(data))
    assert CANARY_ARTIST not in everything and "art-b1" not in everything


@pytest.mark.parametrize("query", [
    {"period": "year_to_date", "type": "MIXING"},
    {"period": "last_month", "artist": "art-a2,art-a3"},
    {"period": "custom", "from": "2024-06-01", "to": "2024-11-30", "type": "RECORDING_SESSION", "artist": "art-a1"},
    {"period": "last_12_months"},
])
def test_filtered_totals_equal_the_mart_to_the_cent(world_env, query):
    a = world_env.a
    data = queries.label_dashboard(a.tenant_id, query)
    chosen = data.filters
    assert filters.to_query(chosen) == query
    daily = published_mart(world_env.published_dir, a.tenant_id, "fct_bookings_daily")
    args = (chosen.booking_types, chosen.artist_ids)
    assert_period(data.current, expected_period(daily, chosen.start, chosen.end, *args))
    assert_period(data.prior, expected_period(daily, *filters.prior_period(chosen.start, chosen.end), *args))
    assert_period(data.last_year, expected_period(daily, *filters.same_period_last_year(chosen.start, chosen.end),
                                                  *args))
    # the monthly series and the top performers are the same rows, cut differently
    assert sum(data.monthly["recognized_revenue"].to_list(), Decimal(0)) == data.current.recognized_revenue
    assert data.monthly["bookings"].sum() == data.current.bookings
    assert sum(data.top_performers["recognized_revenue"].to_list(), Decimal(0)) == data.current.recognized_revenue
    if chosen.booking_types:
        assert set(data.monthly["booking_type"].to_list()) <= set(chosen.booking_types)


def test_the_daily_mart_adds_up_to_the_aging_mart(world_env):
    """Outstanding receivables at the as-of date are the aging buckets' total."""
    a = world_env.a
    data = queries.label_dashboard(a.tenant_id, {"period": "this_month"})
    assert data.current.outstanding_receivables == sum(data.receivables_aging["outstanding_revenue"].to_list(),
                                                       Decimal(0))
    assert data.receivables_aging["aging_bucket"].to_list() == ["0-30", "31-60", "61-90", "90+"]


def test_pipeline_months_after_the_period_end_at_the_last_pipeline_month(world_env):
    data = queries.label_dashboard(world_env.a.tenant_id, {"period": "this_month"})
    months = data.pipeline_monthly["month"].to_list()
    assert months and min(months) == D(2025, 3, 1) and max(months) == D(2025, 4, 1)  # pipeline: 25 Mar, 24 Apr
    assert data.pipeline_monthly.filter(pl.col("month") == max(months))["pipeline_revenue"].sum() > 0
    mixing = queries.label_dashboard(world_env.a.tenant_id, {"period": "this_month", "type": "MIXING"})
    assert mixing.pipeline_monthly.is_empty()  # no pipeline of that type: no months past the period


def test_query_values_of_another_tenant_are_ignored(world_env):
    a, b = world_env.a, world_env.b
    data = queries.label_dashboard(a.tenant_id, {"artist": "art-b1", "type": "PERFORMANCE"})
    assert data.filters.artist_ids == () and data.filters.booking_types == ()
    assert CANARY_ARTIST not in data.artists.values()
    b_data = queries.label_dashboard(b.tenant_id, {"artist": "art-b1"})
    assert b_data.filters.artist_ids == ("art-b1",) and b_data.artists["art-b1"] == CANARY_ARTIST


def test_unpublished_tenant_gives_none(world_env):
    tid = world_env.unpublished.tenant_id
    assert queries.label_dashboard(tid) is None
    assert queries.snapshot_meta(tid) is None


def test_tenant_without_bookings(world_env):
    data = queries.label_dashboard(world_env.empty.tenant_id)
    assert not data.has_bookings and data.booking_types == () and data.artists == {}
    assert data.current.recognized_revenue == 0 and data.current.bookings == 0


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
    assert first.current.active_artists == 3

    changed = dataclasses.replace(world.a, artists=world.a.artists[:1])
    version = publish_snapshot(world.published_dir, changed)
    second = queries.label_dashboard(tid)
    assert second.version == version != first.version
    assert second.current.active_artists == 1 and list(second.artists) == ["art-a1"]

    missing = "v20990101T000000000000Z-abcdef"  # CURRENT names a folder that does not exist
    (world.published_dir / tid / "CURRENT").write_text(missing, encoding="utf-8")
    with pytest.raises(queries.PublishedSnapshotDamaged) as damaged:  # published, but unreadable
        queries.label_dashboard(tid)
    assert damaged.value.version == missing
    shutil.rmtree(world.published_dir / tid)  # nothing published at all
    assert queries.label_dashboard(tid) is None


def test_every_statement_binds_the_tenant():
    statements = {name: sql for name, sql in vars(queries).items() if name.startswith("_SQL_")}
    assert len(statements) >= 12
    for name, sql in statements.items():
        assert "WHERE tenant_id = ?" in sql, name
        assert sql.index("WHERE tenant_id = ?") <= sql.index("?"), name  # the tenant is the first parameter
        assert "{" not in sql and "%" not in sql, name  # nothing formatted into SQL


def test_unreadable_snapshot_raises_dashboard_unavailable(tmp_path, monkeypatch):
    world = build_world(tmp_path)
    for key, value in world.env().items():
        monkeypatch.setenv(key, value)
    tid = world.a.tenant_id
    version = publish_snapshot(world.published_dir, world.a)
    daily_file = world.published_dir / tid / version / "fct_bookings_daily.parquet"
    pl.read_parquet(daily_file).drop("outstanding_revenue").write_parquet(daily_file)
    with pytest.raises(queries.DashboardUnavailable):
        queries.label_dashboard(tid)


def test_on_the_first_of_a_month_the_default_period_is_still_30_days(tmp_path, monkeypatch):
    """The old "Completed bookings (MTD)" card read 0 or 1 on the 1st; the cards now follow the
    selected period, by default the last 30 days."""
    world = build_world(tmp_path)
    for key, value in world.env().items():
        monkeypatch.setenv(key, value)
    tid = world.a.tenant_id
    version = publish_snapshot(world.published_dir, world.a)
    meta_file = world.published_dir / tid / version / "meta.parquet"
    first = D(2025, 3, 1)
    pl.read_parquet(meta_file).with_columns(pl.lit(first).alias("as_of")).write_parquet(meta_file)
    data = queries.label_dashboard(tid)
    assert data.as_of == first and (data.filters.start, data.filters.end) == (D(2025, 1, 31), first)
    daily = published_mart(world.published_dir, tid, "fct_bookings_daily")
    assert_period(data.current, expected_period(daily, D(2025, 1, 31), first))
    assert data.current.bookings > 1 and data.current.completed_bookings > 1
    month = queries.label_dashboard(tid, {"period": "this_month"})
    assert (month.filters.start, month.filters.end) == (first, first) and month.current.bookings == 0


@pytest.mark.parametrize("query", [
    {},
    {"period": "year_to_date", "type": "MIXING"},
    {"period": "last_month", "artist": "art-a2,art-a3"},
    {"period": "custom", "from": "2024-06-01", "to": "2024-11-30", "type": "RECORDING_SESSION", "artist": "art-a1"},
    {"period": "last_12_months"},
])
def test_the_page_sums_the_daily_rows_as_the_sql_does(world_env, query):
    """The label page sums the tenant's daily rows once read (daily_*); the _SQL_PERIOD_*
    statements give the same totals, months (types included) and performers."""
    a = world_env.a
    data = queries.label_dashboard(a.tenant_id, query)
    chosen = data.filters
    ref = queries._resolve(a.tenant_id)
    snapshot = queries._open_snapshot(*ref)
    periods = ((chosen.start, chosen.end), filters.prior_period(chosen.start, chosen.end),
               filters.same_period_last_year(chosen.start, chosen.end))
    choice = [list(chosen.booking_types), list(chosen.artist_ids)]
    sql_totals = snapshot.query(queries._SQL_PERIOD_TOTALS, [a.tenant_id, *choice,
                                                             *[day for period in periods for day in period]])
    for mine, row in zip((data.current, data.prior, data.last_year), sql_totals.iter_rows(named=True)):
        assert mine.recognized_revenue == row["recognized_revenue"] and mine.pipeline_revenue == row["pipeline_revenue"]
        assert mine.outstanding_receivables == row["outstanding_receivables"]
        assert (mine.completed_bookings, mine.bookings, mine.cancelled_bookings, mine.active_artists) == (
            row["completed_bookings"], row["bookings"], row["cancelled_bookings"], row["active_artists"])
    sql_monthly = snapshot.query(queries._SQL_PERIOD_MONTHLY, [a.tenant_id, chosen.start, chosen.end, *choice])
    assert data.monthly.equals(sql_monthly) and data.monthly.schema == sql_monthly.schema
    sql_performers = snapshot.query(queries._SQL_PERIOD_PERFORMERS, [a.tenant_id, chosen.start, chosen.end, *choice])
    assert data.top_performers.select("artist_id", "recognized_revenue", "completed_bookings").equals(sql_performers)
    assert data.booking_types == tuple(snapshot.query(queries._SQL_BOOKING_TYPES, [a.tenant_id])["booking_type"])
    sql_artists = snapshot.query(queries._SQL_ARTISTS, [a.tenant_id, a.tenant_id])
    assert list(data.artists.items()) == list(zip(sql_artists["artist_id"], sql_artists["artist_label"]))


def test_daily_sums_keep_sql_nulls_and_order():
    """Pure: a month whose money is all NULL sums to NULL, as in SQL; NULL types sort last."""
    money = pl.Decimal(18, 2)
    daily = pl.DataFrame({
        "day": [D(2026, 1, 5), D(2026, 1, 6), D(2026, 2, 1)], "booking_type": [None, "LIVE", "LIVE"],
        "artist_id": ["x", "y", "x"],
        "recognized_revenue": pl.Series([None, Decimal("2.50"), Decimal("1.25")], dtype=money),
        "pipeline_revenue": pl.Series([None, None, Decimal("0")], dtype=money),
        "outstanding_revenue": pl.Series([Decimal("1"), None, Decimal("2")], dtype=money),
        "completed_bookings": [0, 1, 1], "started_bookings": [1, 1, 1], "cancelled_bookings": [0, 0, 1]})
    monthly = queries.daily_monthly(daily, D(2026, 1, 1), D(2026, 2, 28))
    assert monthly["booking_type"].to_list() == ["LIVE", None, "LIVE"]
    assert monthly["recognized_revenue"].to_list() == [Decimal("2.50"), None, Decimal("1.25")]
    assert monthly["pipeline_revenue"].to_list()[:2] == [None, None]
    (totals,) = queries.daily_period_totals(daily, ((D(2026, 1, 1), D(2026, 1, 31)),))
    assert (totals.recognized_revenue, totals.outstanding_receivables, totals.active_artists) == (
        Decimal("2.50"), Decimal("1"), 2)
    performers = queries.daily_performers(daily, D(2026, 1, 1), D(2026, 2, 28))
    assert performers["artist_id"].to_list() == ["y", "x"]
