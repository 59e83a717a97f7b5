"""Plotly figures of the roster's per-artist view: pure functions from a DataFrame to a figure.

Money columns arrive as exact decimals; they become floats here only to be drawn. A figure that
shows money is only built when the caller says the viewer may see it (``currency`` given).
"""
from __future__ import annotations

import datetime as dt

import plotly.graph_objects as go
import polars as pl

from dashboards.charts import chart_layout

BOOKINGS_COLOR = "#2563eb"
REVENUE_COLOR = "#16a34a"
HOURS_COLOR = "#9333ea"
PERFORMANCE_COLUMNS = ("month", "completed_bookings", "recognized_revenue", "hours_delivered")


def performance_figure(monthly: pl.DataFrame, currency: str | None = None, accent: str | None = None) -> go.Figure:
    """Completed bookings per month as bars, with a line on a second axis: recognized revenue in
    ``currency`` when given (the viewer may see money), else hours delivered.

    ``monthly`` holds every month to show (zeros included), oldest first."""
    missing = [c for c in PERFORMANCE_COLUMNS if c not in monthly.columns]
    if missing:
        raise ValueError(f"missing columns: {', '.join(missing)}")
    title = f"Monthly performance ({currency})" if currency else "Monthly performance"
    subtitle = "Completed bookings and " + ("recognized revenue" if currency else "hours delivered")
    fig = go.Figure()
    if monthly.is_empty() or not monthly["completed_bookings"].sum():
        return chart_layout(fig, title, subtitle, height=340, legend=False, xaxis={"visible": False},
                            yaxis={"visible": False},
                            annotations=[{"text": "No completed bookings in this period", "showarrow": False,
                                          "font": {"size": 14}}])
    months = monthly["month"].to_list()
    fig.add_bar(x=months, y=monthly["completed_bookings"].to_list(), name="Completed bookings",
                marker_color=accent or BOOKINGS_COLOR, hovertemplate="Completed bookings: %{y:,d}<extra></extra>")
    if currency:
        fig.add_scatter(x=months, y=monthly["recognized_revenue"].cast(pl.Float64).to_list(),
                        name="Recognized revenue", yaxis="y2", mode="lines+markers", line={"color": REVENUE_COLOR},
                        hovertemplate=f"Recognized revenue: %{{y:,.2f}} {currency}<extra></extra>")
        second_title = currency
    else:
        fig.add_scatter(x=months, y=monthly["hours_delivered"].cast(pl.Float64).to_list(), name="Hours delivered",
                        yaxis="y2", mode="lines+markers", line={"color": HOURS_COLOR},
                        hovertemplate="Hours delivered: %{y:,.1f}<extra></extra>")
        second_title = "Hours"
    half_month = dt.timedelta(days=15)
    return chart_layout(
        fig, title, subtitle,
        height=360,
        hovermode="x unified",
        xaxis={"title": None, "tickformat": "%b %Y", "dtick": "M1" if len(months) <= 18 else "M3",
               "range": [months[0] - half_month, months[-1] + half_month]},
        yaxis={"title": "Completed bookings", "rangemode": "tozero", "tickformat": ",d"},
        yaxis2={"title": second_title, "overlaying": "y", "side": "right", "rangemode": "tozero",
                "tickformat": ",.0f", "showgrid": False},
    )
