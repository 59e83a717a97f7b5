"""charts.py: pure DataFrame → Plotly figure functions (no Streamlit involved)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import plotly.graph_objects as go
import polars as pl
import pytest

from dashboards import charts

MONEY = pl.Decimal(18, 2)


def revenue_frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"month": pl.Date, "booking_type": pl.String, "recognized_revenue": MONEY, "pipeline_revenue": MONEY},
        orient="row",
    )


@pytest.fixture
def frame() -> pl.DataFrame:
    return revenue_frame(
        [
            (dt.date(2025, 1, 1), "RECORDING_SESSION", Decimal("1000.10"), Decimal("0.00")),
            (dt.date(2025, 1, 1), "MIXING", Decimal("200.20"), Decimal("50.00")),
            # February has no rows at all
            (dt.date(2025, 3, 1), "RECORDING_SESSION", Decimal("300.00"), Decimal("700.00")),
            (dt.date(2025, 4, 1), "MIXING", Decimal("0.00"), Decimal("400.00")),
        ]
    )


def test_monthly_totals_sum_booking_types_and_fill_missing_months(frame):
    totals = charts.monthly_totals(frame, dt.date(2024, 12, 1), dt.date(2025, 4, 1))
    assert totals["month"].to_list() == [dt.date(2024, 12, 1)] + [dt.date(2025, m, 1) for m in range(1, 5)]
    assert totals["recognized_revenue"].to_list() == [Decimal(x) for x in ("0", "1200.30", "0", "300.00", "0")]
    assert totals["pipeline_revenue"].to_list() == [Decimal(x) for x in ("0", "50.00", "0", "700.00", "400.00")]


def test_revenue_trend_is_grouped_recognized_vs_pipeline(frame):
    fig = charts.revenue_trend_figure(frame, "EUR", dt.date(2025, 1, 1), dt.date(2025, 4, 1))
    assert isinstance(fig, go.Figure)
    assert fig.layout.barmode == "group"
    assert [t.name for t in fig.data] == ["Recognized", "Pipeline"]
    recognized, pipeline = fig.data
    assert list(recognized.x) == [dt.date(2025, m, 1) for m in range(1, 5)]
    assert list(recognized.y) == [1200.30, 0.0, 300.0, 0.0]
    assert list(pipeline.y) == [50.0, 0.0, 700.0, 400.0]
    assert "EUR" in fig.layout.title.text and fig.layout.yaxis.title.text == "EUR"
    assert all("EUR" in t.hovertemplate for t in fig.data)


def test_revenue_trend_without_window_uses_data_range(frame):
    fig = charts.revenue_trend_figure(frame, "USD")
    assert len(fig.data[0].x) == 4  # January … April, February filled


def test_revenue_trend_accepts_pandas(frame):
    fig = charts.revenue_trend_figure(frame.to_pandas(), "USD")
    assert [t.name for t in fig.data] == ["Recognized", "Pipeline"]
    assert sum(fig.data[0].y) == pytest.approx(1500.30)


@pytest.mark.parametrize(
    "rows",
    [[], [(dt.date(2025, 1, 1), "MIXING", Decimal("0.00"), Decimal("0.00"))]],
    ids=["no rows", "only zeros"],
)
def test_revenue_trend_empty_says_so(rows):
    fig = charts.revenue_trend_figure(revenue_frame(rows), "USD", dt.date(2025, 1, 1), dt.date(2025, 3, 1))
    assert len(fig.data) == 0
    assert fig.layout.annotations[0].text == "No revenue in this period"


def test_revenue_by_type_stacks_one_trace_per_type_biggest_first(frame):
    fig = charts.revenue_by_type_figure(frame, "USD", "recognized_revenue")
    assert fig.layout.barmode == "stack"
    assert [t.name for t in fig.data] == ["Recording session", "Mixing"]  # 1300.10 vs 200.20
    recording, mixing = fig.data
    assert list(recording.x) == [dt.date(2025, 1, 1), dt.date(2025, 3, 1)]
    assert list(recording.y) == [1000.10, 300.0]
    assert list(mixing.x) == [dt.date(2025, 1, 1)]  # zero months are not drawn
    assert recording.marker.color == charts.BOOKING_TYPE_COLORS["RECORDING_SESSION"]
    assert fig.layout.title.text == "Recognized revenue by booking type (USD)"


def test_revenue_by_type_pipeline_measure(frame):
    fig = charts.revenue_by_type_figure(frame, "USD", "pipeline_revenue")
    assert [t.name for t in fig.data] == ["Recording session", "Mixing"]  # 700 vs 450
    assert fig.layout.title.text.startswith("Pipeline revenue")


def test_revenue_by_type_unknown_type_gets_a_colour():
    df = revenue_frame([(dt.date(2025, 1, 1), "NEW_KIND", Decimal("5.00"), Decimal("0.00"))])
    fig = charts.revenue_by_type_figure(df, "USD")
    assert fig.data[0].name == "New kind" and fig.data[0].marker.color


def test_revenue_by_type_empty_says_so():
    fig = charts.revenue_by_type_figure(revenue_frame([]), "USD")
    assert len(fig.data) == 0
    assert "No recognized revenue" in fig.layout.annotations[0].text


def test_missing_columns_are_rejected():
    with pytest.raises(ValueError, match="pipeline_revenue"):
        charts.revenue_trend_figure(pd.DataFrame({"month": [], "booking_type": [], "recognized_revenue": []}), "USD")
