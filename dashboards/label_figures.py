"""The label dashboard's Plotly figures, built once per tenant, snapshot version, filters and
accent colour, each kept with its ``to_dict()`` (``FrozenFigure``): st.plotly_chart only reads a
figure through ``to_dict``, which otherwise deep-copies every trace on every rerun (≈ 26 ms of
a rerun's ≈ 55 for the page's eight charts)."""
from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboards import charts
from dashboards.queries import LabelDashboard


class FrozenFigure(go.Figure):
    """A figure that is never changed after it is built (made by :func:`freeze`): ``to_dict()``
    returns the same dictionary on every call (read it, never change it)."""

    _frozen_dict: dict

    def to_dict(self) -> dict:
        return self._frozen_dict


def freeze(figure: go.Figure) -> FrozenFigure:
    """``figure`` itself as a FrozenFigure, its dictionary taken now. No copy: copying a figure
    validates every trace again (≈ 70 ms for the page's eight, on the first view)."""
    if type(figure) is not go.Figure:
        raise TypeError(f"freeze takes a plotly.graph_objects.Figure, not {type(figure).__name__}")
    frozen_dict = figure.to_dict()
    figure.__class__ = FrozenFigure
    figure._frozen_dict = frozen_dict
    return figure


@st.cache_resource(max_entries=256, show_spinner=False)
def _build(tenant_id: str, version: str, filters, accent: str | None, over_90_text: str,
           performer_measure: str, _data: LabelDashboard) -> dict[str, go.Figure]:
    data, chosen = _data, _data.filters
    currency = data.base_currency
    first_month, last_month = chosen.start.replace(day=1), chosen.end.replace(day=1)
    trend_first, trend_last = charts.trend_window(data.monthly, data.pipeline_monthly, chosen.start, chosen.end)
    figures = {
        "revenue_trend": charts.revenue_trend_figure(pl.concat([data.monthly, data.pipeline_monthly]), currency,
                                                     trend_first, trend_last, accent=accent),
        "revenue_by_type": charts.revenue_by_type_figure(data.monthly, currency, "recognized_revenue", first_month,
                                                         last_month),
        "revenue_by_currency": charts.revenue_by_currency_figure(data.revenue_by_currency, currency),
        "bookings_trend": charts.bookings_figure(data.monthly, first_month, last_month),
        "booking_funnel": charts.funnel_figure(data.funnel),
        "receivables_aging": charts.receivables_aging_figure(data.receivables_aging, currency, over_90_text),
        "project_status": charts.project_status_figure(data.project_status),
        "top_performers_chart": charts.top_performers_figure(data.top_performers, currency, performer_measure),
    }
    return {name: freeze(figure) for name, figure in figures.items()}


def label_figures(data: LabelDashboard, accent: str | None, over_90_text: str,
                  performer_measure: str) -> dict[str, go.Figure]:
    """Every figure of the page (the page shows those the user's role allows)."""
    return _build(data.tenant_id, data.version, data.filters, accent, over_90_text, performer_measure, data)
