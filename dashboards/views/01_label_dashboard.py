"""Label dashboard: layout only (data from queries.py, figures from charts.py)."""
from __future__ import annotations

import streamlit as st

from dashboards import charts, queries
from dashboards.branding import primary_colour, tenant_branding
from dashboards.freshness import follow_new_versions
from dashboards.formatting import (
    format_count,
    format_delta_pct,
    format_money,
    kpi_windows_caption,
    md_escape,
    month_label,
    snapshot_caption,
)
from dashboards.session import allowed, require
from operational.permissions import Resource

user = require(Resource.ANALYTICS)
st.title(md_escape(user.tenant_name))
# What this user may see of the money (operational/permissions.py decides; the page only lays out)
shows_revenue = allowed(user, Resource.REVENUE)
shows_receivables = allowed(user, Resource.RECEIVABLES)
shows_earnings = allowed(user, Resource.ARTIST_EARNINGS)
shows_performers = shows_earnings or allowed(user, Resource.ARTIST_PERFORMANCE)

try:
    data = queries.label_dashboard(user.tenant_id)
except queries.PublishedSnapshotDamaged as damaged:  # published, but the pointer or its folder is broken
    st.error(
        "Your analytics could not be loaded right now (the published version is damaged); "
        "it is repaired by the next refresh.",
        icon=":material/build:",
    )
    follow_new_versions(user.tenant_id, damaged.version)  # reruns once a repaired version is published
    st.stop()
except queries.DashboardUnavailable:
    st.error("Your analytics could not be loaded right now. Please try again after the next refresh.")
    st.stop()
follow_new_versions(user.tenant_id, None if data is None else data.version)
if data is None:
    st.info(
        "No analytics have been published for your organization yet. "
        "They appear here after the next data refresh.",
        icon=":material/hourglass_empty:",
    )
    st.stop()

st.caption(snapshot_caption(data.meta))

if not data.has_bookings:
    st.info(
        "No bookings yet. Revenue, bookings and top performers appear here once your team "
        "records bookings and the data is refreshed.",
        icon=":material/event_busy:",
    )
    st.stop()

kpis = data.kpis or {}
currency = data.base_currency
month_name = month_label(data.completed_month)
cards = iter(st.columns(2 + shows_revenue + shows_receivables))
if shows_revenue:
    next(cards).metric(
        "Recognized revenue (30d)",
        format_money(kpis.get("recognized_revenue_30d"), currency),
        delta=format_delta_pct(kpis.get("revenue_delta_pct"), "vs prior 30d"),
        help="Completed bookings with a service date in the last 30 days (as-of date included), "
        "compared with the 30 days before: "
        + format_money(kpis.get("recognized_revenue_prev_30d"), currency),
        border=True,
    )
next(cards).metric(
    "Completed bookings (MTD)",
    format_count(data.completed_bookings_month),
    help=f"Completed bookings with a service date in {month_name} up to the as-of date (calendar "
    "month to date, from the monthly revenue mart): not a rolling 30-day window. "
    f"Bookings started in the last 30 days (any status but draft): {format_count(kpis.get('bookings_30d'))}.",
    border=True,
)
next(cards).metric(
    "Active artists (30d)",
    format_count(kpis.get("active_artists_30d")),
    help="Artists with a non-draft, non-cancelled booking starting in the last 30 days.",
    border=True,
)
if shows_receivables:
    next(cards).metric(
        "Outstanding revenue",
        format_money(kpis.get("outstanding_revenue"), currency),
        help="Completed bookings not yet fully paid (payment pending or partial), all time.",
        border=True,
    )
st.caption(kpi_windows_caption(data.as_of))

if shows_revenue:
    first_month, last_month = data.revenue_window
    st.subheader("Monthly revenue")
    st.caption(
        f"By month of service date, {month_label(first_month)} – {month_label(last_month)}. "
        "Recognized = completed bookings; pipeline = approved, confirmed or in progress."
    )
    trend_tab, type_tab = st.tabs(["Recognized vs pipeline", "By booking type"])
    with trend_tab:
        st.plotly_chart(
            charts.revenue_trend_figure(data.revenue_monthly, currency, first_month, last_month,
                                        accent=primary_colour(tenant_branding(user.tenant_id))),
            width="stretch",
            key="revenue_trend",
        )
    with type_tab:
        st.plotly_chart(
            charts.revenue_by_type_figure(data.revenue_monthly, currency, "recognized_revenue", first_month,
                                          last_month),
            width="stretch",
            key="revenue_by_type",
        )

if shows_performers:
    st.subheader("Top performers")
    st.caption("Artists ranked by recognized revenue over the 90 days up to the as-of date (top 10).")
    if data.top_performers.is_empty():
        st.info("No completed bookings in the last 90 days.")
    else:
        columns = ["rank", "artist_name", *(["recognized_revenue"] if shows_earnings else []), "completed_bookings"]
        st.dataframe(
            data.top_performers.select(columns),
            hide_index=True,
            width="stretch",
            column_config={
                "rank": st.column_config.NumberColumn("Rank", format="%d", width="small"),
                "artist_name": st.column_config.TextColumn("Artist"),
                "recognized_revenue": st.column_config.NumberColumn(
                    f"Recognized revenue ({currency})", format="accounting"
                ),
                "completed_bookings": st.column_config.NumberColumn("Completed bookings", format="%d"),
            },
        )
