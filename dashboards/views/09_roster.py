"""Roster: the organization's artists with filters, a per-artist view, bulk verification, add one,
(de)activate within the plan's artist limit. Layout only: rules in operational/roster.py (and
operational/roster_filters.py, operational/booking_rules.py), snapshot reads in
dashboards/roster_queries.py, figures in dashboards/artist_charts.py.

The filters and the open artist live in the URL query (``?genre=…&skill=…&verification=…&min_rating=…
&q=…`` and ``?artist=<id>``), so a view can be shared inside the tenant. The artist id is only
looked up among the logged-in tenant's artists: another tenant's id and an unknown one read alike."""
from __future__ import annotations

import datetime as dt
import decimal
import zoneinfo

import polars as pl
import streamlit as st

from auditoryx.errors import AuditoryxError
from dashboards import artist_charts, queries, roster_queries
from dashboards.branding import primary_colour, tenant_branding
from auditoryx.settings import get_settings
from dashboards.formatting import (
    NOT_AVAILABLE,
    format_age,
    format_count,
    format_date,
    format_local_time,
    format_money,
    format_timestamp_utc,
    is_stale,
    md_escape,
    money_card,
    snapshot_age,
    status_label,
)
from dashboards.freshness import follow_new_versions
from dashboards.session import allowed, engine, require
from dashboards.tenant_prefs import tenant_preferences
from operational import roster
from operational import roster_filters as rf
from operational.permissions import Action, Resource

ARTIST_KEY = "artist"
NOT_FOUND = "This artist is not on your organization's roster."
FLASH_KEY = "roster_flash"
_WIDGETS = {rf.GENRE: "roster_f_genre", rf.SKILL: "roster_f_skill", rf.VERIFICATION: "roster_f_verification",
            rf.MIN_RATING: "roster_f_rating", rf.SEARCH: "roster_f_q"}

user = require(Resource.ROSTER)
actor = user.actor()
shows_earnings = allowed(user, Resource.ARTIST_EARNINGS)
shows_performance = shows_earnings or allowed(user, Resource.ARTIST_PERFORMANCE)
shows_bookings = allowed(user, Resource.BOOKINGS)

st.title("Roster")
usage = roster.roster_usage(engine(), actor)
limit_text = "no limit" if usage.limit is None else f"{usage.active_artists} of {usage.limit} active artists"
st.caption(f"Plan {usage.plan.replace('_', ' ').title()}: {limit_text}.")
flash = st.session_state.pop(FLASH_KEY, None)
if flash:
    st.success(flash, icon=":material/verified:")



def _tags(values) -> str:
    return ", ".join(values) or NOT_AVAILABLE


def _rating(value) -> str:
    return NOT_AVAILABLE if value is None else f"{decimal.Decimal(value):.2f}"


def _local_start(line) -> str:
    start = line.start if line.start.tzinfo else line.start.replace(tzinfo=dt.timezone.utc)
    try:
        zone = zoneinfo.ZoneInfo(line.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = dt.timezone.utc
    return f"{start.astimezone(zone):%Y-%m-%d %H:%M} {line.timezone}"


def _open(artist_id: str | None) -> None:
    if artist_id is None:
        st.query_params.pop(ARTIST_KEY, None)
    else:
        st.query_params[ARTIST_KEY] = artist_id


# ------------------------------------------------------------------------------ one artist


def _freshness(data: roster_queries.ArtistAnalytics, zone: str) -> None:
    """The stale-data banner and the refresh time in the organization's zone (version in details)."""
    refreshed_at = data.meta.get("refreshed_at")
    now = dt.datetime.now(dt.timezone.utc)
    threshold = get_settings().freshness_hours
    if is_stale(refreshed_at, now, threshold):
        st.warning(f"Stale data: the last refresh was {format_age(snapshot_age(refreshed_at, now))} ago, more than "
                   f"the {threshold:g} hours it should take. These figures may be out of date.",
                   icon=":material/schedule:")
    st.caption(f"As of {format_date(data.as_of)} · refreshed {format_local_time(refreshed_at, zone)}")


def _snapshot_details(data: roster_queries.ArtistAnalytics) -> None:
    with st.expander("Snapshot details"):
        st.markdown(f"- Version: `{data.version}`\n"
                    f"- Refreshed (UTC): {format_timestamp_utc(data.meta.get('refreshed_at'))}\n"
                    f"- As-of date: {format_date(data.as_of)}\n"
                    f"- Base currency: {md_escape(data.base_currency)}")


def _lifetime(data: roster_queries.ArtistAnalytics, locale: str) -> None:
    row = data.lifetime or {}
    # two cards a row: four in one row cut their values at 1024 px with the sidebar open
    cards = iter([*st.columns(2), *st.columns(2)])
    next(cards).metric("Completed bookings", format_count(row.get("completed_bookings", 0)), border=True,
                       help="Lifetime: completed bookings over all service dates.")
    if shows_earnings:
        compact, full = money_card(row.get("recognized_revenue", 0), data.base_currency, locale)
        next(cards).metric("Recognized revenue", compact, border=True,
                           help=f"{full}: lifetime, in {data.base_currency} (converted at each booking's date).")
    next(cards).metric("Hours delivered", f"{float(row.get('hours_delivered') or 0):,.1f}", border=True)
    next(cards).metric("Last service", format_date(row.get("last_service_date")), border=True,
                       help=f"First service: {format_date(row.get('first_service_date'))}.")


def _performance(artist: roster.ArtistSummary, prefs) -> None:
    try:
        data = roster_queries.artist_analytics(user.tenant_id, artist.id)
    except queries.PublishedSnapshotDamaged as damaged:
        st.error("Analytics could not be loaded right now (the published version is damaged); it is repaired by "
                 "the next refresh.", icon=":material/build:")
        follow_new_versions(user.tenant_id, damaged.version)
        return
    except queries.DashboardUnavailable:
        st.error("Analytics could not be loaded right now. Please try again after the next refresh.")
        return
    follow_new_versions(user.tenant_id, None if data is None else data.version)
    if data is None:
        st.info("No analytics have been published for your organization yet. Performance appears here after the "
                "next data refresh.", icon=":material/hourglass_empty:")
        return
    _freshness(data, prefs.time_zone)
    st.subheader("Lifetime totals")
    st.caption("Completed bookings over all service dates"
               + (f"; amounts in {data.base_currency}." if shows_earnings else "."))
    if data.lifetime is None:
        st.info("This artist is not in the last refresh yet (added since); totals appear after the next refresh.")
    _lifetime(data, prefs.locale)
    st.subheader("Monthly performance")
    series = roster_queries.monthly_series(data.monthly, data.as_of)
    st.caption(f"By month of service date, {series['month'].min():%B %Y} – {series['month'].max():%B %Y}"
               f" (at most the last {roster_queries.MAX_MONTHS} months).")
    st.plotly_chart(artist_charts.performance_figure(series, data.base_currency if shows_earnings else None,
                                                     accent=primary_colour(tenant_branding(user.tenant_id))),
                    width="stretch", key="artist_performance")
    _snapshot_details(data)


def _bookings(artist: roster.ArtistSummary, locale: str) -> None:
    st.subheader("Bookings")
    lines = roster.artist_bookings(engine(), actor, artist.id)
    if not lines:
        st.info("No bookings for this artist yet.", icon=":material/event_busy:")
        return
    st.caption(f"Latest first (at most {roster.ARTIST_BOOKINGS_LIMIT}); start in each booking's time zone.")
    columns = {
        "Start": [_local_start(line) for line in lines],
        "Title": [line.title for line in lines],
        "Type": [status_label(line.type) for line in lines],
        "Status": [status_label(line.status) for line in lines],
        "Location": [("Remote" if line.is_remote else line.location) or NOT_AVAILABLE for line in lines],
    }
    if shows_earnings:
        columns["Amount"] = [format_money(line.amount, line.currency, locale) for line in lines]
        columns["Payment"] = [status_label(line.payment_status) for line in lines]
    st.dataframe(pl.DataFrame(columns, schema={name: pl.String for name in columns}), hide_index=True,
                 width="stretch", key="artist_bookings")


def artist_view(artist: roster.ArtistSummary) -> None:
    if st.button("All artists", key="roster_back", icon=":material/arrow_back:"):
        _open(None)
        st.rerun()
    st.header(md_escape(artist.display_name))
    facts = [f"**Verification:** {status_label(artist.verification_status)}",
             f"**Rating:** {_rating(artist.rating)}", "**Active**" if artist.is_active else "**Inactive**"]
    if artist.stage_name:
        facts.insert(0, f"**Name:** {md_escape(artist.name)}")
    st.markdown(" · ".join(facts))
    st.markdown(f"**Genres:** {md_escape(_tags(artist.genres))} · **Skills:** {md_escape(_tags(artist.skills))}")
    prefs = tenant_preferences(engine(), actor)
    if shows_performance:
        _performance(artist, prefs)
    if shows_bookings:
        _bookings(artist, prefs.locale)


wanted = st.query_params.get(ARTIST_KEY)
if wanted is not None:
    try:
        opened = roster.get_artist(engine(), actor, wanted)
    except roster.NotFoundError:
        opened = None
    if opened is not None:
        artist_view(opened)
        st.stop()
    st.warning(NOT_FOUND, icon=":material/person_off:")  # unknown or another tenant's: the same words
    if st.button("All artists", key="roster_back_missing", icon=":material/arrow_back:"):
        _open(None)
        st.rerun()

# ------------------------------------------------------------------------------ the roster


def _completed_bookings() -> dict[str, int] | None:
    """Each artist's completed bookings in the tenant's snapshot; None when nothing is published
    or the snapshot cannot be read (the list still shows, without the column)."""
    try:
        return roster_queries.completed_bookings_by_artist(user.tenant_id)
    except queries.DashboardUnavailable:
        return None


artists = roster.list_artists(engine(), actor, include_inactive=True)
by_id = {a.id: a for a in artists}
if not artists:
    st.info("No artists yet.", icon=":material/person_off:")
else:
    available = rf.options(artists)
    from_url = rf.within_options(rf.parse_query({key: st.query_params.get_all(key) for key in rf.QUERY_KEYS}),
                                 available)
    initial = {rf.GENRE: list(from_url.genres), rf.SKILL: list(from_url.skills),
               rf.VERIFICATION: list(from_url.verification),
               rf.MIN_RATING: float(from_url.min_rating or 0), rf.SEARCH: from_url.search}
    for key, widget in _WIDGETS.items():  # the URL sets the widgets when the page opens
        if widget not in st.session_state:
            st.session_state[widget] = initial[key]
    top = st.columns([2, 1, 1])
    search = top[0].text_input("Search name or stage name", key=_WIDGETS[rf.SEARCH], max_chars=rf.MAX_SEARCH_LENGTH)
    verification = top[1].multiselect("Verification", rf.VERIFICATION_STATUSES, key=_WIDGETS[rf.VERIFICATION],
                                      format_func=status_label)
    min_rating = top[2].number_input("Minimum rating", min_value=0.0, max_value=5.0, step=0.5, format="%.1f",
                                     key=_WIDGETS[rf.MIN_RATING], help="0 = any rating")
    tags = st.columns(2)
    genres = tags[0].multiselect("Genres", available.genres, key=_WIDGETS[rf.GENRE], placeholder="Any genre")
    skills = tags[1].multiselect("Skills", available.skills, key=_WIDGETS[rf.SKILL], placeholder="Any skill")
    filters = rf.parse_query({rf.GENRE: genres, rf.SKILL: skills, rf.VERIFICATION: verification,
                              rf.MIN_RATING: str(min_rating), rf.SEARCH: search})
    wanted_query = rf.to_query(filters)
    for key in rf.QUERY_KEYS:  # the URL follows the widgets (shareable inside the tenant)
        if key in wanted_query:
            value = wanted_query[key]
            if (st.query_params.get_all(key) if isinstance(value, list) else st.query_params.get(key)) != value:
                st.query_params[key] = value
        elif key in st.query_params:
            del st.query_params[key]

    shown = rf.apply(artists, filters)
    st.caption(f"{format_count(len(shown))} of {format_count(len(artists))} artists"
               + ("" if filters.is_empty else " match the filters") + ".")
    if shown:
        columns = {
            "Artist": [a.display_name for a in shown],
            "Name": [a.name for a in shown],
            "Genres": [", ".join(a.genres) for a in shown],
            "Skills": [", ".join(a.skills) for a in shown],
            "Verification": [status_label(a.verification_status) for a in shown],
            "Rating": [None if a.rating is None else float(a.rating) for a in shown],
        }
        completed = _completed_bookings() if shows_performance else None
        if completed is not None:  # from the published snapshot, as the artist's own page
            columns["Completed bookings"] = [completed.get(a.id, 0) for a in shown]
        columns["Active"] = [a.is_active for a in shown]
        st.dataframe(pl.DataFrame(columns), hide_index=True, width="stretch", key="roster_table",
                     column_config={"Rating": st.column_config.NumberColumn(format="%.2f")})
        if completed is not None:
            st.caption("Completed bookings: from the published snapshot (as of its date), as on each artist's page.")
        shown_ids = {a.id: a for a in shown}
        picked = st.selectbox("Open an artist", list(shown_ids), index=None, key="roster_open",
                              format_func=lambda aid: shown_ids[aid].display_name, placeholder="Choose an artist")
        if picked is not None:
            st.session_state.pop("roster_open", None)
            _open(picked)
            st.rerun()
    else:
        st.info("No artist matches these filters.", icon=":material/filter_alt_off:")

    if shown and roster.may_set_verification(actor):
        with st.expander("Update verification", icon=":material/verified_user:"), \
                st.form("roster_verification", clear_on_submit=True):
            chosen = st.multiselect("Artists", [a.id for a in shown], key="verify_artists",
                                    format_func=lambda aid: by_id[aid].display_name,
                                    help="Among the artists the filters show.")
            status = st.selectbox("New status", rf.VERIFICATION_STATUSES, key="verify_status", format_func=status_label)
            if st.form_submit_button("Update verification", type="primary"):
                try:
                    result = roster.set_verification(engine(), actor, chosen, status)
                except AuditoryxError as exc:
                    st.error(str(exc))
                else:
                    note = f"{status_label(result.status)}: {format_count(len(result.changed))} artist(s) updated"
                    if result.unchanged:
                        note += f", {format_count(len(result.unchanged))} already {status_label(result.status).lower()}"
                    st.session_state[FLASH_KEY] = note + "."
                    st.rerun()


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


if allowed(user, Resource.ROSTER, Action.CREATE):
    with st.expander("Add an artist", icon=":material/person_add:"), st.form("add_artist", clear_on_submit=True):
        name = st.text_input("Name")
        stage_name = st.text_input("Stage name (optional)")
        email = st.text_input("Email (optional)")
        genres_text = st.text_input("Genres (comma-separated)")
        skills_text = st.text_input("Skills (comma-separated)")
        if st.form_submit_button("Add artist", type="primary"):
            try:
                added = roster.add_artist(engine(), actor, name=name, stage_name=stage_name or None,
                                          email=email or None, genres=_split(genres_text), skills=_split(skills_text))
            except AuditoryxError as exc:
                st.error(str(exc))
            else:
                st.success(f"Added {added.display_name}.")
                st.rerun()

if artists and (allowed(user, Resource.ROSTER, Action.DELETE) or allowed(user, Resource.ROSTER, Action.CREATE)):
    chosen_artist = by_id[st.selectbox("Artist", list(by_id), key="roster_artist",
                                       format_func=lambda aid: by_id[aid].display_name
                                       + ("" if by_id[aid].is_active else " (inactive)"))]
    try:
        if chosen_artist.is_active and allowed(user, Resource.ROSTER, Action.DELETE):
            if st.button("Deactivate", key="deactivate_artist"):
                roster.deactivate_artist(engine(), actor, chosen_artist.id)
                st.rerun()
        elif not chosen_artist.is_active and allowed(user, Resource.ROSTER, Action.CREATE):
            if st.button("Reactivate", key="activate_artist"):
                roster.activate_artist(engine(), actor, chosen_artist.id)
                st.rerun()
    except AuditoryxError as exc:
        st.error(str(exc))
