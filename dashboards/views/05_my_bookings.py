"""My bookings: what a creator or client may see of their own bookings (operational database)."""
from __future__ import annotations

import datetime as dt
import zoneinfo

import polars as pl
import streamlit as st

from dashboards.formatting import md_escape
from dashboards.session import engine, require
from operational.booking_reads import list_bookings
from operational.permissions import Resource

user = require(Resource.BOOKINGS)
st.title("My bookings")
st.caption(f"{md_escape(user.tenant_name)} · the bookings you are part of, from "
           "90 days ago onwards, in each booking's own time zone.")

since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=90)
lines = list_bookings(engine(), user.actor(), start=since)
if not lines:
    st.info("You have no bookings from the last 90 days or later.", icon=":material/event_busy:")
    st.stop()


def _local(moment: dt.datetime, zone: str) -> str:
    return moment.astimezone(zoneinfo.ZoneInfo(zone)).strftime("%a %d %b %Y %H:%M")


st.dataframe(
    pl.DataFrame({
        "When": [_local(line.start, line.timezone) for line in lines],
        "Until": [_local(line.end, line.timezone) for line in lines],
        "Time zone": [line.timezone for line in lines],
        "Title": [line.title for line in lines],
        "Artist": [line.artist_name for line in lines],
        "Type": [line.type.replace("_", " ").title() for line in lines],
        "Status": [line.status.replace("_", " ").title() for line in lines],
        "Location": [line.location or "" for line in lines],
    }),
    hide_index=True,
    width="stretch",
)
