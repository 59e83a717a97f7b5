"""The per-artist snapshot reads (dashboards/roster_queries.py) and figure (dashboards/artist_charts.py):
values as in the marts, months without work as zeros, another tenant's artist id matching nothing,
a version published mid-session read on the next call, and the figure's money only on request."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl
import pytest

from dashboards import artist_charts, roster_queries
from tenant_data import publish_snapshot
from test_roster_page import A1_MONTHS, A_ARTISTS, _marts, _point_at, make_world


@pytest.fixture
def env(tmp_path, monkeypatch):
    return _point_at(make_world(tmp_path / "world"), monkeypatch)


def test_artist_analytics_reads_the_artists_rows_of_the_tenants_current_version(env):
    data = roster_queries.artist_analytics(env.a.tenant_id, "art-a1")
    assert (data.tenant_id, data.base_currency) == (env.a.tenant_id, "USD")
    assert (data.lifetime["completed_bookings"], data.lifetime["recognized_revenue"],
            data.lifetime["hours_delivered"]) == (17, Decimal("48250.75"), 42.5)
    assert data.monthly.rows() == [(month, done, Decimal(revenue), hours) for month, done, revenue, hours in A1_MONTHS]
    assert data.monthly.schema == pl.Schema(roster_queries.MONTHLY_COLUMNS)

    foreign = roster_queries.artist_analytics(env.a.tenant_id, "art-b1")  # B's artist, asked as A
    assert foreign.lifetime is None and foreign.monthly.is_empty()
    assert roster_queries.artist_analytics(env.unpublished.tenant_id, "art-a1") is None

    # a new version (more work in March 2025) is read on the next call, no error, no stale cache
    months = A1_MONTHS[:-1] + [(dt.date(2025, 3, 1), 9, "26000.50", 22.0)]
    version = publish_snapshot(env.published_dir, env.a, frames=_marts(env.a.tenant_id, "USD", A_ARTISTS,
                                                                       {"art-a1": months}))
    again = roster_queries.artist_analytics(env.a.tenant_id, "art-a1")
    assert again.version == version and again.lifetime["completed_bookings"] == 18
    assert again.monthly["recognized_revenue"].to_list()[-1] == Decimal("26000.50")


def test_monthly_series_fills_quiet_months_with_zeros_up_to_the_as_of_month():
    monthly = pl.DataFrame([(dt.date(2024, 11, 1), 2, Decimal("10.50"), 1.5), (dt.date(2025, 1, 1), 1, Decimal("4.00"), 0.5)],
                           schema=roster_queries.MONTHLY_COLUMNS, orient="row")
    series = roster_queries.monthly_series(monthly, dt.date(2025, 3, 15))
    assert series["month"].to_list() == [dt.date(2024, 11, 1), dt.date(2024, 12, 1), dt.date(2025, 1, 1),
                                         dt.date(2025, 2, 1), dt.date(2025, 3, 1)]
    assert series["completed_bookings"].to_list() == [2, 0, 1, 0, 0]
    assert series["recognized_revenue"].to_list() == [Decimal("10.50"), Decimal("0.00"), Decimal("4.00"),
                                                      Decimal("0.00"), Decimal("0.00")]
    capped = roster_queries.monthly_series(monthly, dt.date(2025, 3, 15), max_months=3)
    assert capped["month"].to_list() == [dt.date(2025, 1, 1), dt.date(2025, 2, 1), dt.date(2025, 3, 1)]
    empty = roster_queries.monthly_series(monthly.clear(), dt.date(2025, 3, 15))
    assert empty.rows() == [(dt.date(2025, 3, 1), 0, Decimal("0.00"), 0.0)]


def test_performance_figure_draws_money_only_when_given_a_currency():
    series = roster_queries.monthly_series(pl.DataFrame(
        [(dt.date(2025, 1, 1), 3, Decimal("1234.56"), 4.5)], schema=roster_queries.MONTHLY_COLUMNS, orient="row"),
        dt.date(2025, 2, 10))
    with_money = artist_charts.performance_figure(series, "EUR")
    bars, line = with_money.data
    assert (list(bars.y), list(line.y), line.name) == ([3, 0], [1234.56, 0.0], "Recognized revenue")
    assert "EUR" in with_money.layout.title.text and with_money.layout.yaxis2.title.text == "EUR"
    without = artist_charts.performance_figure(series)
    assert [trace.name for trace in without.data] == ["Completed bookings", "Hours delivered"]
    assert list(without.data[1].y) == [4.5, 0.0]
    assert "1234" not in without.to_json() and "EUR" not in without.to_json()
    nothing = artist_charts.performance_figure(series.with_columns(pl.lit(0, pl.Int64).alias("completed_bookings")))
    assert not nothing.data and nothing.layout.annotations[0].text == "No completed bookings in this period"
    with pytest.raises(ValueError, match="missing columns: hours_delivered"):
        artist_charts.performance_figure(series.drop("hours_delivered"))
