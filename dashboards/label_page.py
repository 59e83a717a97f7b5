"""The label dashboard's layout (views/01_label_dashboard.py calls :func:`render`): data from
queries.py, figures from charts.py via label_figures.py, filters from filters.py, text from
formatting.py. The filters live in the URL query, never the tenant.

A function in a module rather than the page script itself: Streamlit compiles a page script (with
its "magic" rewrite) on each AppTest run, ~25 ms for this page; a module is compiled once."""
from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from dashboards import charts, filters, queries
from dashboards.app_settings import settings as get_settings
from dashboards.branding import primary_colour, tenant_branding
from dashboards.formatting import (
    change_fraction,
    format_age,
    format_count,
    format_date,
    format_delta_count,
    format_delta_pct,
    format_delta_points,
    format_local_time,
    format_money,
    format_pct,
    format_timestamp_utc,
    is_stale,
    md_escape,
    money_card,
    snapshot_age,
)
from dashboards.freshness import published_or_stop
from dashboards.label_figures import label_figures
from dashboards.navigation import pages_for
from dashboards.session import allowed, engine, require
from dashboards.tenant_prefs import tenant_preferences
from operational.permissions import Resource


def render() -> None:
    """Lay out the label dashboard for the logged-in user (stops the run when they may not see it)."""
    user = require(Resource.ANALYTICS)
    st.title(md_escape(user.tenant_name))
    # What this user may see (operational/permissions.py decides; the page only lays out)
    shows_revenue = allowed(user, Resource.REVENUE)
    shows_receivables = allowed(user, Resource.RECEIVABLES)
    shows_earnings = allowed(user, Resource.ARTIST_EARNINGS)
    shows_performers = shows_earnings or allowed(user, Resource.ARTIST_PERFORMANCE)
    shows_projects = allowed(user, Resource.PROJECTS)
    shows_activity = allowed(user, Resource.AUDIT_LOG)
    links_roster = any(page.url_path == "roster" for page in pages_for(user.actor()))

    query = {key: st.query_params.get(key) for key in filters.QUERY_KEYS if key in st.query_params}
    if not shows_performers:  # no per-artist view for this role: an artist in the URL is ignored
        query.pop(filters.PARAM_ARTIST, None)
    data = published_or_stop(
        user.tenant_id, lambda: queries.label_dashboard(user.tenant_id, query),
        damaged="Your analytics could not be loaded right now (the published version is damaged); "
                "it is repaired by the next refresh.",
        unavailable="Your analytics could not be loaded right now. Please try again after the next refresh.",
        empty="No analytics have been published for your organization yet. "
              "They appear here after the next data refresh.",
    )
    queries.prefetch_pages(user.tenant_id)  # the projects and data-quality pages' data, in the background

    prefs = tenant_preferences(engine(), user.actor())
    currency, locale = data.base_currency, prefs.locale
    refreshed_at = data.meta.get("refreshed_at")
    now = dt.datetime.now(dt.timezone.utc)
    threshold = get_settings().freshness_hours
    if is_stale(refreshed_at, now, threshold):
        st.warning(
            f"Stale data: the last refresh was {format_age(snapshot_age(refreshed_at, now))} ago, more than the "
            f"{threshold:g} hours it should take. These figures may be out of date.",
            icon=":material/schedule:",
        )
    st.caption(f"As of {format_date(data.as_of)} · refreshed {format_local_time(refreshed_at, prefs.time_zone)}")


    def snapshot_details() -> None:
        with st.expander("Snapshot details"):
            st.markdown(
                f"- Version: `{data.version}`\n"
                f"- Refreshed (UTC): {format_timestamp_utc(refreshed_at)}\n"
                f"- As-of date: {format_date(data.as_of)}\n"
                f"- Base currency: {md_escape(currency)}\n"
                f"- Stale after: {threshold:g} hours"
            )


    if not data.has_bookings:
        st.info(
            "No bookings yet. Revenue, bookings and top performers appear here once your team "
            "records bookings and the data is refreshed.",
            icon=":material/event_busy:",
        )
        snapshot_details()
        st.stop()

    # ------------------------------------------------------------------------------ filters (URL)
    chosen = data.filters
    shared = filters.to_query(chosen)
    for key in filters.QUERY_KEYS:  # the URL says what is shown: invalid or foreign values are dropped
        if key in st.query_params and st.query_params.get(key) != shared.get(key):
            del st.query_params[key]
    st.query_params.update(shared)
    if st.session_state.get("lf_seen") != shared:  # first run, or the URL changed: widgets follow it
        st.session_state.update(lf_period=chosen.preset, lf_range=(chosen.start, chosen.end),
                                lf_types=list(chosen.booking_types), lf_artists=list(chosen.artist_ids), lf_seen=shared)


    def apply_filters() -> None:
        state = st.session_state
        preset = state.get("lf_period") or filters.DEFAULT_PRESET
        if preset == "custom":
            picked = tuple(state.get("lf_range") or ())
            start, end = picked if len(picked) == 2 else (chosen.start, chosen.end)
        else:
            start, end = filters.preset_range(preset, data.as_of)
        wanted = filters.Filters(preset, start, end, tuple(state.get("lf_types") or ()),
                                 tuple(state.get("lf_artists") or ()))
        for key in filters.QUERY_KEYS:
            if key in st.query_params:
                del st.query_params[key]
        st.query_params.update(filters.to_query(wanted))


    with st.container(border=True):
        period_col, range_col = st.columns([1, 2])
        period_col.selectbox("Period", list(filters.PRESETS), format_func=filters.PRESETS.get, key="lf_period",
                             on_change=apply_filters)
        if st.session_state.get("lf_period") == "custom":
            range_col.date_input("Dates", key="lf_range", on_change=apply_filters, format="YYYY-MM-DD",
                                 min_value=filters.add_months(data.as_of, -12 * filters.MAX_YEARS_BACK),
                                 max_value=filters.add_months(data.as_of, 12 * filters.MAX_YEARS_AHEAD))
        else:
            range_col.caption(f"{filters.period_caption(chosen.start, chosen.end)}")
        type_col, artist_col = st.columns(2)
        type_col.multiselect("Booking types", list(data.booking_types), format_func=charts.booking_type_label,
                             key="lf_types", on_change=apply_filters, placeholder="All booking types")
        if shows_performers:
            artist_col.multiselect("Artists", list(data.artists), format_func=lambda a: data.artists.get(a, a),
                                   key="lf_artists", on_change=apply_filters, placeholder="All artists")

    prior, last_year = data.prior, data.last_year
    st.caption(
        f"Period {filters.period_caption(chosen.start, chosen.end)} · compared with the prior period "
        f"{filters.period_caption(prior.start, prior.end)} and the same period last year "
        f"{filters.period_caption(last_year.start, last_year.end)}"
    )
    # per-artist money needs the artist-earnings permission: with an artist filter, revenue needs it too
    money_ok = not chosen.artist_ids or shows_earnings
    current = data.current
    VS_PRIOR, VS_LAST_YEAR = "vs prior", "vs last year"


    def windows_help(describe) -> str:
        return (f"Prior period ({filters.period_caption(prior.start, prior.end)}): {describe(prior)}. "
                f"Same period last year ({filters.period_caption(last_year.start, last_year.end)}): "
                f"{describe(last_year)}.")


    def kpi(label: str, value: str, delta: str | None, year_delta: str | None, help_text: str,
            inverse: bool = False) -> dict:
        return {"label": label, "value": value, "delta": delta, "year_delta": year_delta, "help": help_text,
                "inverse": inverse}


    cards = []
    if shows_revenue and money_ok:
        compact, full = money_card(current.recognized_revenue, currency, locale)
        cards.append(kpi(
            "Recognized revenue", compact,
            format_delta_pct(change_fraction(current.recognized_revenue, prior.recognized_revenue), VS_PRIOR),
            format_delta_pct(change_fraction(current.recognized_revenue, last_year.recognized_revenue), VS_LAST_YEAR),
            f"{full}: completed bookings with a service date in the period. "
            + windows_help(lambda p: format_money(p.recognized_revenue, currency, locale))))
    cards.append(kpi(
        "Bookings", format_count(current.bookings),
        format_delta_pct(change_fraction(current.bookings, prior.bookings), VS_PRIOR),
        format_delta_pct(change_fraction(current.bookings, last_year.bookings), VS_LAST_YEAR),
        f"{format_count(current.bookings)} bookings (any status but draft) starting in the period; "
        f"{format_count(current.completed_bookings)} completed bookings serviced in it. "
        + windows_help(lambda p: format_count(p.bookings))))
    cards.append(kpi(
        "Cancellation rate", format_pct(current.cancellation_rate, 1),
        format_delta_points(current.cancellation_rate, prior.cancellation_rate, VS_PRIOR),
        format_delta_points(current.cancellation_rate, last_year.cancellation_rate, VS_LAST_YEAR),
        f"{format_count(current.cancelled_bookings)} of {format_count(current.bookings)} bookings starting in the "
        "period were cancelled. " + windows_help(lambda p: format_pct(p.cancellation_rate, 1)), inverse=True))
    cards.append(kpi(
        "Active artists", format_count(current.active_artists),
        format_delta_count(current.active_artists, prior.active_artists, VS_PRIOR),
        format_delta_count(current.active_artists, last_year.active_artists, VS_LAST_YEAR),
        "Artists with a booking (not draft, not cancelled) starting in the period. "
        + windows_help(lambda p: format_count(p.active_artists))))
    if shows_receivables and money_ok:
        compact, full = money_card(current.outstanding_receivables, currency, locale)
        cards.append(kpi(
            "Receivables due", compact,
            format_delta_pct(change_fraction(current.outstanding_receivables, prior.outstanding_receivables), VS_PRIOR),
            format_delta_pct(change_fraction(current.outstanding_receivables, last_year.outstanding_receivables),
                             VS_LAST_YEAR),
            f"{full}: completed bookings serviced up to the end of the period and not yet fully paid "
            "(payment pending or partial, as known today). "
            + windows_help(lambda p: format_money(p.outstanding_receivables, currency, locale)), inverse=True))
    if shows_projects:
        kpis = data.kpis or {}
        as_of_note = (f"Counted as of {format_date(data.as_of)}, whatever the period: the published data keeps "
                      "no history of project and milestone status, so there is no earlier value to compare with.")
        cards.append(kpi("Active projects", format_count(kpis.get("active_projects")), None,
                         f"as of {format_date(data.as_of)}", "Projects in progress. " + as_of_note))
        cards.append(kpi("Overdue milestones", format_count(kpis.get("overdue_milestones")), None,
                         f"as of {format_date(data.as_of)}",
                         "Milestones due before the as-of date and not completed. " + as_of_note, inverse=True))
    CARDS_PER_ROW = 3  # a card keeps ~180 px at 1024 px with the sidebar open: no label or value cut
    for first in range(0, len(cards), CARDS_PER_ROW):
        for column, card in zip(st.columns(CARDS_PER_ROW), cards[first:first + CARDS_PER_ROW]):
            with column.container(border=True):
                st.metric(card["label"], card["value"], delta=card["delta"], help=card["help"],
                          delta_color="inverse" if card["inverse"] else "normal")
                st.caption(card["year_delta"] or f"no value {VS_LAST_YEAR}")
    if chosen.artist_ids and not shows_earnings and (shows_revenue or shows_receivables):
        st.info("Revenue of single artists is not available to your role: clear the artist filter to see revenue.")

    # ------------------------------------------------------------------------------------ charts
    first_month, last_month = chosen.start.replace(day=1), chosen.end.replace(day=1)
    aging = data.receivables_aging
    over_90 = aging.filter(pl.col("aging_bucket") == "90+")
    over_90_amount = over_90["outstanding_revenue"].sum() if over_90.height else 0
    over_90_text = format_money(over_90_amount, currency, locale)
    figures = label_figures(data, primary_colour(tenant_branding(user.tenant_id)), over_90_text,
                            "recognized_revenue" if shows_earnings else "completed_bookings")
    if shows_revenue and money_ok:
        st.subheader("Revenue")
        _, trend_last = charts.trend_window(data.monthly, data.pipeline_monthly, chosen.start, chosen.end)
        st.caption(
            "By month of service date. Recognized = completed bookings; pipeline = approved, confirmed or in progress"
            + (f", shown up to {trend_last:%B %Y}, the last month with pipeline." if trend_last > last_month else ".")
        )
        trend_tab, type_tab, currency_tab = st.tabs(["Recognized vs pipeline", "By booking type", "By currency of origin"])
        with trend_tab:
            st.plotly_chart(figures["revenue_trend"], width="stretch", key="revenue_trend")
        with type_tab:
            st.plotly_chart(figures["revenue_by_type"], width="stretch", key="revenue_by_type")
        with currency_tab:
            st.caption(f"Whole months {first_month:%B %Y} – {last_month:%B %Y}, every booking type and artist; "
                       f"converted to {md_escape(currency)} per booking.")
            st.plotly_chart(figures["revenue_by_currency"], width="stretch", key="revenue_by_currency")

    st.subheader("Bookings")
    bookings_col, funnel_col = st.columns(2)
    with bookings_col:
        st.plotly_chart(figures["bookings_trend"], width="stretch", key="bookings_trend")
    with funnel_col:
        st.plotly_chart(figures["booking_funnel"], width="stretch", key="booking_funnel")
        st.caption(f"Funnel: bookings by status starting in the 90 days up to {format_date(data.as_of)}, "
                   "every booking type and artist.")

    if shows_receivables:
        st.subheader("Receivables")
        if over_90.height and over_90_amount:
            st.warning(f"Over 90 days: {md_escape(over_90_text)} outstanding on "
                       f"{format_count(over_90['outstanding_bookings'].sum())} completed bookings.",
                       icon=":material/warning:")
        st.plotly_chart(figures["receivables_aging"], width="stretch", key="receivables_aging")
        st.caption(f"Completed, not fully paid bookings by days since their service date, as of "
                   f"{format_date(data.as_of)}; every booking type and artist.")

    if shows_projects or shows_activity:
        project_col, activity_col = st.columns(2) if shows_projects and shows_activity else (st.container(), None)
        if shows_projects:
            with project_col:
                st.subheader("Projects")
                st.plotly_chart(figures["project_status"], width="stretch", key="project_status")
        if shows_activity:
            with activity_col or st.container():
                st.subheader("Recent activity")
                activity = data.recent_activity
                if activity.is_empty():
                    st.info("No recorded changes yet.")
                else:
                    st.dataframe(
                        activity.select(
                            pl.Series("When", [format_local_time(t, prefs.time_zone) for t in activity["occurred_at"]]),
                            pl.col("actor_name").alias("Who"),
                            pl.col("summary").alias("What"),
                        ),
                        hide_index=True, width="stretch", key="recent_activity",
                    )

    if shows_performers:
        st.subheader("Top performers")
        st.caption(f"Artists by stage name, ranked by recognized revenue of completed bookings serviced in "
                   f"{filters.period_caption(chosen.start, chosen.end)} (top {queries.TOP_PERFORMERS_LIMIT}).")
        top = data.top_performers
        if top.is_empty():
            st.info("No completed bookings in this period.")
        else:
            event = st.plotly_chart(figures["top_performers_chart"], width="stretch", key="top_performers_chart",
                                    on_select="rerun" if links_roster else "ignore",
                                    selection_mode="points")
            points = (getattr(getattr(event, "selection", None), "points", None) or []) if links_roster else []
            if points and points[0].get("customdata") in data.artists:
                st.switch_page("views/09_roster.py", query_params={"artist": points[0]["customdata"]})
            table = top.select(
                "rank",
                pl.col("artist_label").alias("artist"),
                *([pl.Series("revenue", [format_money(v, currency, locale) for v in top["recognized_revenue"]])]
                  if shows_earnings else []),
                "completed_bookings",
                *([pl.Series("link", [f"roster?artist={a}" for a in top["artist_id"]])] if links_roster else []),
            )
            st.dataframe(
                table, hide_index=True, width="stretch", key="top_performers",
                column_config={
                    "rank": st.column_config.NumberColumn("Rank", format="%d", width="small"),
                    "artist": st.column_config.TextColumn("Artist"),
                    "revenue": st.column_config.TextColumn(f"Recognized revenue ({currency})"),
                    "completed_bookings": st.column_config.NumberColumn("Completed bookings", format="%d"),
                    "link": st.column_config.LinkColumn("Open", display_text="Open in roster"),
                },
            )

    snapshot_details()
