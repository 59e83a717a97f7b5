"""The organization settings page's "API access" section: API keys (create, shown once; list;
revoke) and the calendar-feed URL. Layout only: the rules are operational/api_keys.py and
operational/feeds.py, which check the permissions themselves."""
from __future__ import annotations

import datetime as dt

import streamlit as st

from auditoryx.errors import AuditoryxError
from dashboards.session import engine
from operational import api_keys, feeds
from operational.permissions import API_SCOPES

SCOPE_HELP = {
    "analytics:read": "analytics, bookings, calendar, projects, roster, report exports (read)",
    "bookings:write": "create and change bookings, projects and milestones",
    "admin": "users, roster, organization settings, API keys, webhooks",
}


def render(actor, editable: bool) -> None:
    st.subheader("API access")
    st.caption("Integrations call the HTTP API with `Authorization: Bearer <key>`; a key's secret is shown once. "
               "See the README's HTTP API section.")
    keys = api_keys.list_keys(engine(), actor)
    if keys:
        st.dataframe([{"Name": key.name, "Key": f"{key.prefix}…", "Scopes": ", ".join(key.scopes),
                       "State": "active" if key.active else ("revoked" if key.revoked_at else "expired"),
                       "Last used": key.last_used_at, "Expires": key.expires_at, "Created": key.created_at}
                      for key in keys], hide_index=True, use_container_width=True)
    else:
        st.caption("No API keys yet.")
    if not editable:
        return
    with st.form("api_key_create", clear_on_submit=True):
        name = st.text_input("Key name", placeholder="e.g. accounting sync", max_chars=api_keys.MAX_NAME_LENGTH)
        scopes = st.multiselect("Scopes", list(API_SCOPES), default=["analytics:read"],
                                format_func=lambda scope: f"{scope} — {SCOPE_HELP.get(scope, '')}")
        expires = st.date_input("Expires (optional)", value=None, min_value=dt.date.today() + dt.timedelta(days=1))
        create = st.form_submit_button("Create API key")
    if create:
        try:
            expires_at = (dt.datetime.combine(expires, dt.time(), dt.timezone.utc) if expires else None)
            summary, secret = api_keys.create_key(engine(), actor, name=name, scopes=scopes, expires_at=expires_at)
        except AuditoryxError as exc:
            st.error(str(exc))
        else:
            st.success(f"Key {summary.name!r} created. Copy its secret now: it is not shown again.")
            st.code(secret, language=None)
    active = [key for key in keys if key.active]
    if active:
        with st.form("api_key_revoke"):
            chosen = st.selectbox("Revoke a key", active, format_func=lambda key: f"{key.name} ({key.prefix}…)")
            revoke = st.form_submit_button("Revoke at once")
        if revoke and chosen is not None:
            try:
                api_keys.revoke_key(engine(), actor, chosen.id)
            except AuditoryxError as exc:
                st.error(str(exc))
            else:
                st.success(f"Key {chosen.name!r} revoked: its next request is refused.")
                st.rerun()
    if st.button("New calendar-feed URL for the whole organization",
                 help="Calendar apps subscribe to it; the previous URL stops working."):
        try:
            _summary, token = feeds.rotate_feed(engine(), actor)
        except AuditoryxError as exc:
            st.error(str(exc))
        else:
            st.code(f"/feeds/{token}.ics  (on the API server, e.g. http://localhost:8000/feeds/{token}.ics)",
                    language=None)
