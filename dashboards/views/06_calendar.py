"""Calendar: the bookings the user may see over a week or a month, by artist (operational database).

Times are shown in the organization's time zone; each booking's own zone is in its details and
in the .ics export. "Book this slot" hands the next free slot of the chosen artist to the booking
page (views/07_book.py) through ``st.session_state["booking_prefill"]``.
"""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import polars as pl
import streamlit as st
from streamlit.errors import StreamlitAPIException

from auditoryx.errors import AuditoryxError
from dashboards import charts
from dashboards.formatting import md_escape
from dashboards.session import allowed, engine, require
from operational.booking_rules import to_local
from operational.calendar import (
    calendar_entries,
    calendar_filters,
    calendar_range,
    next_free_slot,
    shift_day,
    tenant_time_zone,
)
from operational.ics import MEDIA_TYPE, artist_calendar_ics
from operational.permissions import Action, Resource

BOOK_PAGE = "views/07_book.py"
PREFILL_KEY = "booking_prefill"
VIEWS = {"Week": "week", "Month": "month"}

user = require(Resource.CALENDAR)
actor = user.actor()
db = engine()
zone = tenant_time_zone(db, actor)
now = dt.datetime.now(dt.timezone.utc)

st.title("Calendar")
st.caption(f"{md_escape(user.tenant_name)} · the bookings you may see, in the organization's time zone "
           f"({md_escape(zone)}).")

if "cal_date" not in st.session_state:
    st.session_state["cal_date"] = to_local(now, zone).date()


def _move(steps: int) -> None:
    view = VIEWS[st.session_state.get("cal_view", "Week")]
    st.session_state["cal_date"] = shift_day(view, st.session_state["cal_date"], steps)


filters = calendar_filters(db, actor)
artist_names = dict(filters.artists)
project_names = dict(filters.projects)

view_col, date_col, prev_col, next_col = st.columns([2, 2, 1, 1], vertical_alignment="bottom")
with view_col:
    view_label = st.radio("View", list(VIEWS), horizontal=True, key="cal_view")
with date_col:
    day = st.date_input("Go to date", key="cal_date", format="YYYY-MM-DD")
with prev_col:
    st.button("Previous", key="cal_prev", on_click=_move, args=(-1,), icon=":material/chevron_left:")
with next_col:
    st.button("Next", key="cal_next", on_click=_move, args=(1,), icon=":material/chevron_right:")

artist_col, project_col = st.columns(2)
with artist_col:
    artist_id = st.selectbox("Artist", list(artist_names), index=None, key="cal_artist",
                             format_func=lambda a: artist_names.get(a, a), placeholder="All artists")
with project_col:
    project_id = st.selectbox("Project", list(project_names), index=None, key="cal_project",
                              format_func=lambda p: project_names.get(p, p), placeholder="All projects")

view = VIEWS[view_label]
span = calendar_range(view, day or to_local(now, zone).date(), zone)
entries = calendar_entries(db, actor, span.start_utc, span.end_utc, artist_id=artist_id, project_id=project_id)

st.subheader(span.label)


def _when(moment: dt.datetime, booking_zone: str | None = None) -> str:
    return to_local(moment, booking_zone or zone).strftime("%a %d %b %Y %H:%M")


def _label(text: str) -> str:
    return text.replace("_", " ").capitalize()


if not entries:
    narrowed = " for this artist" if artist_id else ""
    narrowed += " in this project" if project_id else ""
    st.info(f"No bookings in this {view}{narrowed}.", icon=":material/event_busy:")
else:
    frame = pl.DataFrame({
        "artist": [e.artist_name for e in entries],
        "title": [e.title for e in entries],
        "status": [e.status for e in entries],
        "start": [e.local_start(zone) for e in entries],
        "end": [e.local_end(zone) for e in entries],
    }, schema={"artist": pl.String, "title": pl.String, "status": pl.String,
               "start": pl.Datetime("us"), "end": pl.Datetime("us")})
    start_local = dt.datetime.combine(span.first_day, dt.time())
    end_local = dt.datetime.combine(span.end_day, dt.time())
    st.plotly_chart(charts.calendar_figure(frame, start_local, end_local, zone), width="stretch",
                    key="calendar_timeline")
    st.dataframe(
        pl.DataFrame({
            "When": [_when(e.start) for e in entries],
            "Until": [_when(e.end) for e in entries],
            "Artist": [e.artist_name for e in entries],
            "Title": [e.title for e in entries],
            "Status": [_label(e.status) for e in entries],
            "Type": [_label(e.type) for e in entries],
            "Location": [e.location or ("Remote" if e.is_remote else "") for e in entries],
            "Project": [e.project_name or "" for e in entries],
            "Booking time zone": [e.timezone for e in entries],
        }),
        hide_index=True,
        width="stretch",
        key="calendar_table",
    )

by_id = {e.id: e for e in entries}
chosen = st.selectbox("Booking details", list(by_id), index=None, key="cal_booking",
                      format_func=lambda b: f"{_when(by_id[b].start)} · {by_id[b].title} · {by_id[b].artist_name}",
                      placeholder="Choose a booking", disabled=not entries)
if chosen in by_id:
    entry = by_id[chosen]
    with st.container(border=True):
        st.markdown(f"**{md_escape(entry.title)}**")
        details = [
            f"Artist: {md_escape(entry.artist_name)}",
            f"Status: {_label(entry.status)} · Type: {_label(entry.type)}",
            f"Local time: {_when(entry.start, entry.timezone)} – {_when(entry.end, entry.timezone)} "
            f"({md_escape(entry.timezone)})",
        ]
        if entry.timezone != zone:
            details.append(f"In {md_escape(zone)}: {_when(entry.start)} – {_when(entry.end)}")
        details.append(f"Location: {md_escape(entry.location or ('Remote' if entry.is_remote else '—'))}")
        if entry.project_name:
            details.append(f"Project: {md_escape(entry.project_name)}")
        st.markdown("\n".join(f"- {line}" for line in details))

# The artist the actions below are for: the filter's, else the chosen booking's.
focus_artist = artist_id or (by_id[chosen].artist_id if chosen in by_id else None)
focus_name = artist_names.get(focus_artist) or (by_id[chosen].artist_name if chosen in by_id else None)
may_book = allowed(user, Resource.BOOKINGS, Action.CREATE)
may_export = allowed(user, Resource.CALENDAR, Action.EXPORT)
if focus_artist and (may_book or may_export):
    st.subheader(md_escape(focus_name or "Artist"))
    book_col, export_col = st.columns(2)
    if may_book:
        with book_col:
            try:
                slot = next_free_slot(db, actor, focus_artist, after=max(now, span.start_utc))
            except AuditoryxError:
                slot = None
            if slot is None:
                st.caption("No free slot can be offered for this artist.")
            else:
                slot_local = to_local(slot, zone)
                st.caption(f"Next free hour: {slot_local:%a %d %b %Y %H:%M} ({md_escape(zone)})")
                if st.button("Book this slot", key="book_slot", icon=":material/event_available:"):
                    st.session_state[PREFILL_KEY] = {"artist_id": focus_artist, "start_local": slot_local,
                                                     "timezone": zone}
                    booking_page = Path(__file__).resolve().parents[1] / BOOK_PAGE
                    opened = False
                    if booking_page.exists():
                        try:
                            st.switch_page(BOOK_PAGE)
                            opened = True
                        except StreamlitAPIException:
                            opened = False
                    if not opened:
                        st.info("The slot is kept for the booking form, which is not available here yet.")
    if may_export:
        with export_col:
            slug = re.sub(r"[^a-z0-9]+", "-", (focus_name or "artist").lower()).strip("-") or "artist"
            try:
                ics = artist_calendar_ics(db, actor, focus_artist, start_utc=span.start_utc)
            except AuditoryxError:
                ics = None
            if ics is not None:
                st.download_button("Download .ics", data=ics, file_name=f"{slug}-bookings.ics", mime=MEDIA_TYPE,
                                   key="download_ics", icon=":material/download:",
                                   help=f"This artist's bookings from {span.first_day:%d %b %Y} onwards.")
elif not focus_artist and entries and (may_book or may_export):
    st.caption("Choose an artist (or a booking) to book their next free slot or download their calendar.")
