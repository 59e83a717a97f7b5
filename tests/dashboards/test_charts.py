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
    assert (fig.layout.title.text, fig.layout.title.subtitle.text) == ("Recognized revenue (USD)", "By booking type")


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


# ------------------------------------------------------------------------ label dashboard


def test_trend_window_stops_at_the_last_pipeline_month(frame):
    after = revenue_frame([
        (dt.date(2025, 5, 1), "MIXING", Decimal("0"), Decimal("10.00")),
        (dt.date(2025, 6, 1), "MIXING", Decimal("0"), Decimal("0.00")),  # nothing past May
    ])
    assert charts.trend_window(frame, after, dt.date(2025, 1, 10), dt.date(2025, 4, 20)) == (
        dt.date(2025, 1, 1), dt.date(2025, 5, 1))
    assert charts.trend_window(frame, after.clear(), dt.date(2025, 1, 10), dt.date(2025, 4, 20)) == (
        dt.date(2025, 1, 1), dt.date(2025, 4, 1))
    fig = charts.revenue_trend_figure(pl.concat([frame, after]), "USD", *charts.trend_window(
        frame, after, dt.date(2025, 1, 10), dt.date(2025, 4, 20)))
    assert fig.data[1].x[-1] == dt.date(2025, 5, 1) and len(fig.data[1].x) == 5  # no June


def bookings_frame():
    return pl.DataFrame({"month": [dt.date(2025, 1, 1), dt.date(2025, 1, 1), dt.date(2025, 3, 1)],
                         "bookings": [6, 2, 5], "cancelled_bookings": [1, 1, 0]})


def test_bookings_figure_has_bars_and_a_cancellation_rate_line():
    fig = charts.bookings_figure(bookings_frame(), dt.date(2025, 1, 1), dt.date(2025, 3, 1))
    bars, line = fig.data
    assert list(bars.y) == [8, 0, 5]  # February filled with 0
    assert list(line.y) == [25.0, None, 0.0] and line.yaxis == "y2"
    empty = charts.bookings_figure(bookings_frame().clear(), dt.date(2025, 1, 1), dt.date(2025, 3, 1))
    assert empty.layout.annotations[0].text == "No bookings in this period"


def test_funnel_in_stage_order_with_exits_in_the_title():
    funnel = pl.DataFrame({"stage_order": [2, 1, 3], "status": ["COMPLETED", "DRAFT", "CANCELLED"],
                           "is_funnel_stage": [True, True, False], "bookings_90d": [3, 9, 2]})
    fig = charts.funnel_figure(funnel)
    # reached: 9 drafts + 3 completed got to Draft at least; never more than 100 % of the first stage
    assert list(fig.data[0].y) == ["Draft", "Completed"] and list(fig.data[0].x) == [12, 3]
    assert list(fig.data[0].customdata) == [9, 3]  # where they are now, on hover
    assert fig.layout.title.text == "Booking funnel" and fig.layout.title.subtitle.text == "Exits: Cancelled 2"


def test_funnel_never_exceeds_its_first_stage_when_few_are_still_drafts():
    funnel = pl.DataFrame({"stage_order": [1, 2, 3], "status": ["DRAFT", "CONFIRMED", "COMPLETED"],
                           "is_funnel_stage": [True, True, True], "bookings_90d": [1, 40, 71]})
    x = list(charts.funnel_figure(funnel).data[0].x)
    assert x == [112, 111, 71] and all(later <= earlier for earlier, later in zip(x, x[1:]))


def test_receivables_aging_calls_out_over_90_days():
    aging = pl.DataFrame({"bucket_order": [1, 2, 3, 4], "aging_bucket": ["0-30", "31-60", "61-90", "90+"],
                          "outstanding_revenue": [Decimal("10.00"), Decimal("0"), Decimal("0"), Decimal("750.25")]},
                         schema_overrides={"outstanding_revenue": MONEY})
    fig = charts.receivables_aging_figure(aging, "USD", "$750.25")
    assert fig.layout.title.text == "Receivables aging (USD)"
    assert fig.layout.title.subtitle.text == "Outstanding over 90 days: $750.25"
    assert list(fig.data[0].marker.color) == [charts.AGING_COLOR] * 3 + [charts.OVERDUE_COLOR]
    assert list(fig.data[0].y) == [10.0, 0.0, 0.0, 750.25]


def test_project_status_stacks_at_risk_projects():
    fig = charts.project_status_figure(pl.DataFrame({"status": ["IN_PROGRESS", "PLANNING"], "projects": [3, 1],
                                                     "at_risk": [1, 0]}))
    assert [t.name for t in fig.data] == ["On track", "At risk"]
    assert list(fig.data[0].y) == [2, 1] and list(fig.data[1].y) == [1, 0]
    assert list(fig.data[0].x) == ["In progress", "Planning"]


def test_revenue_by_currency_biggest_on_top_with_original_amounts():
    frame = pl.DataFrame({"currency": ["USD", "GBP"], "recognized_revenue": [Decimal("900.00"), Decimal("100.00")],
                          "recognized_revenue_original": [Decimal("900.00"), Decimal("80.00")]},
                         schema_overrides={"recognized_revenue": MONEY, "recognized_revenue_original": MONEY})
    fig = charts.revenue_by_currency_figure(frame, "USD")
    assert list(fig.data[0].y) == ["GBP", "USD"] and list(fig.data[0].customdata) == [80.0, 900.0]


def test_top_performers_by_stage_name_carry_the_artist_id():
    top = pl.DataFrame({"rank": [1, 2], "artist_id": ["art-1", "art-2"], "artist_label": ["Lumen <b>Vale</b>", "Keys"],
                        "recognized_revenue": [Decimal("500.00"), Decimal("20.00")], "completed_bookings": [3, 1]},
                       schema_overrides={"recognized_revenue": MONEY})
    fig = charts.top_performers_figure(top, "EUR")
    assert list(fig.data[0].y) == ["1. Lumen &lt;b&gt;Vale&lt;/b&gt;", "2. Keys"]  # user text is not markup
    assert list(fig.data[0].customdata) == ["art-1", "art-2"]
    assert "EUR" in fig.layout.title.text
    counts = charts.top_performers_figure(top, "EUR", "completed_bookings")
    assert list(counts.data[0].x) == [3.0, 1.0] and "EUR" not in counts.layout.title.text
    assert charts.top_performers_figure(top.clear(), "EUR").layout.annotations[0].text.startswith("No completed")


def test_hover_amounts_follow_the_currency_minor_units(frame):
    assert charts.money_format("USD") == ",.2f" and charts.money_format("JPY") == ",.0f"
    yen = charts.revenue_trend_figure(frame, "JPY")
    assert all("%{y:,.0f} JPY" in trace.hovertemplate for trace in yen.data)
    assert "%{y:,.2f} USD" in charts.revenue_trend_figure(frame, "USD").data[0].hovertemplate


# ---------------------------------------------------------------------------- shared layout


def _all_figures(frame) -> dict[str, go.Figure]:
    """One figure of every builder (charts.py and the roster's artist_charts.py), with data."""
    from dashboards import artist_charts

    top = pl.DataFrame({"rank": [1], "artist_id": ["a"], "artist_label": ["A"],
                        "recognized_revenue": [Decimal("5.00")], "completed_bookings": [1]},
                       schema_overrides={"recognized_revenue": MONEY})
    monthly = pl.DataFrame({"month": [dt.date(2025, 1, 1)], "completed_bookings": [2],
                            "recognized_revenue": [Decimal("5.00")], "hours_delivered": [Decimal("3.0")]})
    return {
        "trend": charts.revenue_trend_figure(frame, "USD"),
        "by_type": charts.revenue_by_type_figure(frame, "USD"),
        "bookings": charts.bookings_figure(bookings_frame(), dt.date(2025, 1, 1), dt.date(2025, 3, 1)),
        "status": charts.project_status_figure(pl.DataFrame({"status": ["PLANNING"], "projects": [2],
                                                             "at_risk": [1]})),
        "timeline": charts.milestone_timeline_figure(pl.DataFrame({
            "project": ["LP"], "title": ["Mix"], "status": ["PENDING"], "due_date": [dt.date(2025, 3, 1)]}),
            dt.date(2025, 3, 15)),
        "calendar": charts.calendar_figure(pl.DataFrame({
            "artist": ["A"], "title": ["T"], "status": ["CONFIRMED"], "start": [dt.datetime(2025, 3, 10, 9)],
            "end": [dt.datetime(2025, 3, 10, 11)]}), dt.datetime(2025, 3, 10), dt.datetime(2025, 3, 17),
            "America/Argentina/Buenos_Aires"),
        "top": charts.top_performers_figure(top, "USD"),
        "performance": artist_charts.performance_figure(monthly, "USD"),
    }


def test_every_chart_has_its_legend_below_the_plot_and_its_title_above(frame):
    """The shared layout: a horizontal legend anchored to the bottom of the figure (under the
    axis) and the title at the top, so that the two never meet at any width."""
    for name, fig in _all_figures(frame).items():
        layout = fig.layout
        assert layout.title.text and layout.title.yref == "container" and layout.title.y == 1, name
        assert layout.title.yanchor == "top", name
        if layout.showlegend is False:
            assert name == "top", name  # one series: no legend
            continue
        legend = layout.legend
        assert (legend.orientation, legend.yref, legend.y, legend.yanchor) == ("h", "container", 0, "bottom"), name
        lines = layout.title.text.count("<br>") + 1
        subtitle = layout.title.subtitle.text
        sub_lines = subtitle.count("<br>") + 1 if subtitle else 0
        assert layout.margin.t >= lines * charts.TITLE_FONT + sub_lines * charts.SUBTITLE_FONT, name


def test_titles_are_wrapped_to_fit_a_phone_between_words():
    long = "Bookings by artist (times in America/Argentina/Buenos_Aires)"
    lines = charts.wrap_title(long, charts.TITLE_LINE_CHARS)
    assert " ".join(lines) == long and len(lines) == 2
    assert all(len(line) <= charts.TITLE_LINE_CHARS for line in lines[:-1])
    assert lines[-1] == "America/Argentina/Buenos_Aires)"  # a long word stays whole
    assert charts.wrap_title("Projects by status", charts.TITLE_LINE_CHARS) == ["Projects by status"]
    assert charts.wrap_title(None, 10) == []
    fig = charts.calendar_figure(pl.DataFrame(schema={c: pl.String for c in charts.CALENDAR_COLUMNS}),
                                 dt.datetime(2025, 3, 10), dt.datetime(2025, 3, 17), "America/Argentina/Buenos_Aires")
    assert fig.layout.title.text == "<br>".join(charts.wrap_title(
        "Bookings by artist (times in America/Argentina/Buenos_Aires)", charts.TITLE_LINE_CHARS))
    one_line = charts.project_status_figure(pl.DataFrame({"status": ["PLANNING"], "projects": [1], "at_risk": [0]}))
    assert fig.layout.margin.t > one_line.layout.margin.t  # the top margin grows with the lines


def test_a_figure_with_a_legend_is_taller_by_the_legend_row():
    with_legend = charts.chart_layout(go.Figure(), "T", height=300)
    without = charts.chart_layout(go.Figure(), "T", height=300, legend=False)
    assert with_legend.layout.height == 300 + charts.LEGEND_PX and without.layout.height == 300
    assert without.layout.showlegend is False and with_legend.layout.showlegend is True


def test_a_frozen_figure_serializes_as_its_figure_and_reuses_its_dictionary():
    """The label page hands st.plotly_chart FrozenFigures: the same JSON as the figure they were
    made from, and one dictionary for every call (no deep copy per rerun)."""
    import json

    import plotly.io as pio
    import plotly.tools

    from dashboards.label_figures import FrozenFigure, freeze

    figure = go.Figure(go.Bar(x=["Jan", "Feb"], y=[1200.5, 0], name="Recognized"))
    figure.update_layout(title="Revenue", yaxis_tickprefix="$")
    frozen = freeze(go.Figure(figure))
    assert isinstance(frozen, FrozenFigure) and isinstance(frozen, go.Figure)
    assert frozen.to_dict() is frozen.to_dict()
    # what Streamlit does with either (plotly_chart: return_figure_from_figure_or_data, then to_json)
    as_sent = [json.loads(pio.to_json(plotly.tools.return_figure_from_figure_or_data(f, validate_figure=True),
                                      validate=False)) for f in (figure, frozen)]
    assert as_sent[0] == as_sent[1]  # the same content (the copy may order the layout's keys differently)
