"""Roster: the organization's artists, add one, (de)activate — within the plan's artist limit.
Layout only: rules in operational/roster.py and operational/booking_rules.py (plan limits)."""
from __future__ import annotations

import polars as pl
import streamlit as st

from auditoryx.errors import AuditoryxError
from dashboards.session import allowed, engine, require
from operational import roster
from operational.permissions import Action, Resource

user = require(Resource.ROSTER)
actor = user.actor()
st.title("Roster")
usage = roster.roster_usage(engine(), actor)
limit_text = "no limit" if usage.limit is None else f"{usage.active_artists} of {usage.limit} active artists"
st.caption(f"Plan {usage.plan.replace('_', ' ').title()}: {limit_text}.")

artists = roster.list_artists(engine(), actor, include_inactive=True)
if artists:
    st.dataframe(pl.DataFrame({
        "Artist": [a.display_name for a in artists],
        "Genres": [", ".join(a.genres) for a in artists],
        "Skills": [", ".join(a.skills) for a in artists],
        "Rating": [None if a.rating is None else float(a.rating) for a in artists],
        "Bookings": [a.total_bookings for a in artists],
        "Active": [a.is_active for a in artists],
    }), hide_index=True, width="stretch")
else:
    st.info("No artists yet.", icon=":material/person_off:")


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


if allowed(user, Resource.ROSTER, Action.CREATE):
    with st.expander("Add an artist", icon=":material/person_add:"), st.form("add_artist", clear_on_submit=True):
        name = st.text_input("Name")
        stage_name = st.text_input("Stage name (optional)")
        email = st.text_input("Email (optional)")
        genres = st.text_input("Genres (comma-separated)")
        skills = st.text_input("Skills (comma-separated)")
        if st.form_submit_button("Add artist", type="primary"):
            try:
                added = roster.add_artist(engine(), actor, name=name, stage_name=stage_name or None,
                                          email=email or None, genres=_split(genres), skills=_split(skills))
            except AuditoryxError as exc:
                st.error(str(exc))
            else:
                st.success(f"Added {added.display_name}.")
                st.rerun()

if artists and (allowed(user, Resource.ROSTER, Action.DELETE) or allowed(user, Resource.ROSTER, Action.CREATE)):
    by_id = {a.id: a for a in artists}
    chosen = by_id[st.selectbox("Artist", list(by_id), key="roster_artist",
                                format_func=lambda aid: by_id[aid].display_name
                                + ("" if by_id[aid].is_active else " (inactive)"))]
    try:
        if chosen.is_active and allowed(user, Resource.ROSTER, Action.DELETE):
            if st.button("Deactivate", key="deactivate_artist"):
                roster.deactivate_artist(engine(), actor, chosen.id)
                st.rerun()
        elif not chosen.is_active and allowed(user, Resource.ROSTER, Action.CREATE):
            if st.button("Reactivate", key="activate_artist"):
                roster.activate_artist(engine(), actor, chosen.id)
                st.rerun()
    except AuditoryxError as exc:
        st.error(str(exc))
